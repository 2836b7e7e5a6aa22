"""The benchmarks still run: every one of them with tiny N, through ``python -m benchmarks``.

Benchmarks print figures and assert nothing about them; this only checks that they work
end to end (emulator processes, worker processes, tables, RESULTS.md) so they do not rot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_overhead, bench_runner
from benchmarks.__main__ import main as run_all


def test_all_benchmarks_run_with_tiny_n(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "RESULTS.md"

    assert run_all(["--smoke", "--results", str(results)]) == 0

    text = results.read_text()
    for heading in (
        "### Submit overhead",
        "### Status polling and decoding",
        "### Import time",
        "### Memory per in-flight job",
        "### Job runner",
        "### Upload",
    ):
        assert heading in text
    assert "Machine:" in text and "aiohttp" in text
    assert f"wrote {results}" in capsys.readouterr().out


def test_parsers_accept_their_documented_options() -> None:
    args = bench_overhead.build_parser().parse_args(["--quick"])
    settings = bench_overhead.settings_from(args)
    assert settings.n < 5000 and settings.concurrencies == (1, 8, 64)
    args = bench_runner.build_parser().parse_args(["--quick", "--journals", "memory"])
    assert args.journals == ["memory"]
