"""The benchmarks still run: every one of them with tiny N, so they do not rot.

Benchmarks print figures and assert nothing about them; these tests only check that they
work end to end (emulator processes, worker processes, tables, RESULTS.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_overhead, bench_runner
from benchmarks.__main__ import main as run_all


def test_python_m_benchmarks_runs_everything_and_writes_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "RESULTS.md"

    assert run_all(["--smoke", "--results", str(results)]) == 0

    text = results.read_text()
    for heading in (
        "### Submit overhead",
        "### Status polling and decoding",
        "### Submit cost by layer",
        "### Import time",
        "### Memory per in-flight job",
        "### Job runner",
        "### Poll modes (log-normal generation times)",
        "### Journal stores",
        "### Webhook handler",
        "### Upload",
        "### pytest plugin startup",
        "### Workers on one PostgreSQL batch",
        "### Batches of 1,000 to 100,000 requests",
    ):
        assert heading in text
    assert "Machine:" in text and "aiohttp" in text
    assert f"wrote {results}" in capsys.readouterr().out


def test_each_benchmark_main_accepts_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    tiny_overhead = "--n 20 --concurrency 2 --rounds 1 --status-n 20 --import-runs 1"
    assert bench_overhead.main([*tiny_overhead.split(), "--memory-jobs", "20"]) == 0
    tiny_runner = "--jobs 10 --journals memory --generation-seconds 0.1 --limit 5 --poll-jobs 10"
    assert bench_runner.main([*tiny_runner.split(), "--concurrency", "5"]) == 0
    printed = capsys.readouterr().out
    assert "sdk/aiohttp" in printed and "vs ideal" in printed and "req vs (a)" in printed


def test_quick_mode_is_smaller_than_the_full_one() -> None:
    quick = bench_overhead.settings_from(bench_overhead.build_parser().parse_args(["--quick"]))
    full = bench_overhead.settings_from(bench_overhead.build_parser().parse_args([]))
    assert quick.n < full.n == 5000 and full.concurrencies == (1, 8, 64)
