"""``pixverse emulator --port N``: serve the local PixVerse emulator until interrupted."""

from __future__ import annotations

import argparse

from ..emulator.__main__ import DEFAULT_API_KEY, add_arguments, config_from_args, serve
from .errors import EXIT_OK


async def run_emulator(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    if not args.api_keys and getattr(args, "api_key", None):
        args.api_keys = [args.api_key]  # `pixverse --api-key K emulator`
    await serve(config_from_args(args), args.host, args.port)
    return EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the emulator command (with the emulator's own options)."""
    emulator = commands.add_parser(
        "emulator",
        help="serve a local PixVerse emulator",
        description="Serve a faithful local PixVerse API with fault injection; point the SDK "
        "or this command at it with --base-url http://127.0.0.1:PORT and the key it accepts "
        f"(default: {DEFAULT_API_KEY}; choose with --api-key KEY). It prints both when it "
        "starts.",
    )
    add_arguments(emulator)
    emulator.set_defaults(run=run_emulator)
