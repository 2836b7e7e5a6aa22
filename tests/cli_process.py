"""The ``pixverse`` command in a process of its own, as a user runs it, for the tests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def pixverse(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run ``python -m pixverse_async ARGS`` (this checkout's package); return its exit code,
    stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pixverse_async", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
