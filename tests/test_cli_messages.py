"""What the ``pixverse`` command says: one-line usage errors, clean help, honest notes."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixverse_async.cli import main
from pixverse_async.cli.connect import EPHEMERAL_IDS_NOTE
from pixverse_async.cli.parser import build_parser
from pixverse_async.models import VideoStatus


@pytest.mark.parametrize(
    "argv, needle",
    [
        # --quality takes any string now (an unknown quality is sent as written: docs/api-notes.md)
        (["generate", "text", "--prompt", "x", "--duration", "abc"], "invalid int value: 'abc'"),
        (["generate", "text", "--prompt", "x", "--seed", "abc"], "invalid int value: 'abc'"),
        (["generate", "text"], "required: --prompt"),
        (["generate", "nonsense"], "invalid choice: 'nonsense'"),
        (["--poll-interval", "0", "balance"], "must be more than 0"),
        ([], "required: COMMAND"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert needle in err and "usage:" not in err
    assert err.startswith("pixverse") and "error: " in err and "--help)" in err


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _parsers(child)


def test_no_help_text_shows_rst_markup() -> None:
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 15  # every command and every generate kind
    for parser in parsers:
        text = parser.format_help()
        assert "``" not in text, parser.prog


def test_status_prints_as_a_word() -> None:
    assert str(VideoStatus.GENERATING) == "generating"
    assert f"{VideoStatus(1)}" == "successful"
    assert f"[{VideoStatus.MODERATION_FAILED:>20}]" == "[   moderation_failed]"
    assert str(VideoStatus(3)) == "unknown" and VideoStatus(3) == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "text", "--prompt", "x"],
        ["status", "1"],
    ],
)
def test_emulator_commands_with_ids_say_the_ids_do_not_last(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--emulator", *argv])
    assert EPHEMERAL_IDS_NOTE in capsys.readouterr().err


def test_emulator_commands_without_ids_say_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulator", "balance"]) == 0
    assert capsys.readouterr().err == ""


def _emulator_output(*extra: str) -> list[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixverse_async", "emulator", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert proc.returncode == 0
    return lines


def test_emulator_says_which_key_it_accepts() -> None:
    listening, keys = _emulator_output()
    assert "listening on http://127.0.0.1:" in listening
    assert keys.startswith("accepts API key test-key")


def test_emulator_counts_the_keys_it_was_given_without_echoing_them() -> None:
    _, keys = _emulator_output("--api-key", "my-own-secret", "--api-key", "another")
    assert keys.strip() == "accepts the 2 API key(s) given with --api-key"


def test_demo_output_folder_is_git_ignored() -> None:
    ignored = (Path(__file__).parent.parent / ".gitignore").read_text().split()
    assert "pixverse-demo/" in ignored
