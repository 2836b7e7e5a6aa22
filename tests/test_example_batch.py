"""examples/batch.py interrupted with a real SIGINT, then resumed against the same service."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "batch.py"
KEY = "example-test-key"


def polled(emu: Emulator) -> int:
    """Videos whose status was asked for: the client polls only what its journal recorded as
    submitted (the journal itself is locked by the running example)."""
    return len({r.path for r in emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX)})


async def run_example(
    emu: Emulator, cwd: Path, *args: str, interrupt_at: int | None = None
) -> tuple[int, str]:
    """Run the example against ``emu``; with ``interrupt_at``, send SIGINT once it recorded
    that many requests as submitted. Return the exit code and everything it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXVERSE_")}
    env.update(PIXVERSE_API_KEY=KEY, PIXVERSE_BASE_URL=emu.base_url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error::ResourceWarning", str(EXAMPLE), *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    if interrupt_at is not None:
        while polled(emu) < interrupt_at and proc.returncode is None:
            await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
async def test_ctrl_c_prints_no_traceback_and_the_rerun_counts_what_the_journal_held(
    tmp_path: Path,
) -> None:
    args = ("--count", "6", "--concurrency", "6", "--journal", "jobs.sqlite")
    async with Emulator(api_keys={KEY}, generation_seconds=3600) as emu:
        code, out = await run_example(emu, tmp_path, *args, interrupt_at=6)
        assert code == 130, out
        assert "Traceback" not in out and "KeyboardInterrupt" not in out
        assert "interrupted: run the same command again to resume (journal jobs.sqlite)" in out
        assert len(emu.state.generations) == 6
        for generation in emu.state.generations.values():  # they all finish now
            generation.done_at = 0.0

        code, out = await run_example(emu, tmp_path, *args)
        assert code == 0, out
        # every one was submitted by the first run: this one only polled them
        assert "6 jobs: 6 succeeded, 0 failed, 0 unknown; 6 taken from the journal" in out
        assert len(emu.state.generations) == 6
