"""Every example runs against the emulator (PIXVERSE_API_KEY removed from its environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXVERSE_")}
    done = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(EXAMPLES / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_quickstart(tmp_path: Path) -> None:
    done = run_example("quickstart.py", "--out", "cat.mp4", cwd=tmp_path)
    assert "using a local emulator" in done.stdout
    assert (tmp_path / "cat.mp4").read_bytes()[4:8] == b"ftyp"


def test_batch_runs_hundreds_and_resumes_from_its_journal(tmp_path: Path) -> None:
    args = ("--count", "200", "--journal", "jobs.sqlite", "--concurrency", "50")
    first = run_example("batch.py", *args, cwd=tmp_path)
    assert "200 jobs: 200 succeeded, 0 failed, 0 unknown; 0 taken from the journal" in first.stdout
    again = run_example("batch.py", *args, cwd=tmp_path)
    assert "200 succeeded, 0 failed, 0 unknown; 200 taken from the journal" in again.stdout


def test_aiohttp_backend_selftest(tmp_path: Path) -> None:
    done = run_example("aiohttp_backend.py", "--selftest", cwd=tmp_path)
    assert "selftest passed" in done.stdout
    assert done.stdout.count("POST /videos -> 202") == 2
    assert "POST /videos (unknown img_id) -> 400" in done.stdout
    assert done.stdout.count("'finished_by': 'webhook'") == 2  # ended by the webhook route
    assert "POST /pixverse/webhook (unsigned) -> 401" in done.stdout


def test_every_example_is_tested() -> None:
    # temporal_batch.py needs a Temporal server: tests/test_temporal.py runs it
    tested = {
        "quickstart.py",
        "batch.py",
        "aiohttp_backend.py",
        "fastapi_app.py",
        "temporal_batch.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested
