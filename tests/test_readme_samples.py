"""Every Python sample of README.md and docs/, run as pasted in a fresh folder against the
emulator.

Each sample is written to a file as it stands and run with ``PIXVERSE_API_KEY``,
``PIXVERSE_BASE_URL`` and ``PIXVERSE_POLL_INTERVAL`` pointing at an emulator this test serves
(and, for a sample that reads ``DATABASE_URL``, that set to the PostgreSQL of ``tests/pg.py``:
skipped without one, failed under ``CI=true``; ``PIXVERSE_WEBHOOK_SECRET`` for one that reads
it; ``TEMPORAL_ADDRESS``, the Temporal server of ``tests/temporal_server.py``, for one that
reads it), in a fresh folder holding the sample files the repository ships in
``examples/assets/`` (the pages say so). Nothing else is defined for them. A block that is only
a part of a larger program says so in visible text just above it (``*Excerpt, not a whole
program: ...*``); those are only compiled.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import os
import re
import shlex
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pixverse_async.emulator import Emulator

from .conftest import API_KEY

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "examples" / "assets"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(
    r"^(\*Excerpt, not a whole program: [^*]+\*\n\n)?```python\n(.*?)^```$", re.S | re.M
)


def _blocks() -> list[tuple[str, int, bool, str]]:
    """``(page, line, is_excerpt, code)`` of every Python block of the pages."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start(2))
            found.append((str(page.relative_to(ROOT)), line, bool(match.group(1)), match.group(2)))
    return found


_ALL = _blocks()
EXCERPTS = [(f"{page}:{line}", code) for page, line, excerpt, code in _ALL if excerpt]
_WHOLE = [(f"{page}:{line}", code) for page, line, excerpt, code in _ALL if not excerpt]
SAMPLES = [code for _, code in _WHOLE]
#: Only a guard against a hung sample; a run takes about a second.
HANG_GUARD_SECONDS = 120


@contextlib.asynccontextmanager
async def fresh_database(dsn: str) -> AsyncIterator[str]:
    """A new, empty database on the test server (a sample's tables and batch names are its own,
    as on a user's machine), dropped afterwards; yields its DSN."""
    import asyncpg

    name = "pixverse_sample_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def setup_files(folder: Path) -> None:
    """What a user does first, as the pages say: copy the sample files into the folder."""
    for asset in ASSETS.iterdir():
        if asset.suffix in {".png", ".wav"}:
            shutil.copy(asset, folder / asset.name)


def test_the_pages_have_their_samples() -> None:
    assert len(SAMPLES) >= 4
    assert len(EXCERPTS) <= 4, "a new excerpt: make it a whole program instead"
    assert all("asyncio.run(main())" in sample for sample in SAMPLES)
    for page in PAGES:  # an excerpt says so where a reader sees it, not in an HTML comment
        assert "<!-- excerpt" not in page.read_text(encoding="utf-8"), page


@pytest.mark.parametrize("where, code", EXCERPTS, ids=[w for w, _ in EXCERPTS])
def test_an_excerpt_is_valid_python(where: str, code: str) -> None:
    compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("sample", SAMPLES, ids=[w for w, _ in _WHOLE])
async def test_a_readme_sample_runs_as_pasted(
    sample: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        await _run_sample(sample, tmp_path, request, stack)


async def _run_sample(
    sample: str, tmp_path: Path, request: pytest.FixtureRequest, stack: contextlib.AsyncExitStack
) -> None:
    setup_files(tmp_path)
    database: dict[str, str] = {}
    if "DATABASE_URL" in sample:  # a sample that needs PostgreSQL reads its URL from there
        dsn = request.getfixturevalue("postgres_dsn")
        database["DATABASE_URL"] = await stack.enter_async_context(fresh_database(dsn))
    if "PIXVERSE_WEBHOOK_SECRET" in sample:
        database["PIXVERSE_WEBHOOK_SECRET"] = "whsec-readme-sample"
    if "TEMPORAL_ADDRESS" in sample:  # the Temporal sample: the session's server
        database["TEMPORAL_ADDRESS"] = request.getfixturevalue("temporal_address")
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


def _command_lines() -> list[tuple[str, str]]:
    """``(page:line, command)`` of every ``pixverse`` line of the pages' bash blocks that runs
    on its own against a service (not the PostgreSQL ones, nor the servers that run until
    stopped)."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```bash\n(.*?)^```$", text, re.S | re.M):
            line = text.count("\n", 0, match.start(1))
            for command in match.group(1).replace("\\\n", " ").splitlines():
                if not command.startswith("pixverse ") or "postgresql://" in command:
                    continue
                if re.search(r"pixverse (emulator|webhook listen|demo)", command):
                    continue
                found.append((f"{page.relative_to(ROOT)}:{line}", command))
    return found


COMMANDS = _command_lines()
#: The batch file the pages show (``jobs.jsonl``), as a user saves it.
_JOBS = re.search(
    r'```json\n(\{"kind".*?)```', "".join(page.read_text(encoding="utf-8") for page in PAGES), re.S
)


def test_the_pages_have_command_line_samples() -> None:
    assert len(COMMANDS) >= 5 and _JOBS is not None
    assert any(" --img-id cat.png" in command for _, command in COMMANDS)


@pytest.mark.parametrize("where, command", COMMANDS, ids=[w for w, _ in COMMANDS])
async def test_a_command_line_sample_runs_as_pasted(
    where: str, command: str, tmp_path: Path
) -> None:
    setup_files(tmp_path)
    assert _JOBS is not None
    (tmp_path / "jobs.jsonl").write_text(_JOBS.group(1), encoding="utf-8")
    args = shlex.split(command, comments=True)[1:]
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.05) as emu:
        env = {
            **os.environ,
            "PIXVERSE_API_KEY": API_KEY,
            "PIXVERSE_BASE_URL": emu.base_url,
            "PIXVERSE_POLL_INTERVAL": "0.05",
            "PYTHONPATH": str(ROOT),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pixverse_async", *args, cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), HANG_GUARD_SECONDS)
    assert proc.returncode == 0, f"{where}: {command}\n{out.decode()}\n{err.decode()}"


def test_readme_is_a_newcomers_page_whose_links_resolve() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 350
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert len(local) >= 10
    assert [link for link in local if not (ROOT / link).exists()] == []
