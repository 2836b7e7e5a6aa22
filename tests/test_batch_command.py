"""``pixverse batch``: every bad line reported at once, nothing paid while any is bad,
``--skip-invalid``, and a journal that cannot be opened is one clear error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pixverse_async.cli.main import main

T2V = {"kind": "text", "model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
GOOD = json.dumps({**T2V, "prompt": "a paper boat"})
BAD_LINES = {
    2: ("{oops", "not valid JSON"),
    4: (json.dumps({"kind": "nope"}), "ValidationError: kind"),
    # a number is no quality name (a name the SDK does not know, "999p", would be sent)
    5: (json.dumps({**T2V, "prompt": "x", "quality": 999}), "ValidationError: quality"),
}


def write_file(path: Path) -> Path:
    """Line 1 and 6 are good, 3 is blank; 2, 4 and 5 are bad for different reasons."""
    lines = [
        GOOD,
        BAD_LINES[2][0],
        "",
        BAD_LINES[4][0],
        BAD_LINES[5][0],
        GOOD.replace("a ", "the "),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def generations_in(journal: Path) -> int:
    import sqlite3

    with sqlite3.connect(journal) as conn:
        return int(conn.execute("select count(*) from entries").fetchone()[0])


def test_every_bad_line_is_reported_and_nothing_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_file(tmp_path / "jobs.jsonl")
    assert main(["--emulator", "batch", str(jobs)]) == 2
    err = capsys.readouterr().err
    for number, (_, reason) in BAD_LINES.items():
        assert f"jobs.jsonl:{number}: {reason}" in err
    assert "3 bad line(s), nothing was sent" in err and "--skip-invalid" in err
    assert not (tmp_path / "jobs.jsonl.journal.sqlite").exists()  # not even a journal


def test_skip_invalid_runs_the_good_lines_and_reports_the_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_file(tmp_path / "jobs.jsonl")
    journal = tmp_path / "j.sqlite"
    argv = ["--emulator", "--json", "batch", str(jobs), "--journal", str(journal)]
    assert main([*argv, "--skip-invalid"]) == 1  # what was asked did not all run
    out, err = capsys.readouterr()
    for number, (_, reason) in BAD_LINES.items():
        assert f"jobs.jsonl:{number}: {reason}" in err
    records = [json.loads(line) for line in out.splitlines()]
    summary = records.pop()["summary"]
    assert summary["succeeded"] == 2 and summary["skipped"] == 3
    assert sorted(r["line"] for r in records) == [1, 6]
    assert generations_in(journal) == 2


def test_a_file_that_can_be_read_only_once_a_pipe_runs_every_good_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command reads its file twice (checked, then run); a pipe (``<(command)``) cannot
    be, so its bytes are kept: every good line runs, under its own line number."""
    import os
    import threading

    lines = (write_file(tmp_path / "jobs.jsonl")).read_bytes()
    fifo = tmp_path / "jobs.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(lines,))
    writer.start()
    try:
        argv = ["--emulator", "--json", "batch", str(fifo), "--journal", str(tmp_path / "j")]
        assert main([*argv, "--skip-invalid"]) == 1  # the bad lines were skipped
    finally:
        writer.join()
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records.pop()["summary"]["succeeded"] == 2
    assert sorted(r["line"] for r in records) == [1, 6]


def test_a_journal_that_cannot_be_opened_ends_the_command_with_one_error(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(GOOD + "\n", encoding="utf-8")
    missing = tmp_path / "a-folder"  # a missing folder is created; a folder is no database
    missing.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "pixverse_async", "--emulator", "batch", str(jobs),
         "--journal", str(missing)],
        capture_output=True, text=True, timeout=60,  # it used to hang forever
    )  # fmt: skip
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [f"pixverse: error: JournalError: journal {missing}: unable to open "
                      "database file"]  # fmt: skip
    assert "Traceback" not in done.stderr


async def test_a_wrong_api_key_leaves_the_batch_to_send_with_the_right_one(tmp_path: Path) -> None:
    """``--api-key wrong`` fails every line but generates nothing: the journal keeps them
    pending, so the same command with the right key sends them all (no ``--retry-failed``,
    which warns of new, paid generations)."""
    from pixverse_async.emulator import Emulator

    from .cli_process import pixverse

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join([GOOD, GOOD.replace("a ", "the ")]) + "\n", encoding="utf-8")
    journal = tmp_path / "j.sqlite"
    async with Emulator(api_keys={"right-key"}, generation_seconds=0.05) as emu:

        def run(key: str) -> Any:
            return pixverse("--json", "--base-url", emu.base_url, "--api-key", key,
                            "--poll-interval", "0.05", "batch", str(jobs),
                            "--journal", str(journal))  # fmt: skip

        code, out, _ = await run("wrong-key")
        assert code == 1
        first = [json.loads(line) for line in out.splitlines()][:-1]
        assert [(r["state"], r["error"].split(":")[0]) for r in first] == [
            ("failed", "AuthenticationError")
        ] * 2
        assert not emu.state.generations
        code, out, err = await run("right-key")
        second = [json.loads(line) for line in out.splitlines()][:-1]
    assert code == 0, err
    assert [(r["state"], r["resumed"]) for r in second] == [("succeeded", False)] * 2
    assert len(emu.state.generations) == 2
