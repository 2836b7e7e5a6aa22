"""Batches of growing size: cost per request, memory, journal size and resume time by N.

Run from the repository root (PostgreSQL rows need the tests' server,
``PIXVERSE_TEST_POSTGRES_DSN``, default ``postgresql://postgres@127.0.0.1:5432/test``)::

    python -m benchmarks.bench_scale                          # N = 1,000 and 10,000
    python -m benchmarks.bench_scale --n 1000,10000,100000    # the issue's sizes (long)
    python -m benchmarks.bench_scale --stores sqlite --n 200  # quick

For each journal store and N, one ``pixverse batch`` worker (its own process) runs the first
90 % of an N-line file against the emulator (its own process: generations of
``--generation-seconds``, a limit far above ``--concurrency``), then the whole file with the
same journal, as a resume of a batch that is 90 % done. Columns: the worker's CPU per
request and peak RSS in the first run, the PostgreSQL server's CPU per request (every
backend, so run it on a quiet server), the journal's size on disk (the SQLite file, or the
batch's tables), and the resume's delay from the process start to its first new outcome
(the time to start, read the file and the journal, plus one generation and one poll; the
workers run with Python's bytecode cache on, as an installed package does). Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
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
from .bench_workers import write_jobs

API_KEY = "bench-scale-key"


def _worker(
    handle: EmulatorHandle, jobs: Path, journal: list[str], args: argparse.Namespace
) -> tuple[float, float, float, float | None]:
    """Run one ``pixverse --json batch`` to its end; return its wall time, CPU seconds, peak
    RSS (MB) and the seconds from its start to its first outcome that was not resumed."""
    argv = [
        sys.executable, "-m", "pixverse_async", "--json", "--base-url", handle.url,
        "--api-key", API_KEY, "--poll-interval", str(args.poll), "batch", str(jobs),
        "--concurrency", str(args.concurrency), *journal,
    ]  # fmt: skip
    # Bytecode cached as an installed package has it: without, every start compiles the
    # package (about 1 s here), which would count in the resume's delay.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    first: list[float] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not first and b'"resumed": false' in line:
                first.append(time.perf_counter() - start)

    reader = threading.Thread(target=read)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    reader.join()
    assert proc.stdout is not None
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"the worker failed ({proc.returncode})")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, first[0] if first else None


async def _pg_size(schema: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(DSN)
    try:
        size = await conn.fetchval(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
            schema,
        )
        return int(size or 0)
    finally:
        await conn.close()


def one(
    handle: EmulatorHandle, store: str, n: int, tmp: Path, args: argparse.Namespace
) -> list[str]:
    full, most = tmp / f"jobs{n}.jsonl", tmp / f"jobs{n}-90.jsonl"
    write_jobs(full, n)
    done = n * 9 // 10
    most.write_text("".join(full.read_text().splitlines(keepends=True)[:done]))
    schema = "pixverse_bench_" + uuid.uuid4().hex[:10]
    if store == "sqlite":
        path = tmp / f"journal{n}.sqlite"
        journal = ["--journal", str(path)]
    else:
        journal = ["--journal", DSN, "--batch", "scale", "--journal-schema", schema]
    db_before = postgres_cpu_seconds() if store == "postgresql" else 0.0
    wall, cpu, rss, _ = _worker(handle, most, journal, args)
    db_cpu = postgres_cpu_seconds() - db_before if store == "postgresql" else 0.0
    if store == "sqlite":
        size = sum(p.stat().st_size for p in tmp.glob(f"journal{n}.sqlite*"))
    else:
        size = asyncio.run(_pg_size(schema))
    _, _, rss_resume, resume = _worker(handle, full, journal, args)
    if store == "postgresql":
        asyncio.run(drop_schema(schema))
    return [
        store,
        f"{n:,}",
        f"{wall:.1f}",
        f"{cpu * 1000 / done:.2f}",
        f"{db_cpu * 1000 / done:.2f}" if store == "postgresql" else "-",
        f"{rss:.0f} / {rss_resume:.0f}",
        f"{size / 1e6:.1f}",
        f"{resume:.2f}" if resume is not None else "-",
    ]


def collect(args: argparse.Namespace) -> str:
    stores = args.stores.split(",")
    if "postgresql" in stores:
        missing = asyncio.run(postgres_unavailable())
        if missing is not None:
            stores.remove("postgresql")
            print(f"PostgreSQL rows not run: no server at {DSN}: {missing}", file=sys.stderr)
    sizes = [int(x) for x in args.n.split(",")]
    rows = []
    emu_args = [
        "--generation-seconds", str(args.generation_seconds),
        "--concurrency-limit", str(args.limit),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, emulator(API_KEY, args=emu_args) as handle:
        for store in stores:
            for n in sizes:
                rows.append(one(handle, store, n, Path(tmp), args))
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    head = (
        f"one worker, --concurrency {args.concurrency}, emulator limit {args.limit}, "
        f"generations {args.generation_seconds:g} s, {os.cpu_count()} CPUs; first run: 90 % of "
        "N; resume: the whole file on that journal"
    )
    headers = ["store", "N", "wall s", "worker CPU ms/req", "db CPU ms/req",
               "peak RSS MB (run / resume)", "journal MB",
               "resume: first new outcome s"]  # fmt: skip
    return head + "\n" + table(headers, rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scale", description=__doc__)
    parser.add_argument("--n", default="1000,10000", help="comma-separated batch sizes")
    parser.add_argument("--stores", default="sqlite,postgresql", help="journal stores")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--limit", type=int, default=2000, help="the emulator's limit")
    parser.add_argument("--generation-seconds", type=float, default=0.05)
    parser.add_argument("--poll", type=float, default=0.05, help="--poll-interval")
    return parser


def run(args: argparse.Namespace) -> str:
    """Run the benchmark; print the table and return the RESULTS.md section."""
    text = collect(args)
    print(text)
    return results_section(
        "Batches of 1,000 to 100,000 requests",
        f"`python -m benchmarks.bench_scale --n {args.n} --stores {args.stores}`: one "
        "`pixverse batch` worker per row.",
        text,
    )


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
