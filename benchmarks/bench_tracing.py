"""Client CPU per submit with OpenTelemetry off and on, against the SDK without the feature
and raw aiohttp, in the same run.

Run from the repository root (``opentelemetry-sdk`` installed, as in the dev extra)::

    python -m benchmarks.bench_tracing                 # N = 3,000 submits, 7 rounds
    python -m benchmarks.bench_tracing --baseline REF  # the SDK without the feature: a ref
    python -m benchmarks.bench_tracing --before REF    # adds on-before: 'on' of the SDK at REF
    python -m benchmarks.bench_tracing --instructions --n 1000   # instructions (valgrind)

Every measurement is a fresh process (``benchmarks/tracing_worker.py``) that makes ``N``
text-to-video submits at concurrency 1 against one emulator process, after a warm-up, and
reports its CPU time per submit (``time.process_time()``). The modes: ``aiohttp`` (the same
request by hand), ``baseline`` (the SDK at ``--baseline``, before issue 23, from
``git archive``), ``absent`` (this SDK, ``opentelemetry`` unimportable), ``idle`` (the API
importable, no provider set) and ``on`` (SDK providers, a ``BatchSpanProcessor`` to an
exporter that drops the spans, an in-memory metric reader); and the OpenTelemetry SDK's own
floor under the same providers, around the baseline's submits: ``floor`` (a bare job span,
a bare attempt span as its child, one histogram record) and ``floor-attrs`` (the same with
the attributes ``on`` emits), so that ``on`` minus ``floor-attrs`` is this SDK's own code.
Rounds interleave the modes; the table gives medians, the ratio of the medians to the
baseline's and the median of each round's ratio to that round's baseline ("paired"; targets:
``absent`` and ``idle`` <= 1.05, ``on`` <= 1.25), and ``on``'s cost above each floor.
``--instructions`` counts instead the instructions per submit of each mode (but
``aiohttp``) under valgrind's callgrind, every thread of the worker included, as the
difference between a run of 100 + N submits and one of 100: deterministic where the CPU
times of a shared machine are not, though blind to cache misses. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ._util import ROOT, emulator_process, median, table

#: layout26's tip, where this branch started: the SDK without hooks, raw responses, logging
#: extras or telemetry.
BASELINE = "75ae049"
MODES = ("aiohttp", "baseline", "absent", "idle", "on", "floor", "floor-attrs")
WORKER = Path(__file__).resolve().parent / "tracing_worker.py"
FAST_EMULATOR = ("--generation-seconds", "0", "--concurrency-limit", "1000000000")
_WARM = 100  # submits of the shorter run that --instructions subtracts
_COLLECTED = re.compile(r"Collected : (\d+)")


def _checkout(ref: str, into: Path) -> Path:
    """The package at ``ref``, unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "archive", ref, "pixverse_async"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _worker(
    mode: str, url: str, n: int, concurrency: int, baseline: Path, before: Path | None
) -> tuple[list[str], dict[str, str]]:
    """The worker's command and environment for ``mode``."""
    path = str(baseline if mode in ("baseline", "floor", "floor-attrs") else ROOT)
    if mode == "on-before":
        assert before is not None
        path, mode = str(before), "on"
    extra = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (path, extra) if p)}
    return [sys.executable, str(WORKER), mode, url, str(n), str(concurrency)], env


def _measure(
    mode: str, url: str, n: int, concurrency: int, baseline: Path, before: Path | None = None
) -> float:
    command, env = _worker(mode, url, n, concurrency, baseline, before)
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=600)
    return float(done.stdout.strip())


def _instructions(mode: str, url: str, n: int, baseline: Path, before: Path | None) -> float:
    """Instructions per submit, counted by valgrind's callgrind (all threads): a run of
    ``WARM + n`` submits minus one of ``WARM``, over ``n``, so that start-up cancels out."""
    counts = []
    for submits in (_WARM, _WARM + n):
        command, env = _worker(mode, url, submits, 1, baseline, before)
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
            env={**env, "PYTHONHASHSEED": "0"}, check=True, capture_output=True, text=True,
            timeout=3600,
        )  # fmt: skip
        found = _COLLECTED.search(done.stderr)
        assert found is not None, done.stderr[-2000:]
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / n


def _count_instructions(args: argparse.Namespace, modes: tuple[str, ...]) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator_process("bench-key", args=FAST_EMULATOR) as url,
    ):
        baseline = _checkout(args.baseline, Path(tmp) / "baseline")
        before = _checkout(args.before, Path(tmp) / "before") if args.before else None
        counts = {m: _instructions(m, url, args.n, baseline, before) for m in modes}
    base = counts["baseline"]
    rows = [[m, f"{counts[m] / 1000:.1f}", f"{counts[m] / base:.3f}"] for m in modes]
    print(f"instructions per submit (callgrind, all threads), N={args.n} after {_WARM}")
    print(table(["mode", "k instr/submit", "x baseline"], rows))
    on = counts["on"]
    for floor in ("floor", "floor-attrs"):
        above = on - counts[floor]
        print(f"on - {floor}: {above / 1000:.1f} k instr/submit ({above / base:.3f} x baseline)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the SDK without it")
    parser.add_argument(
        "--before", help="git ref of an earlier SDK with the feature: adds its 'on' as on-before"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per submit under valgrind instead (deterministic, slow)",
    )
    args = parser.parse_args(argv)
    modes = (*MODES, "on-before") if args.before else MODES
    if args.instructions:
        _count_instructions(args, tuple(m for m in modes if m != "aiohttp"))
        return 0
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator_process("bench-key", args=FAST_EMULATOR) as url,
    ):
        baseline = _checkout(args.baseline, Path(tmp) / "baseline")
        before = _checkout(args.before, Path(tmp) / "before") if args.before else None
        for _ in range(args.rounds):
            for mode in modes:
                cpu[mode].append(_measure(mode, url, args.n, args.concurrency, baseline, before))
    base = median(cpu["baseline"])
    rows = [
        [mode, f"{median(cpu[mode]):.1f}", f"{min(cpu[mode]):.1f}-{max(cpu[mode]):.1f}",
         f"{median(cpu[mode]) / base:.3f}",
         f"{median([m / b for m, b in zip(cpu[mode], cpu['baseline'], strict=True)]):.3f}"]
        for mode in modes
    ]  # fmt: skip
    print(
        f"client CPU per submit, N={args.n}, concurrency {args.concurrency}, "
        f"{args.rounds} interleaved rounds (medians)"
    )
    print(table(["mode", "CPU us/submit", "spread", "x baseline", "paired"], rows))
    on = median(cpu["on"])
    for floor in ("floor", "floor-attrs"):
        above = on - median(cpu[floor])
        print(f"on - {floor}: {above:.1f} us/submit ({above / base:.3f} x baseline)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
