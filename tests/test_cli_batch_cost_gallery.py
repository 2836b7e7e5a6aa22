"""`pixverse batch FILE` with `--dry-run` (counts, estimate, balance) or `--gallery DIR`."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pixverse_async.cli.main import main
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator

KEY = "dry-run-key"
T2V = {"kind": "text", "model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}


@pytest.fixture
def live(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """An emulator served from its own thread (it outlives each ``main()`` call)."""
    loop = asyncio.new_event_loop()
    emu = Emulator(api_keys={KEY}, generation_seconds=0.05, **getattr(request, "param", {}))
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(emu.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield emu
    finally:
        asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def on(emu: Emulator, *argv: str) -> list[str]:
    return ["--base-url", emu.base_url, "--api-key", KEY, "--poll-interval", "0.02", *argv]


def write_jobs(path: Path, jobs: list[dict[str, Any]]) -> Path:
    path.write_text("# jobs\n" + "\n".join(json.dumps({**T2V, **j}) for j in jobs) + "\n")
    return path


JOBS = [
    {"prompt": "a kite"},
    {"prompt": "a boat"},
    {"prompt": "a fox", "quality": "720p", "duration": 8},
    {"prompt": "a crane", "kind": "text_to_video", "model": "v4.5", "quality": "1080p"},
]


def dry_run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert main(["--json", *argv, "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    report: dict[str, Any] = json.loads(out[0])["dry_run"]
    return report


def test_counts_by_kind_model_quality_duration_and_sends_no_generation(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", JOBS)
    report = dry_run(capsys, on(live, "batch", str(jobs)))
    groups = {(g["model"], g["quality"], g["duration"]): g["requests"] for g in report["groups"]}
    assert groups == {("v5", "540p", 5): 2, ("v5", "720p", 8): 1, ("v4.5", "1080p", 5): 1}
    assert {g["kind"] for g in report["groups"]} == {"text_to_video"}
    # PixVerse's published prices: 45 for v5 540p 5 s, 120 for v5 720p 8 s and v4.5 1080p 5 s
    assert report["requests"] == 4 and report["estimate"] == 330 and report["unpriced"] == 0
    assert report["balance"] == {"credit_monthly": live.config.credits, "credit_package": 0}
    assert [r.path for r in live.state.requests] == [Paths.BALANCE]  # one read, nothing else
    assert not (tmp_path / "jobs.jsonl.journal.sqlite").exists()


def test_earlier_costs_in_the_journal_price_the_rest(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", JOBS)
    assert main(on(live, "batch", str(jobs))) == 0
    charged = {g.body["prompt"]: g.credits for g in live.state.generations.values()}
    capsys.readouterr()
    more = [*JOBS, {"prompt": "a heron"}, {"prompt": "a lark", "quality": "360p"}]
    write_jobs(jobs, more)
    report = dry_run(capsys, on(live, "batch", str(jobs)))
    assert report["costs_from_journal"] == 4
    assert report["unpriced"] == 0  # 360p was never run: its published price
    known = sum(charged.values()) + charged["a kite"]  # the heron costs what the kite cost
    assert report["estimate"] == known + 45
    by_quality = {g["quality"]: g for g in report["groups"]}
    assert by_quality["540p"]["credits_each"] == charged["a kite"]  # seen wins over the table
    assert by_quality["540p"]["estimate"] == 3 * charged["a kite"]
    assert by_quality["360p"]["credits_each"] == 45


def test_price_rules_fill_in_and_the_text_report_reads_well(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", JOBS)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps([{"quality": "720p", "credits": 90}, {"credits": 25}]))
    assert main(on(live, "batch", str(jobs), "--dry-run", "--prices", str(prices))) == 0
    out = capsys.readouterr().out
    assert "4 requests, estimated cost 165 credits" in out  # 25 + 25 + 90 + 25
    assert f"balance: {live.config.credits} credits" in out
    assert "dry run: nothing was sent" in out
    assert len(live.state.generations) == 0


@pytest.mark.parametrize("live", [{"credits": 50}], indirect=True)
def test_an_estimate_above_the_balance_is_called_out(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", JOBS)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps([{"credits": 30}]))
    assert main(on(live, "batch", str(jobs), "--dry-run", "--prices", str(prices))) == 0
    err = capsys.readouterr().err
    assert "estimated cost (120) is above the balance (50)" in err


@pytest.mark.parametrize(
    ("rules", "needle"),
    [
        ("{}", "must be a list of price rules"),
        ('[{"credits": -1}]', "prices.json[0].credits: must be an integer >= 0"),
        ('[{"credits": 1, "colour": "red"}]', "prices.json[0].colour: is not a price rule field"),
        ('[{"model": "v6"}]', "needs exactly one of credits, per_second, per_text"),
        ("[oops", "not valid JSON"),
    ],
)
def test_bad_price_rules_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: str, needle: str
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", JOBS)
    prices = tmp_path / "prices.json"
    prices.write_text(rules)
    assert main(["--emulator", "batch", str(jobs), "--dry-run", "--prices", str(prices)]) == 2
    assert needle in capsys.readouterr().err


def test_a_bad_line_fails_the_dry_run_like_the_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({**T2V, "prompt": "ok"}) + "\n" + '{"kind": "text"}\n')
    assert main(["--emulator", "batch", str(jobs), "--dry-run"]) == 2
    assert "jobs.jsonl:2: ValidationError" in capsys.readouterr().err


def test_gallery_is_written_after_the_batch_and_updated_by_a_rerun(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", [*JOBS[:2], {"prompt": "a storm #fail"}])
    out, gallery = tmp_path / "videos", tmp_path / "gallery"
    argv = on(live, "batch", str(jobs), "--out", str(out), "--gallery", str(gallery))
    assert main(argv) == 1  # one job failed
    assert f"gallery: {gallery / 'index.html'}" in capsys.readouterr().err
    page = (gallery / "index.html").read_text(encoding="utf-8")
    assert page.count('<article class="card"') == 3
    ids = sorted(g.video_id for g in live.state.generations.values() if g.outcome == "success")
    for video_id in ids:
        assert f'data-src="../videos/{video_id}.mp4#t=0.1"' in page
    assert "VideoFailedError" in page

    write_jobs(jobs, [*JOBS[:2], {"prompt": "a storm #fail"}, {"prompt": "a new one"}])
    assert main(argv) == 1
    capsys.readouterr()
    page = (gallery / "index.html").read_text(encoding="utf-8")
    assert page.count('<article class="card"') == 4 and "a new one" in page
