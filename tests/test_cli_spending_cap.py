"""`pixverse batch FILE --max-credits N`: the cap, credits in the summary, and the dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixverse_async.cli.main import main
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.credits import PriceTable

from .test_cli_batch_cost_gallery import live, on, write_jobs  # noqa: F401  (the fixture)

#: What the emulator charges for each job (PixVerse's published v5 540p 5 s price).
PRICE = PriceTable.published().price({"model": "v5", "quality": "540p", "duration": 5})
JOBS = [{"prompt": f"scene {i}"} for i in range(6)]


def capped(emu: Emulator, tmp_path: Path, cap: int, *options: str, json_lines: bool = False) -> int:
    """``pixverse batch`` of ``JOBS`` against ``emu`` with a prices file and ``--max-credits
    cap`` (and ``options``); its exit code. Every call writes the same two files in
    ``tmp_path``, so a second run is the same batch with the same journal."""
    jobs = write_jobs(tmp_path / "jobs.jsonl", JOBS)
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps([{"model": "v5", "quality": "540p", "duration": 5, "credits": PRICE}])
    )
    batch = ["batch", str(jobs), "--prices", str(prices), "--max-credits", str(cap), *options]
    return main(on(emu, *(["--json"] if json_lines else []), *batch))


def test_the_cap_stops_the_batch_and_a_higher_cap_continues_it(
    live: Emulator,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cap = 4 * PRICE + PRICE // 2  # room for four
    gallery = tmp_path / "gallery"
    # Not all ran.
    assert capped(live, tmp_path, cap, "--gallery", str(gallery), json_lines=True) == 1
    page = (gallery / "index.html").read_text()
    assert page.count('data-state="not_submitted"') == 2
    assert page.count('data-state="succeeded"') == 4
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    summary = lines[-1]["summary"]
    assert (summary["succeeded"], summary["not_submitted"]) == (4, 2)
    assert summary["credits_spent"] == summary["credits_charged"] == 4 * PRICE
    assert live.state.ledger.spent("dry-run-key") == 4 * PRICE
    jobs_out = [line for line in lines if "line" in line]
    assert sorted(j["credits"] or 0 for j in jobs_out) == [0, 0] + [PRICE] * 4

    # The same cap: the journal's spend counts, nothing more is sent.
    assert capped(live, tmp_path, cap) == 1
    captured = capsys.readouterr()
    assert "6 jobs: 4 succeeded, 0 failed, 0 unknown, 2 not submitted" in captured.out
    assert "run again with the same journal" in captured.err
    assert live.state.ledger.spent("dry-run-key") == 4 * PRICE

    assert capped(live, tmp_path, 6 * PRICE) == 0
    out = capsys.readouterr().out
    assert "6 jobs: 6 succeeded, 0 failed, 0 unknown (4 from the journal)" in out
    assert f"credits: {6 * PRICE} spent ({6 * PRICE} charged, 0 refunded)" in out
    assert live.state.ledger.spent("dry-run-key") == 6 * PRICE


def test_a_bad_cap_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", JOBS)
    assert main(["--emulator", "batch", str(jobs), "--max-credits", "-5"]) == 2
    assert "--max-credits: must be a whole number of credits" in capsys.readouterr().err


@pytest.mark.parametrize("live", [{"credits": 100}], indirect=True)
def test_the_dry_run_says_when_the_cap_is_above_the_balance(
    live: Emulator,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert capped(live, tmp_path, 150, "--dry-run") == 0
    captured = capsys.readouterr()
    assert "the spending cap (150) is above the balance (100)" in captured.err
    assert f"the estimated cost ({6 * PRICE}) is above the spending cap (150)" in captured.err
    assert "spending cap 150 credits" in captured.out
    assert live.state.ledger.charged("dry-run-key") == 0
    assert capped(live, tmp_path, 90, "--dry-run") == 0
    assert "the spending cap (90) is above the balance" not in capsys.readouterr().err


@pytest.mark.parametrize("live", [{"credits": 3 * PRICE + PRICE // 2}], indirect=True)
def test_a_capped_batch_says_before_it_starts_that_the_balance_is_below_the_cap(
    live: Emulator,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert capped(live, tmp_path, 1000) == 1  # the balance stops it: 3 of 6 fit
    captured = capsys.readouterr()
    warning = f"the spending cap (1000) is above the balance ({3 * PRICE + PRICE // 2})"
    assert warning in captured.err
    assert captured.err.index(warning) < captured.err.index("0/6")  # before the first progress
    assert "6 jobs: 3 succeeded, 0 failed, 0 unknown, 3 not submitted" in captured.out
    assert live.state.ledger.spent("dry-run-key") == 3 * PRICE
