"""Hundreds of generations through the job runner, resumable through a journal.

Every request is written to the journal (an SQLite file) before it is sent, so if this
script is interrupted (Ctrl-C, a crash, a reboot), running the same command again reports
what finished, resumes polling what was submitted and submits only what never was: no video
is paid for twice; "taken from the journal" counts the requests the rerun did not submit
itself (finished before, or submitted before and only polled now). Ctrl-C stops it with a
one-line hint, no traceback. Runs against a local in-process emulator when PIXVERSE_API_KEY
is unset::

    python examples/batch.py --count 300 --journal batch.sqlite
    python examples/batch.py --count 300 --journal batch.sqlite   # again: all from the journal

(A fresh in-process emulator does not know the videos of an earlier run; to try an
interruption against the emulator, serve one with ``pixverse emulator --port 8000`` and set
PIXVERSE_BASE_URL=http://127.0.0.1:8000 and PIXVERSE_API_KEY=test-key.)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import time
from collections.abc import AsyncIterator

from pixverse_async import JournalLockedError, PixVerse, PollPolicy
from pixverse_async.batch.runner import Progress
from pixverse_async.emulator import Emulator
from pixverse_async.models import TextToVideo

SUBJECTS = ("a lighthouse", "a paper boat", "a red kite", "a fox", "a city at night")
MOODS = ("at dawn", "in the rain", "under the stars", "in autumn")


@contextlib.asynccontextmanager
async def open_client() -> AsyncIterator[PixVerse]:
    """The real API when PIXVERSE_API_KEY is set, else a client on a local emulator."""
    if os.environ.get("PIXVERSE_API_KEY"):
        async with PixVerse() as client:
            yield client
        return
    fast = PollPolicy(first_delay=0.3, interval=0.1, factor=1.5, max_delay=0.5)
    async with (
        Emulator(api_keys={"example-key"}, generation_seconds=0.3) as emu,
        PixVerse(api_key="example-key", base_url=emu.base_url, poll=fast) as client,
    ):
        print(f"PIXVERSE_API_KEY is not set: using a local emulator at {emu.base_url}")
        yield client


def requests(count: int) -> list[TextToVideo]:
    """``count`` different text-to-video requests (the cheapest settings)."""

    def prompt(i: int) -> str:
        return f"{SUBJECTS[i % len(SUBJECTS)]} {MOODS[i // len(SUBJECTS) % len(MOODS)]}, take {i}"

    return [
        TextToVideo(prompt=prompt(i), model="v5", duration=5, quality="360p", aspect_ratio="16:9")
        for i in range(count)
    ]


async def main(count: int, journal: str, concurrency: int) -> int:
    last_print = 0.0

    def on_progress(p: Progress) -> None:
        nonlocal last_print
        if time.monotonic() - last_print > 1.0:
            last_print = time.monotonic()
            flying = p.running + p.submitting
            print(f"  {p.done}/{count} done, {flying} in flight, {p.queued} queued")

    states: collections.Counter[str] = collections.Counter()
    resumed = 0
    async with open_client() as client:
        runner = client.runner(concurrency=concurrency, journal=journal, on_progress=on_progress)
        async with runner.run(requests(count)) as outcomes:
            async for outcome in outcomes:  # in completion order
                states[outcome.state.value] += 1
                resumed += outcome.resumed
                if not outcome.ok:
                    print(f"  #{outcome.index} {outcome.state.value}: {outcome.error_message}")
    print(
        f"{count} jobs: {states['succeeded']} succeeded, {states['failed']} failed, "
        f"{states['unknown']} unknown; {resumed} taken from the journal {journal}"
    )
    return 0 if states["succeeded"] == count else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="how many jobs (default 200)")
    parser.add_argument("--journal", default="batch-example.sqlite", help="journal file")
    parser.add_argument("--concurrency", type=int, default=32, help="jobs in flight at most")
    args = parser.parse_args()
    try:
        code = asyncio.run(main(args.count, args.journal, args.concurrency))
    except KeyboardInterrupt:  # asyncio.run cancelled the run: the journal is closed, intact
        print(f"interrupted: run the same command again to resume (journal {args.journal})")
        code = 130
    except JournalLockedError as exc:  # another run (or process) has this journal open
        print(f"error: {exc}; wait for it to end, or pass another --journal")
        code = 1
    raise SystemExit(code)
