"""The tracing benchmark still runs (tiny N): every mode, the baseline checkout, the table,
and the cost of ``on`` above the OpenTelemetry SDK's floors."""

from __future__ import annotations

import pytest

from benchmarks import bench_tracing


def test_bench_tracing_runs_every_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_tracing.main(["--n", "20", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(bench_tracing.MODES) <= rows, out
    assert "on - floor: " in out and "on - floor-attrs: " in out, out
