"""The client a command talks through: the real API, a given URL, or an in-process emulator.

The API key comes from ``--api-key`` or ``$PIXVERSE_API_KEY``, the base URL from
``--base-url`` or ``$PIXVERSE_BASE_URL``. With ``--emulator`` the command starts an emulator
in the same process (any key works; nothing is charged) and stops it when it ends, so ids
it prints do not exist for the next command (the command says so).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator

from ..client import PixVerse
from ..constants import API_KEY_ENV
from ..emulator import Emulator
from ..emulator.__main__ import DEFAULT_API_KEY
from ..jobs import PollPolicy
from ..poll_env import fixed_poll
from .errors import UsageError

EMULATOR_KEY = "pixverse-emulator-key"
#: Commands that print ids or look ids up: with ``--emulator`` those ids live only as long as
#: the command's own emulator, so the command says so.
_ID_COMMANDS = frozenset({"generate", "mask", "upload", "status", "wait", "download"})
EPHEMERAL_IDS_NOTE = (
    "pixverse: note: --emulator starts a fresh emulator for this command alone; ids it prints "
    "do not exist for the next command (for a lasting one: `pixverse emulator` in another "
    f"terminal, then --base-url http://127.0.0.1:8000 --api-key {DEFAULT_API_KEY})"
)
#: How long a generation takes on the in-process emulator (``--emulator`` and ``demo``).
EMULATOR_GENERATION_SECONDS = 1.0
#: Polling suited to the in-process emulator's one-second generations.
EMULATOR_POLL = PollPolicy(
    first_delay=0.6, interval=0.2, factor=1.0, max_delay=0.2, jitter=0.0, timeout=120.0
)


def poll_policy(args: argparse.Namespace) -> PollPolicy | None:
    """The polling policy ``--poll-interval`` asks for (None: the client's default)."""
    interval: float | None = getattr(args, "poll_interval", None)
    return None if interval is None else fixed_poll(interval)


@contextlib.asynccontextmanager
async def emulated_client(
    poll: PollPolicy | None = None, *, resend_ambiguous: bool = True
) -> AsyncIterator[PixVerse]:
    """A client on a fresh in-process emulator; both stop when the block ends."""
    async with (
        Emulator(api_keys={EMULATOR_KEY}, generation_seconds=EMULATOR_GENERATION_SECONDS) as emu,
        PixVerse(
            api_key=EMULATOR_KEY,
            base_url=emu.base_url,
            poll=poll or EMULATOR_POLL,
            resend_ambiguous=resend_ambiguous,
        ) as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def open_client(args: argparse.Namespace) -> AsyncIterator[PixVerse]:
    """The client for a command's global options; closed when the block ends."""
    poll = poll_policy(args)
    resend: bool = getattr(args, "resend_ambiguous", True)
    if getattr(args, "emulator", False):
        if getattr(args, "command", None) in _ID_COMMANDS:
            print(EPHEMERAL_IDS_NOTE, file=sys.stderr)
        async with emulated_client(poll, resend_ambiguous=resend) as client:
            yield client
        return
    key = getattr(args, "api_key", None) or os.environ.get(API_KEY_ENV)
    if not key:
        raise UsageError(
            f"no API key: set {API_KEY_ENV}, pass --api-key KEY, "
            "or add --emulator to run against a local emulator"
        )
    async with PixVerse(
        api_key=key,
        base_url=getattr(args, "base_url", None),
        poll=poll,
        resend_ambiguous=resend,
    ) as client:
        yield client
