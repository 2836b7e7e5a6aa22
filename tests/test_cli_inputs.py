"""What a newcomer's mistakes get from ``pixverse``: a one-line error naming the option, the
file or the field and its rule, and the exit code of the one table (``EXIT_CODES``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import pytest

from pixverse_async import Journal, PixVerse, ValidationError
from pixverse_async.cli.errors import EXIT_CODES, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from pixverse_async.cli.parser import build_parser
from pixverse_async.emulator import Emulator

from .cli_process import ROOT, pixverse


async def test_journal_status_of_a_missing_file_is_a_usage_error_and_creates_nothing(
    tmp_path: Path,
) -> None:
    typo = tmp_path / "typo.sqlite"
    code, out, err = await pixverse("journal", "status", "--journal", str(typo))
    assert code == EXIT_USAGE, (out, err)
    assert f"no journal at {typo}" in err and out == ""
    assert not typo.exists()


async def test_max_credits_not_a_number_says_what_it_expects() -> None:
    code, _, err = await pixverse("--emulator", "batch", "jobs.jsonl", "--max-credits", "abc")
    assert code == EXIT_USAGE
    assert "argument --max-credits: expected a whole number of credits, got 'abc'" in err
    assert "_credits" not in err


async def test_a_batch_file_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_bytes(b'{"kind": "text", "prompt": "a"}\n{"kind": "text", "prompt": "caf\xe9"}\n')
    code, _, err = await pixverse("--emulator", "batch", str(jobs))
    assert code == EXIT_USAGE, err
    assert f"{jobs}:2: not UTF-8 text (byte 0xe9)" in err
    assert "internal error" not in err


async def test_a_base_url_without_scheme_is_refused_before_any_request() -> None:
    code, _, err = await pixverse("--base-url", "127.0.0.1:8000", "--api-key", "k", "balance")
    assert code == EXIT_USAGE, err
    assert "ValidationError: base_url: must be an http:// or https:// URL with a host" in err
    assert "attempts" not in err  # not retried: nothing was sent


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://example.com", "http://", ""])
def test_the_client_refuses_a_base_url_it_cannot_send_to(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        PixVerse(api_key="k", base_url=url or "x")
    assert info.value.field == "base_url"


async def test_a_line_without_kind_lists_the_short_names_too(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"prompt": "a red kite"}\n')
    code, _, err = await pixverse("--emulator", "batch", str(jobs))
    assert code == EXIT_USAGE
    assert f"{jobs}:1: ValidationError: kind: missing: must be one of text, image," in err
    assert "(or a request kind: text_to_video, image_to_video," in err


async def test_a_misspelt_option_points_at_the_subcommand_help() -> None:
    code, _, err = await pixverse("generate", "text", "--prompt", "x", "--qualty", "540p")
    assert code == EXIT_USAGE
    assert err == (
        "pixverse generate text: error: unrecognized arguments: --qualty 540p; did you mean "
        "--quality? (see pixverse generate text --help)\n"
    )


def test_runner_refuses_a_negative_cap_naming_the_field() -> None:
    client = PixVerse(api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(ValidationError) as info:
        client.runner(max_credits=-1)
    assert info.value.field == "max_credits"
    assert "at least 0" in info.value.rule


async def test_a_journal_in_a_missing_folder_is_created_as_out_folders_are(
    tmp_path: Path,
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"kind": "text", "prompt": "a red kite"}\n')
    journal = tmp_path / "state" / "nightly" / "jobs.sqlite"
    code, out, err = await pixverse("--emulator", "batch", str(jobs), "--journal", str(journal))
    assert code == EXIT_OK, err
    assert journal.is_file()
    code, out, err = await pixverse("journal", "status", "--journal", str(journal))
    assert code == EXIT_OK and "succeeded  1" in out


async def test_like_errors_have_like_codes(tmp_path: Path) -> None:
    """A file named on the command line that does not exist is a usage error (2), whether
    it is an image to upload, a batch file or a journal to read."""
    missing = str(tmp_path / "missing")
    runs = [
        ("--emulator", "generate", "image", "--img-id", missing + ".png", "--prompt", "x"),
        ("--emulator", "batch", missing + ".jsonl"),
        ("journal", "status", "--journal", missing + ".sqlite"),
    ]
    results = await asyncio.gather(*(pixverse(*run) for run in runs))
    assert [code for code, _, _ in results] == [EXIT_USAGE] * 3, results


def test_the_help_prints_the_one_table_of_exit_codes() -> None:
    epilog = build_parser().format_help()
    assert [code for code, _ in EXIT_CODES] == [0, 1, 2, 130]
    for code, meaning in EXIT_CODES:
        assert f"  {code:<4} {meaning.split()[0]}" in epilog
    assert EXIT_FAILED == 1


async def test_examples_batch_reports_a_journal_in_use_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXVERSE_")}
    async with Emulator(api_keys={"k"}) as emu, Journal(tmp_path / "jobs.sqlite"):
        env.update(PIXVERSE_API_KEY="k", PIXVERSE_BASE_URL=emu.base_url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "examples" / "batch.py"), "--count", "1",
            "--journal", "jobs.sqlite",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text
    assert text.startswith("error: ") and "pass another --journal" in text


def test_no_help_text_points_outside_the_repository() -> None:
    parser = build_parser()
    texts = [parser.format_help()]
    stack = [parser]
    while stack:
        for action in stack.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in dict.fromkeys(action.choices.values()):
                    texts.append(child.format_help())
                    stack.append(child)
    assert len(texts) > 15
    for text in texts:
        assert "LIVE-API" not in text and "shared/" not in text and "NOTES.md" not in text, text


def test_no_shipped_file_or_page_points_outside_the_repository() -> None:
    """The package, its tests, the examples, README and docs/ restate what they rely on
    (docs/api-notes.md; the spec pages in tests/spec) instead of pointing beside the checkout."""
    files = [ROOT / "README.md", *ROOT.glob("docs/**/*.md")]
    for folder in ("pixverse_async", "pytest_pixverse", "examples", "tests", "benchmarks"):
        files += (ROOT / folder).rglob("*.py")
    files = [path for path in files if path != Path(__file__).resolve()]  # it names them
    offenders = [
        str(path.relative_to(ROOT))
        for path in files
        if any(s in path.read_text() for s in ("LIVE-API", "../shared", "NOTES.md"))
    ]
    assert offenders == []
