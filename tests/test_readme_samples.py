"""Every Python sample of README.md, run as pasted in a fresh interpreter against the emulator.

Each sample is written to a file as it stands in README.md and run with ``PIXVERSE_API_KEY``,
``PIXVERSE_BASE_URL`` and ``PIXVERSE_POLL_INTERVAL`` pointing at an emulator this test serves
(and, for a sample that reads ``DATABASE_URL``, that set to the PostgreSQL of ``tests/pg.py``:
skipped without one, failed under ``CI=true``; ``PIXVERSE_WEBHOOK_SECRET`` for one that reads
it), in a folder holding the files the README says the samples read (``cat.png``,
``dog.png``, ``room.png``, ``voice.mp3``). Nothing else is defined for them.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from pixverse_async.emulator import Emulator

from .conftest import API_KEY
from .test_upload_checks import id3, png

README = Path(__file__).resolve().parent.parent / "README.md"
_TEXT = README.read_text(encoding="utf-8")
_ALL = list(re.finditer(r"^(<!-- excerpt: .*? -->\n)?```python\n(.*?)^```$", _TEXT, re.S | re.M))
#: Blocks marked ``<!-- excerpt: why -->`` in README.md are parts of a larger program (a web
#: service, a database); they are counted here so that each one is a visible choice.
EXCERPTS = [m for m in _ALL if m.group(1)]
_FOUND = [m for m in _ALL if not m.group(1)]
SAMPLES = [m.group(2) for m in _FOUND]
#: Each sample's README line, for the test ids.
LINES = [_TEXT.count("\n", 0, m.start()) + 1 for m in _FOUND]
#: Only a guard against a hung sample; a run takes about a second.
HANG_GUARD_SECONDS = 120


def setup_files(folder: Path) -> None:
    """The files the README's samples read from the current folder."""
    for name, (width, height) in {
        "cat.png": (320, 180),
        "dog.png": (320, 240),
        "room.png": (640, 360),
    }.items():
        (folder / name).write_bytes(png(width, height))
    (folder / "voice.mp3").write_bytes(id3(b"\xff\xfb\x90\x64" + bytes(413)))


def test_the_readme_has_its_samples() -> None:
    assert len(SAMPLES) >= 4
    assert len(EXCERPTS) <= 4, "a new excerpt: make it a whole program instead"
    assert all("asyncio.run(main())" in sample for sample in SAMPLES)


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"README.md:{n}" for n in LINES])
async def test_a_readme_sample_runs_as_pasted(
    sample: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    setup_files(tmp_path)
    database: dict[str, str] = {}
    if "DATABASE_URL" in sample:  # a sample that needs PostgreSQL reads its URL from there
        database["DATABASE_URL"] = request.getfixturevalue("postgres_dsn")
    if "PIXVERSE_WEBHOOK_SECRET" in sample:
        database["PIXVERSE_WEBHOOK_SECRET"] = "whsec-readme-sample"
    script = tmp_path / "sample.py"
    script.write_text(sample, encoding="utf-8")
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.05) as emu:
        env = {
            **os.environ,
            "PIXVERSE_API_KEY": API_KEY,
            "PIXVERSE_BASE_URL": emu.base_url,
            "PIXVERSE_POLL_INTERVAL": "0.05",
            **database,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), HANG_GUARD_SECONDS)
        state = emu.state
    assert proc.returncode == 0, err.decode()
    if "client.videos.select_mask" in sample:  # the endpoint tour
        assert len(state.generations) == 11  # select_mask is not one
        printed = out.decode().split()
        saved = tmp_path / printed[0]
        assert saved.parent == tmp_path / "out" and saved.stat().st_size > 0
        assert printed[1] == "successful"
    if "PixVerse()" in sample:  # the samples using the environment did reach the emulator
        assert state.requests
