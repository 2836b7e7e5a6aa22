"""Cooperating workers: 1, 2 and 3 ``pixverse batch`` workers on one PostgreSQL batch.

Run from the repository root (needs the PostgreSQL server of the tests,
``PIXVERSE_TEST_POSTGRES_DSN``, default ``postgresql://postgres@127.0.0.1:5432/test``)::

    python -m benchmarks.bench_workers                        # 2,000 requests, 2 rounds
    python -m benchmarks.bench_workers --n 600 --rounds 1     # quicker

The emulator (its own process) runs every generation for ``--generation-seconds`` and lets
the key run ``--limit`` at once, far more than the workers keep in flight, so the service's
limit is not the bottleneck: the shared limit (``--concurrency``, kept in PostgreSQL) is the
same for every worker count, and each run is a fresh batch in a fresh schema. A worker is a
``pixverse batch FILE --journal URL --batch NAME`` process, all started on the same file as
on several machines (each reports every request of its input). Worker counts are interleaved
within a round; the table shows medians over the rounds: wall time from the first start to
the last exit, requests per second, the ratio to one worker, and what each request cost in
CPU: in the workers together, in the emulator and in the PostgreSQL server. From that cost,
``CPU ceiling`` is the rate this machine's CPUs could carry if nothing else ran: on a machine
that runs the workers, the emulator and the database on a few shared cores, that ceiling,
not the coordination, is what bounds several workers. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from ._util import (
    DSN,
    ROOT,
    EmulatorHandle,
    drop_schema,
    emulator,
    postgres_cpu_seconds,
    postgres_unavailable,
    results_section,
    table,
)

API_KEY = "bench-workers-key"


def write_jobs(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            body = {"kind": "text_to_video", "prompt": f"bench scene {i}", "model": "v5",
                    "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}  # fmt: skip
            f.write(json.dumps(body) + "\n")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_workers(
    handle: EmulatorHandle, jobs: Path, workers: int, args: argparse.Namespace
) -> tuple[float, float, float, float]:
    """Start ``workers`` batch processes on a fresh schema; return the wall time and the CPU
    seconds of the workers, the emulator and PostgreSQL over the run."""
    schema = "pixverse_bench_" + uuid.uuid4().hex[:10]
    argv = [
        sys.executable, "-m", "pixverse_async", "--base-url", handle.url, "--api-key", API_KEY,
        "--poll-interval", str(args.poll), "batch", str(jobs), "--journal", DSN,
        "--batch", "bench", "--journal-schema", schema, "--concurrency", str(args.concurrency),
        "--lease", "10",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cpu = (_children_cpu_seconds(), handle.cpu_seconds(), postgres_cpu_seconds())
    start = time.perf_counter()
    procs = [
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        for _ in range(workers)
    ]
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - start
    after = (_children_cpu_seconds(), handle.cpu_seconds(), postgres_cpu_seconds())
    for proc, err in zip(procs, errors, strict=True):
        if proc.returncode not in (0, 1):  # 1: some request failed or ended unknown
            raise SystemExit(f"a worker failed ({proc.returncode}): {err.decode()[-2000:]}")
    asyncio.run(drop_schema(schema))
    worker_cpu, emulator_cpu, db_cpu = (b - a for a, b in zip(cpu, after, strict=True))
    return wall, worker_cpu, emulator_cpu, db_cpu


def collect(args: argparse.Namespace) -> str:
    missing = asyncio.run(postgres_unavailable())
    if missing is not None:
        return f"not run: no PostgreSQL server at {DSN}: {missing}"
    counts = [int(c) for c in args.workers.split(",")]
    figures: dict[int, list[tuple[float, float, float, float]]] = {c: [] for c in counts}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs.jsonl"
        write_jobs(jobs, args.n)
        emu_args = [
            "--generation-seconds", str(args.generation_seconds),
            "--concurrency-limit", str(args.limit),
        ]  # fmt: skip
        with emulator(API_KEY, args=emu_args) as handle:
            for _ in range(args.rounds):
                for workers in counts:
                    figures[workers].append(run_workers(handle, jobs, workers, args))
                    loads.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0)
    cpus = os.cpu_count() or 1
    medians = {
        c: [statistics.median(run[i] for run in figures[c]) for i in range(4)] for c in counts
    }
    one = medians[counts[0]][0]
    rows = []
    for workers in counts:
        wall, worker_cpu, emulator_cpu, db_cpu = medians[workers]
        per = [x * 1000 / args.n for x in (worker_cpu, emulator_cpu, db_cpu)]
        rows.append(
            [
                str(workers),
                f"{wall:.1f}",
                f"{args.n / wall:.0f}",
                f"{one / wall:.2f}x",
                *(f"{x:.2f}" for x in per),
                f"{cpus * 1000 / sum(per):.0f}",
            ]
        )
    ideal = args.n / args.concurrency * args.generation_seconds
    head = (
        f"{args.n} requests, shared limit {args.concurrency}, emulator limit {args.limit},"
        f" generations {args.generation_seconds:g} s (ideal {ideal:.1f} s), {cpus} CPUs,"
        f" {args.rounds} round(s), load average {min(loads):.1f}-{max(loads):.1f}"
    )
    headers = ["workers", "wall s", "req/s", "vs 1 worker", "worker CPU ms", "emulator CPU ms",
               "db CPU ms", "CPU ceiling req/s"]  # fmt: skip
    return head + "\n" + table(headers, rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_workers", description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="requests per run")
    parser.add_argument("--workers", default="1,2,3", help="comma-separated worker counts")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median)")
    parser.add_argument("--concurrency", type=int, default=200, help="the shared limit")
    parser.add_argument("--limit", type=int, default=2000, help="the emulator's limit")
    parser.add_argument("--generation-seconds", type=float, default=0.5)
    parser.add_argument("--poll", type=float, default=0.1, help="--poll-interval of workers")
    return parser


def run(args: argparse.Namespace) -> str:
    """Run the benchmark; print the table and return the RESULTS.md section."""
    text = collect(args)
    print(text)
    argv = f"--n {args.n} --workers {args.workers} --rounds {args.rounds}"
    return results_section(
        "Workers on one PostgreSQL batch",
        f"`python -m benchmarks.bench_workers {argv}`: `pixverse batch` workers sharing one "
        "batch, medians. CPU ms: CPU milliseconds per request in all the workers together, in "
        "the emulator, in every PostgreSQL process. CPU ceiling: the requests per second this "
        "machine's CPUs could carry at that cost with nothing else running.",
        text,
    )


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
