"""The spec-schema tests without the spec: a failure under ``CI=true``, a skip that says why
elsewhere (in pytest's summary)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_schema_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    missing = tmp_path / "no-spec-here"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "tests/test_models.py", "-k", "test_schema_check_catches_bad_bodies"],
        cwd=ROOT,
        env={**os.environ, **env, "PIXVERSE_SPEC_DIR": str(missing)},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


def test_without_the_spec_ci_fails(tmp_path: Path) -> None:
    done = run_schema_test(tmp_path, CI="true")
    assert done.returncode != 0, done.stdout
    assert "CI=true requires it" in done.stdout and "1 error" in done.stdout


def test_without_the_spec_elsewhere_the_skip_says_why(tmp_path: Path) -> None:
    done = run_schema_test(tmp_path, CI="")
    assert done.returncode == 0, done.stdout
    summary = done.stdout[done.stdout.index("short test summary info") :]
    assert "SKIPPED [1]" in summary and "no-spec-here" in summary and "1 skipped" in summary
