"""``mypy --strict`` on a user's file: the keyword form of a generation method is typed, and
so is ``Journal.open`` (which takes ``Journal``'s parameters without repeating them).

``tests/typed_user/user_calls.py`` holds correct calls and, on lines marked ``# expect-error``,
a misspelled keyword and a wrong type: mypy must report exactly those lines.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

USER_FILE = Path(__file__).parent / "typed_user" / "user_calls.py"


def test_mypy_rejects_a_misspelled_keyword_and_a_wrong_type(tmp_path: Path) -> None:
    expected = {
        number
        for number, line in enumerate(USER_FILE.read_text().splitlines(), start=1)
        if line.rstrip().endswith("# expect-error")
    }
    assert len(expected) == 5
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(USER_FILE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    lines = {int(m.group(1)) for e in errors if (m := re.search(r":(\d+): error:", e))}
    assert lines == expected, run.stdout + run.stderr
    assert any('Unexpected keyword argument "promtp"' in e for e in errors)
    assert any('Unexpected keyword argument "batchh" for "open"' in e for e in errors)
    assert any('Unexpected keyword argument "timeoutt"' in e for e in errors)
    assert run.returncode == 1
