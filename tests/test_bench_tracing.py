"""The tracing benchmark still runs (tiny N): every mode, the baseline checkout, the table."""

from __future__ import annotations

import pytest

from benchmarks import bench_tracing


def test_bench_tracing_runs_every_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_tracing.main(["--n", "20", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for mode in bench_tracing.MODES:
        assert f"\n{mode.rjust(8)}  " in out, out
