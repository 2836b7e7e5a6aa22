"""Cooperating workers: throughput of 3 ``pixverse batch`` workers against 1, on PostgreSQL.

Run from the repository root (needs the PostgreSQL server of the tests,
``PIXVERSE_TEST_POSTGRES_DSN``, default ``postgresql://postgres@127.0.0.1:5432/test``)::

    python -m benchmarks.bench_workers            # 2,000 requests
    python -m benchmarks.bench_workers --n 600    # quicker

The emulator (its own process) runs every generation for ``--generation-seconds`` and lets
the key run ``--limit`` at once, far more than the workers keep in flight, so the service's
limit is not the bottleneck: the shared limit (``--concurrency``, kept in PostgreSQL) is the
same for 1 and for 3 workers, and each run is a fresh batch in a fresh schema. A worker is a
``pixverse batch FILE --journal URL --batch NAME`` process; the table shows the wall time from
the first start to the last exit, requests per second, the ratio to one worker and the
machine's load average. On a shared 2-core machine the workers, the emulator and the database
compete for the same cores: the ratio says what a second and third process add there, not
what workers on separate machines would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ._util import ROOT, emulator, postgres_cpu_seconds, table

API_KEY = "bench-workers-key"
DSN = os.environ.get("PIXVERSE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def write_jobs(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            body = {"kind": "text_to_video", "prompt": f"bench scene {i}", "model": "v5",
                    "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}  # fmt: skip
            f.write(json.dumps(body) + "\n")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_workers(url: str, jobs: Path, workers: int, concurrency: int, poll: float) -> float:
    """Start ``workers`` batch processes on a fresh schema; return the wall time."""
    schema = "pixverse_bench_" + uuid.uuid4().hex[:10]
    argv = [
        sys.executable, "-m", "pixverse_async", "--base-url", url, "--api-key", API_KEY,
        "--poll-interval", str(poll), "batch", str(jobs), "--journal", DSN,
        "--batch", "bench", "--journal-schema", schema, "--concurrency", str(concurrency),
        "--lease", "10",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    procs = [
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        for _ in range(workers)
    ]
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - start
    for proc, err in zip(procs, errors, strict=True):
        if proc.returncode not in (0, 1):  # 1: some request failed or ended unknown
            raise SystemExit(f"a worker failed ({proc.returncode}): {err.decode()[-2000:]}")
    asyncio.run(_drop(schema))
    return wall


async def _drop(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="requests per run")
    parser.add_argument("--concurrency", type=int, default=200, help="the shared limit")
    parser.add_argument("--limit", type=int, default=2000, help="the emulator's limit")
    parser.add_argument("--generation-seconds", type=float, default=0.5)
    parser.add_argument("--poll", type=float, default=0.1, help="--poll-interval of workers")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs.jsonl"
        write_jobs(jobs, args.n)
        emu_args = [
            "--generation-seconds", str(args.generation_seconds),
            "--concurrency-limit", str(args.limit),
        ]  # fmt: skip
        rows = []
        with emulator(API_KEY, args=emu_args) as handle:
            walls = {}
            for workers in (1, 3):
                cpu = (children_cpu_seconds(), handle.cpu_seconds(), postgres_cpu_seconds())
                walls[workers] = run_workers(handle.url, jobs, workers, args.concurrency, args.poll)
                worker_cpu, emulator_cpu, db_cpu = (
                    (now - then) * 1000 / args.n
                    for now, then in zip(
                        (children_cpu_seconds(), handle.cpu_seconds(), postgres_cpu_seconds()),
                        cpu,
                        strict=True,
                    )
                )
                total = worker_cpu + emulator_cpu + db_cpu
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
                rows.append(
                    [
                        str(workers),
                        f"{walls[workers]:.1f}",
                        f"{args.n / walls[workers]:.0f}",
                        f"{walls[1] / walls[workers]:.2f}x",
                        f"{worker_cpu:.2f}",
                        f"{emulator_cpu:.2f}",
                        f"{db_cpu:.2f}",
                        f"{(os.cpu_count() or 1) * 1000 / total:.0f}",
                        f"{load:.1f}",
                    ]
                )
    ideal = args.n / args.concurrency * args.generation_seconds
    print(
        f"{args.n} requests, shared limit {args.concurrency}, emulator limit {args.limit},"
        f" generations {args.generation_seconds:g} s (ideal {ideal:.1f} s), "
        f"{os.cpu_count()} CPUs"
    )
    print(
        table(
            ["workers", "wall s", "req/s", "vs 1 worker", "worker ms", "emulator ms", "db ms",
             "CPU ceiling req/s", "load avg"],
            rows,
        )
    )  # fmt: skip
    print(
        "worker / emulator / db ms: CPU milliseconds per request (all workers together; the"
        " emulator process; every PostgreSQL process). CPU ceiling: the requests per second"
        " the machine's CPUs could carry at that cost, if nothing else ran."
    )


if __name__ == "__main__":
    main()
