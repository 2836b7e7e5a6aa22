"""The job runner at scale: wall time against the ideal, status requests per job, memory.

Run from the repository root::

    python -m benchmarks.bench_runner              # 10,000 jobs (in-memory journal) and
                                                   # 5,000 jobs with a file journal
    python -m benchmarks.bench_runner --quick      # 2,000 jobs each

The emulator (its own process) runs every generation for ``--generation-seconds`` (1 s) and
lets one key run ``--limit`` (100) at once; the runner's concurrency is the same 100. No
client can beat ``ceil(N / limit) x generation time`` (100 s for 10,000 jobs): the table
shows the wall time against that ideal, the status requests per job (1.0 at best), the
concurrency-limit answers the runner met, the client's peak RSS, and the CPU the client and
the emulator used (as a share of one core over the wall time) to show which one limits.

Each run is a fresh client process (``--worker``), so peak RSS is that run's own. The poll
policy is tuned for jobs that all take the same, known time: the first poll comes exactly one
generation time after the submit (no jitter), then every ``--interval`` seconds. The worker
also times every submit and status call (the mean latencies are printed), and
``--profile PATH`` writes a cProfile of the worker for investigation.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pixverse_async import Journal, PixVerse, PollPolicy, TextToVideo

from ._util import ROOT, emulator, peak_rss_mb, self_cpu_seconds, table

API_KEY = "bench-key"


def poll_policy(generation_seconds: float, interval: float) -> PollPolicy:
    """First poll one generation time after the submit, then every ``interval`` seconds."""
    return PollPolicy(
        first_delay=generation_seconds,
        interval=interval,
        factor=1.0,
        max_delay=interval,
        jitter=0.0,
        timeout=None,
    )


# ----------------------------------------------------------------------------- the worker


class _Timings:
    """Counts and total latency of submit, status and journal calls (by wrapping them)."""

    JOURNAL_CALLS = ("mark_sending", "mark_submitted", "mark_succeeded")

    def __init__(self) -> None:
        self.submits = 0
        self.submit_seconds = 0.0
        self.polls = 0
        self.poll_seconds = 0.0
        self.journal_seconds = 0.0

    def wrap_journal(self, journal: Journal) -> None:
        for name in self.JOURNAL_CALLS:
            call = getattr(journal, name)

            async def timed(*args: Any, _call: Any = call, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await _call(*args, **kwargs)
                finally:
                    self.journal_seconds += time.perf_counter() - started

            setattr(journal, name, timed)

    def wrap(self, videos: Any) -> None:
        submit_raw, status_raw = videos._submit_raw, videos._status_raw

        async def timed_submit(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await submit_raw(*args, **kwargs)
            finally:
                self.submits += 1
                self.submit_seconds += time.perf_counter() - started

        async def timed_status(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await status_raw(*args, **kwargs)
            finally:
                self.polls += 1
                self.poll_seconds += time.perf_counter() - started

        videos._submit_raw, videos._status_raw = timed_submit, timed_status


async def _worker(args: argparse.Namespace) -> dict[str, Any]:
    fields = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
    requests = [TextToVideo(prompt=f"benchmark scene {i}", **fields) for i in range(args.jobs)]
    policy = poll_policy(args.generation_seconds, args.interval)
    timings = _Timings()
    occupancy: list[int] = []
    journal = Journal(args.journal or ":memory:")
    timings.wrap_journal(journal)
    async with journal, PixVerse(api_key=API_KEY, base_url=args.url, poll=policy) as client:
        timings.wrap(client.videos)
        runner = client.runner(concurrency=args.concurrency, journal=journal)
        cpu_before = self_cpu_seconds()
        started = time.perf_counter()
        outcomes = ok = 0
        async with runner.run(requests) as stream:

            async def sample() -> None:
                while True:
                    await asyncio.sleep(0.25)
                    occupancy.append(stream.progress.running)

            sampler = asyncio.ensure_future(sample())
            try:
                async for outcome in stream:
                    outcomes += 1
                    ok += outcome.ok
            finally:
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
            progress = stream.progress
        wall = time.perf_counter() - started
        cpu = self_cpu_seconds() - cpu_before
    return {
        "jobs": args.jobs,
        "outcomes": outcomes,
        "succeeded": ok,
        "wall": wall,
        "status_requests": progress.status_requests,
        "limit_answers": progress.limit_answers,
        "client_cpu": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "mean_submit_ms": 1000 * timings.submit_seconds / max(1, timings.submits),
        "mean_poll_ms": 1000 * timings.poll_seconds / max(1, timings.polls),
        "journal_ms_per_job": 1000 * timings.journal_seconds / max(1, args.jobs),
        "mean_running": sum(occupancy) / len(occupancy) if occupancy else 0.0,
    }


def _run_worker(args: argparse.Namespace) -> dict[str, Any]:
    if not args.profile:
        return asyncio.run(_worker(args))
    profile = cProfile.Profile()
    result = profile.runcall(asyncio.run, _worker(args))
    profile.dump_stats(args.profile)
    return result


# ----------------------------------------------------------------------------- the parent


def measure(
    *,
    jobs: int,
    journal: str,
    generation_seconds: float,
    limit: int,
    concurrency: int,
    interval: float,
    profile: str | None = None,
) -> dict[str, Any]:
    """One run in a fresh client process against a fresh emulator; ``journal`` is
    ``"memory"`` or ``"file"`` (a new SQLite file in a temporary folder)."""
    emulator_args = ("--generation-seconds", str(generation_seconds), "--concurrency-limit")
    with tempfile.TemporaryDirectory(prefix="pixverse-bench-") as tmp:
        command = [sys.executable, "-m", "benchmarks.bench_runner", "--worker"]
        command += ["--jobs", str(jobs), "--generation-seconds", str(generation_seconds)]
        command += ["--concurrency", str(concurrency), "--interval", str(interval)]
        if journal == "file":
            command += ["--journal", str(Path(tmp) / "journal.sqlite")]
        if profile:
            command += ["--profile", profile]
        with emulator(API_KEY, args=(*emulator_args, str(limit))) as emu:
            emulator_cpu = emu.cpu_seconds()
            done = subprocess.run(
                [*command, "--url", emu.url], cwd=ROOT, capture_output=True, text=True, check=False
            )
            emulator_cpu = emu.cpu_seconds() - emulator_cpu
    if done.returncode != 0:
        raise RuntimeError(f"the runner worker failed:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["journal"] = journal
    report["emulator_cpu"] = emulator_cpu
    report["slots"] = min(limit, concurrency)
    report["generation_seconds"] = generation_seconds
    report["ideal"] = math.ceil(jobs / report["slots"]) * generation_seconds
    return report


def runs_table(reports: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in reports:
        slot_ms = 1000 * r["wall"] * r["slots"] / r["jobs"]  # one job's share of a slot
        polls_per_job = r["status_requests"] / r["jobs"]
        other_ms = (
            slot_ms
            - 1000 * r["generation_seconds"]
            - r["mean_submit_ms"]
            - polls_per_job * r["mean_poll_ms"]
            - r["journal_ms_per_job"]
        )
        rows.append(
            [
                r["journal"],
                f"{r['jobs']:,}",
                f"{r['succeeded']:,}",
                f"{r['wall']:.1f}",
                f"{r['ideal']:.0f}",
                f"{100 * (r['wall'] / r['ideal'] - 1):+.1f}%",
                f"{polls_per_job:.2f}",
                str(r["limit_answers"]),
                f"{r['mean_running']:.1f}",
                f"{r['mean_submit_ms']:.1f}",
                f"{r['mean_poll_ms']:.1f}",
                f"{r['journal_ms_per_job']:.1f}",
                f"{other_ms:.1f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{100 * r['client_cpu'] / r['wall']:.0f}%",
                f"{100 * r['emulator_cpu'] / r['wall']:.0f}%",
            ]
        )
    headers = [
        "journal", "jobs", "ok", "wall s", "ideal s", "vs ideal", "status req/job",
        "limit answers", "mean running", "submit ms", "poll ms", "journal ms/job",
        "other ms/job", "peak RSS MiB",
        "client CPU", "emulator CPU",
    ]  # fmt: skip
    return table(headers, rows)


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> str:
    """Run the in-memory and the file-journal measurements; return the Markdown report."""
    jobs = args.jobs or (2000 if args.quick else 10_000)
    file_jobs = args.file_jobs or (2000 if args.quick else 5000)
    plan = [(journal, jobs if journal == "memory" else file_jobs) for journal in args.journals]
    reports = []
    for journal, n in plan:
        out(
            f"runner: {n:,} jobs, {journal} journal, generation {args.generation_seconds:g} s, "
            f"limit {args.limit}, concurrency {args.concurrency}"
        )
        report = measure(
            jobs=n,
            journal=journal,
            generation_seconds=args.generation_seconds,
            limit=args.limit,
            concurrency=args.concurrency,
            interval=args.interval,
            profile=args.profile,
        )
        out(f"  {report['wall']:.1f} s (ideal {report['ideal']:.0f} s)")
        reports.append(report)
    text = runs_table(reports)
    out(text)
    policy = poll_policy(args.generation_seconds, args.interval)
    settings = (
        f"PollPolicy(first_delay={policy.first_delay:g}, interval={policy.interval:g}, "
        f"factor={policy.factor:g}, max_delay={policy.max_delay:g}, jitter={policy.jitter:g}), "
        f"runner concurrency {args.concurrency}, emulator limit {args.limit}, generation "
        f"{args.generation_seconds:g} s"
    )
    out(f"settings: {settings}")
    return (
        "### Job runner\n\n"
        "Ideal = ceil(jobs / limit) x generation time. `mean running` is the runner's "
        "in-flight count sampled every 0.25 s (the limit is the most it can be). Every job "
        "holds a slot for one generation time plus overhead; the overhead is split into "
        "`submit ms` and `poll ms` (mean latency of the submit and status calls, the latter "
        "times status requests per job), `journal ms/job` (mark_sending + mark_submitted + "
        "mark_succeeded, as awaited by the runner) and `other ms/job` (the rest of the slot "
        "time, wall x limit / jobs: scheduling, the ramp up and down). CPU is user + system "
        "time as a share of one core over the wall time. Each run is a fresh client process "
        "against a fresh emulator.\n\n"
        f"Settings: {settings}.\n\n```\n{text}\n```\n"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_runner", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="2,000 jobs per journal")
    parser.add_argument("--jobs", type=int, default=0, help="jobs (in-memory journal; 10000)")
    parser.add_argument("--file-jobs", type=int, default=0, help="jobs with a file journal")
    parser.add_argument(
        "--journals",
        type=lambda s: [j for j in s.split(",") if j],
        default=["memory", "file"],
        help="which journals to measure: memory,file",
    )
    parser.add_argument("--generation-seconds", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=100, help="the emulator's per-key limit")
    parser.add_argument("--concurrency", type=int, default=100, help="the runner's concurrency")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between polls")
    parser.add_argument("--profile", help="write a cProfile of the client worker to this path")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--journal", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        print(json.dumps(_run_worker(args)), flush=True)
        return 0
    if any(j not in ("memory", "file") for j in args.journals):
        build_parser().error("--journals takes memory and/or file")
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
