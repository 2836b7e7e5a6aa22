"""``pixverse batch`` resuming a long batch: what is left is read (and sent) first, the lines
the journal holds as finished after, each still reported once under its own line number; a
PostgreSQL worker reporting its own outcomes does not read the finished lines again at all.
Nothing here is timed (``benchmarks/bench_scale.py`` measures the resume).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from pixverse_async.cli.batch_file import check_file
from pixverse_async.emulator import Emulator
from pixverse_async.journal.finished import finished_keys

from .test_workers import KEY, ROOT, hang_guard, write_jobs

N, DONE = 900, 700


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


async def batch(base_url: str, jobs: Path, journal: list[str]) -> list[dict[str, Any]]:
    """Run ``pixverse --json batch`` to its end; return the records it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pixverse_async", "--json", "--base-url", base_url,
        "--api-key", KEY, "--poll-interval", "0.05", "batch", str(jobs), *journal,
        "--concurrency", "50",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env(),
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


def head(jobs: Path, n: int) -> Path:
    part = jobs.with_name(f"head{n}.jsonl")
    part.write_text("".join(jobs.read_text().splitlines(keepends=True)[:n]))
    return part


@hang_guard(120)
async def test_a_resumed_batch_reads_what_is_left_first_and_reports_every_line_once(
    tmp_path: Path,
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, N)
    path = tmp_path / "journal.sqlite"
    journal = ["--journal", str(path)]
    async with Emulator(api_keys={KEY}, generation_seconds=0.02) as emu:
        await batch(emu.base_url, head(jobs, DONE), journal)
        assert len(emu.state.generations) == DONE
        # What the command reads on resuming: the 200 lines left, then the 700 finished.
        checked = await check_file(jobs, await finished_keys(path))
        order = checked.requests(split=True)
        assert checked.finished == DONE and checked.split
        assert next(order).prompt == f"worker scene {DONE}"  # line DONE + 1
        assert [checked.run_line(i) for i in (0, N - DONE - 1, N - DONE, N - 1)] == [
            DONE + 1, N, 1, DONE
        ]  # fmt: skip
        records = await batch(emu.base_url, jobs, journal)
        generated = len(emu.state.generations)

    assert generated == N
    summary = records.pop()["summary"]
    assert summary["succeeded"] == N and summary["resumed"] == DONE
    assert sorted(r["line"] for r in records) == list(range(1, N + 1))
    assert {r["line"] for r in records if not r["resumed"]} == set(range(DONE + 1, N + 1))


@hang_guard(120)
async def test_a_request_listed_twice_keeps_the_files_order_and_both_run(tmp_path: Path) -> None:
    """Journal keys count repeats in the file's order: a file with a repeated request is run
    in that order (the second copy is a request of its own, sent on the resume)."""
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, 30)
    lines = jobs.read_text().splitlines(keepends=True)
    jobs.write_text("".join([*lines, lines[0]]))  # line 31 repeats line 1
    path = tmp_path / "journal.sqlite"
    async with Emulator(api_keys={KEY}, generation_seconds=0.02) as emu:
        await batch(emu.base_url, head(jobs, 20), ["--journal", str(path)])
        checked = await check_file(jobs, await finished_keys(path))
        assert checked.finished == 21 and not checked.split  # line 31's first copy finished
        records = await batch(emu.base_url, jobs, ["--journal", str(path)])
        generated = len(emu.state.generations)

    assert generated == 31  # the repeat is a generation of its own
    records.pop()
    assert sorted(r["line"] for r in records) == list(range(1, 32))
    assert {r["line"] for r in records if not r["resumed"]} == set(range(21, 32))


@hang_guard(120)
async def test_a_postgresql_worker_resuming_its_batch_reports_only_what_it_ran(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, N)
    journal = ["--journal", postgres_dsn, "--journal-schema", pg_schema, "--batch", "resume"]
    async with Emulator(api_keys={KEY}, generation_seconds=0.02) as emu:
        await batch(emu.base_url, head(jobs, DONE), journal)
        records = await batch(emu.base_url, jobs, journal)
        generated = len(emu.state.generations)

    assert generated == N
    summary = records.pop()["summary"]
    assert summary["total"] == N - DONE and summary["elsewhere"] == DONE
    assert summary["batch"]["succeeded"] == N
    assert sorted(r["line"] for r in records) == list(range(DONE + 1, N + 1))
    assert not any(r["resumed"] for r in records)
