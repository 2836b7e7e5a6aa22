"""``pixverse speakers``, ``pixverse restyles`` and ``pixverse balance``."""

from __future__ import annotations

import argparse

from .connect import open_client
from .errors import EXIT_OK
from .output import show_object, show_rows


async def run_speakers(args: argparse.Namespace) -> int:
    """List every TTS speaker (for lip sync)."""
    async with open_client(args) as client:
        rows = [
            {"speaker_id": s.speaker_id, "name": s.name} async for s in client.speakers.iterate()
        ]
    show_rows(args, ["speaker_id", "name"], rows)
    return EXIT_OK


async def run_restyles(args: argparse.Namespace) -> int:
    """List every restyle effect."""
    async with open_client(args) as client:
        rows = [
            {"restyle_id": e.restyle_id, "name": e.name, "thumbnail": e.thumbnail}
            async for e in client.restyles.iterate()
        ]
    show_rows(args, ["restyle_id", "name", "thumbnail"], rows)
    return EXIT_OK


async def run_balance(args: argparse.Namespace) -> int:
    """Show the account's credits."""
    async with open_client(args) as client:
        balance = await client.account.balance()
    show_object(
        args,
        {
            "account_id": balance.account_id,
            "credit_monthly": balance.credit_monthly,
            "credit_package": balance.credit_package,
            **balance.extra,
        },
    )
    return EXIT_OK


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the list and account commands."""
    for name, run, text in (
        ("speakers", run_speakers, "list the TTS speakers for lip sync"),
        ("restyles", run_restyles, "list the restyle effects"),
        ("balance", run_balance, "show the account's credits"),
    ):
        commands.add_parser(
            name, parents=[common], help=text, description=text[0].upper() + text[1:] + "."
        ).set_defaults(run=run)
