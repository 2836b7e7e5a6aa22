"""Journal operations per second: the SQLite store against the PostgreSQL store, side by side.

Run from the repository root::

    python -m benchmarks.bench_journal                       # 2,000 requests, 3 rounds
    python -m benchmarks.bench_journal --n 200 --rounds 1 --concurrency 1,16

PostgreSQL is ``PIXVERSE_TEST_POSTGRES_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``;
each run gets its own schema, dropped after); without a server the PostgreSQL columns say so.

Per round, store and concurrency, on a fresh journal (a new file, a new schema):

- ``bulk rows/s``: ``mark_pending_many`` of all ``n`` requests in one call;
- ``lifecycle ops/s``: ``concurrency`` coroutines take requests from a queue and record each
  one's ``mark_sending``, ``mark_submitted`` and ``mark_succeeded`` (3 ops per request, two of
  them durable: fsynced before they return on both stores);
- ``get_many keys/s``: reading all ``n`` entries back in one call.

Stores are interleaved within a round (sqlite, postgres, sqlite, ...); the table shows medians
over the rounds and the PostgreSQL/SQLite ratio. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from pixverse_async.journal import Journal, request_key

from ._util import DSN, drop_schema, median, postgres_unavailable, results_section, table

STORES = ("sqlite", "postgres")


async def one_run(journal: Journal, n: int, concurrency: int) -> tuple[float, float, float]:
    """(bulk rows/s, lifecycle ops/s, get_many keys/s) on an open, empty journal."""
    items = [(request_key("t2v", {"n": i}), "t2v", {"n": i, "prompt": "a kite"}) for i in range(n)]
    started = time.perf_counter()
    await journal.mark_pending_many(items)
    bulk = n / (time.perf_counter() - started)

    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for i, (key, _, _) in enumerate(items):
        queue.put_nowait((i, key))

    async def worker() -> None:
        while not queue.empty():
            i, key = queue.get_nowait()
            await journal.mark_sending(key, f"trace-{i}")
            await journal.mark_submitted(key, 1_000_000 + i, 45)
            await journal.mark_succeeded(key, {"id": 1_000_000 + i, "status": 1, "url": "u"})

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    lifecycle = 3 * n / (time.perf_counter() - started)

    started = time.perf_counter()
    found = await journal.get_many(key for key, _, _ in items)
    read = n / (time.perf_counter() - started)
    assert len(found) == n
    return bulk, lifecycle, read


async def measure(store: str, folder: Path, n: int, concurrency: int) -> tuple[float, ...]:
    if store == "sqlite":
        path = folder / f"{uuid.uuid4().hex}.sqlite"
        async with Journal(path) as journal:
            return await one_run(journal, n, concurrency)
    schema = f"pixverse_bench_{uuid.uuid4().hex[:10]}"
    try:
        async with Journal(DSN, schema=schema, batch="bench") as journal:
            return await one_run(journal, n, concurrency)
    finally:
        await drop_schema(schema)


async def collect(args: argparse.Namespace) -> str:
    levels = [int(c) for c in args.concurrency.split(",")]
    missing = await postgres_unavailable()
    stores = [s for s in STORES if s == "sqlite" or missing is None]
    runs: dict[tuple[str, int], list[tuple[float, ...]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for concurrency in levels:
                for store in stores:
                    result = await measure(store, Path(tmp), args.n, concurrency)
                    runs.setdefault((store, concurrency), []).append(result)

    def med(store: str, concurrency: int, column: int) -> float | None:
        found = runs.get((store, concurrency))
        return median([r[column] for r in found]) if found else None

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.0f}"

    def ratio(a: float | None, b: float | None) -> str:
        return "n/a" if a is None or b is None else f"{a / b:.2f}"

    rows = []
    for c in levels:
        cells = [str(c)]
        for column in range(3):
            sq, pg = med("sqlite", c, column), med("postgres", c, column)
            cells += [fmt(sq), fmt(pg), ratio(pg, sq)]
        rows.append(cells)
    headers = ["concurrency"]
    for what in ("bulk rows/s", "lifecycle ops/s", "get_many keys/s"):
        headers += [f"sqlite {what}", f"pg {what}", "pg/sqlite"]
    # The lifecycle first: it is the figure a runner feels.
    order = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9]
    text = table([headers[i] for i in order], [[r[i] for i in order] for r in rows])
    if missing is not None:
        text += f"\n(PostgreSQL columns: no server at {DSN}: {missing})"
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_journal", description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="requests per run")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    return parser


def run(args: argparse.Namespace) -> str:
    """Run the benchmark; print the table and return the RESULTS.md section."""
    text = asyncio.run(collect(args))
    print(text)
    argv = f"--n {args.n} --concurrency {args.concurrency} --rounds {args.rounds}"
    return results_section(
        "Journal stores",
        f"`python -m benchmarks.bench_journal {argv}`: journal operations per second on the "
        "SQLite store and the PostgreSQL store (local server, its default `synchronous_commit`)"
        ", medians. `lifecycle`: `mark_sending`, `mark_submitted`, `mark_succeeded` per "
        "request from `concurrency` coroutines (two fsynced commits per request on both); "
        "`bulk`: one `mark_pending_many`; `get_many`: one read of every entry.",
        text,
    )


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
