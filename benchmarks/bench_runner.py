"""The job runner at scale: wall time against the ideal, status requests per job, memory.

Run from the repository root::

    python -m benchmarks.bench_runner              # 10,000 jobs (in-memory journal) and
                                                   # 5,000 jobs with a file journal, then
                                                   # 10,000 log-normal jobs per poll mode
    python -m benchmarks.bench_runner --quick      # 2,000 jobs each

Poll modes (second table): generations take log-normally distributed times (``--median``
1 s standing for 60 s, ``--sigma``), the runner and the emulator's limit are 100, and the
same jobs run with (a) ``default``: today's default ``PollPolicy`` scaled to the median (its
5 s / 2 s / x1.5 / 15 s for a 60 s generation), no learning, and (b) ``learned``: the same
policy with the runner's ``PollLearner`` (first poll when about half of similar jobs are
done), and (c) ``webhooks``: every generation is sent with a webhook, the emulator delivers
to ``webhook_handler`` in the client process and the shared ``CompletionHub`` ends the job;
the runner polls only by the hub's ``SafetyNet`` (scaled like the policy). The table shows
status requests per job and wall time against the ideal (the sum of the generation times
the emulator drew, over the limit).

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
import contextlib
import cProfile
import json
import math
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from pixverse_async import Journal, PixVerse, PollPolicy, TextToVideo
from pixverse_async.jobs.polling import SafetyNet, learning_key
from pixverse_async.webhooks import CompletionHub, WebhookEvent, webhook_handler

from ._util import ROOT, emulator, peak_rss_mb, results_section, self_cpu_seconds, table
from .lognormal_emulator import generation_times

API_KEY = "bench-key"


#: The poll modes compared on log-normal generation times: mode -> (description, learn).
POLL_MODES: dict[str, tuple[str, bool]] = {
    "default": ("(a) today's default PollPolicy, scaled", False),
    "learned": ("(b) the same policy + the runner's PollLearner", True),
    "webhooks": ("(c) webhooks + the hub's SafetyNet, scaled", True),
}

#: The webhook of mode (c): the emulator delivers to the worker's handler with this secret.
WEBHOOK_ID, WEBHOOK_SECRET = "1234", "bench-webhook-secret"

#: The generation time the median stands for (the default policy is tuned for real time).
REAL_MEDIAN = 60.0


def scaled_default_policy(median: float) -> PollPolicy:
    """``PollPolicy()`` with every time scaled by ``median / 60 s``."""
    scale = median / REAL_MEDIAN
    d = PollPolicy()
    return PollPolicy(
        first_delay=d.first_delay * scale,
        interval=d.interval * scale,
        factor=d.factor,
        max_delay=d.max_delay * scale,
        jitter=d.jitter,
        timeout=None if d.timeout is None else d.timeout * scale,
    )


def scaled_safety_net(median: float) -> SafetyNet:
    """``SafetyNet()`` with its times scaled by ``median / 60 s`` (like the policy)."""
    scale = median / REAL_MEDIAN
    d = SafetyNet()
    return SafetyNet(factor=d.factor, expected=d.expected * scale, interval=d.interval * scale)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for the worker's webhook route)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def webhooks(
    args: argparse.Namespace, events: list[int]
) -> AsyncIterator[CompletionHub | None]:
    """Mode (c): a hub, and ``webhook_handler`` feeding it on 127.0.0.1:``--hook-port``
    (``events[0]`` counts the verified events); other modes: None."""
    if args.mode != "webhooks":
        yield None
        return

    def unclaimed(event: WebhookEvent) -> None:
        raise AssertionError(f"an event for a video the run did not submit: {event}")

    hub = CompletionHub(webhook_id=WEBHOOK_ID, on_unclaimed=unclaimed,
                        safety_net=scaled_safety_net(args.median))  # fmt: skip

    async def on_event(event: WebhookEvent) -> None:
        events[0] += 1
        await hub.deliver(event)

    app = web.Application()
    app.router.add_post("/hook", webhook_handler(WEBHOOK_SECRET, on_event))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", args.hook_port).start()
        yield hub
    finally:
        await runner.cleanup()


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
    if args.mode == "fixed":  # known, equal times: a policy tuned to them, nothing to learn
        policy, learn = poll_policy(args.generation_seconds, args.interval), False
    else:
        policy, learn = scaled_default_policy(args.median), POLL_MODES[args.mode][1]
    timings = _Timings()
    occupancy: list[int] = []
    journal = Journal(args.journal or ":memory:")
    timings.wrap_journal(journal)
    events = [0]
    async with webhooks(args, events) as hub, journal:
        client = PixVerse(api_key=API_KEY, base_url=args.url, poll=policy, webhooks=hub)
        async with client:
            timings.wrap(client.videos)
            runner = client.runner(concurrency=args.concurrency, journal=journal, learner=learn)
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
        "learned_first_poll": (
            runner.learner.first_delay(learning_key(requests[0])) if runner.learner else None
        ),
        "webhook_events": events[0],
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


def measure_polling(
    *, mode: str, jobs: int, limit: int, concurrency: int, median: float, sigma: float, seed: int
) -> dict[str, Any]:
    """One poll mode on log-normal generation times, in a fresh client process against a
    fresh emulator that draws the same times (same seed) for every mode."""
    command = [sys.executable, "-m", "benchmarks.bench_runner", "--worker", "--mode", mode]
    command += ["--jobs", str(jobs), "--concurrency", str(concurrency), "--median", str(median)]
    emulator_args = ("--limit", str(limit), "--median", str(median), "--sigma", str(sigma))
    emulator_args += ("--seed", str(seed))
    if mode == "webhooks":  # PixVerse's retry schedule scaled like the generation times
        port = free_port()
        command += ["--hook-port", str(port)]
        hook = f"{WEBHOOK_ID}=http://127.0.0.1:{port}/hook,{WEBHOOK_SECRET}"
        emulator_args += ("--webhook", hook, "--webhook-retry-scale", str(median / REAL_MEDIAN))
    with emulator(API_KEY, args=emulator_args, module="benchmarks.lognormal_emulator") as emu:
        done = subprocess.run(
            [*command, "--url", emu.url], cwd=ROOT, capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"the runner worker failed:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    times = generation_times(jobs, median=median, sigma=sigma, seed=seed)
    slots = min(limit, concurrency)
    report.update(mode=mode, slots=slots, ideal=max(sum(times) / slots, max(times)))
    return report


def polling_table(reports: Sequence[dict[str, Any]]) -> str:
    base = reports[0]
    rows = []
    for r in reports:
        per_job = r["status_requests"] / r["jobs"]
        learned = r["learned_first_poll"]
        rows.append(
            [
                POLL_MODES[r["mode"]][0],
                f"{r['jobs']:,}",
                f"{r['succeeded']:,}",
                f"{per_job:.3f}",
                f"{per_job / (base['status_requests'] / base['jobs']):.2f}",
                f"{r['wall']:.1f}",
                f"{r['ideal']:.1f}",
                f"{r['wall'] / r['ideal']:.3f}",
                f"{r['wall'] / base['wall']:.2f}",
                "-" if learned is None else f"{learned:.2f}",
                str(r["limit_answers"]),
                f"{r.get('webhook_events', 0):,}",
            ]
        )
    headers = [
        "mode", "jobs", "ok", "status req/job", "req vs (a)", "wall s", "ideal s",
        "wall/ideal", "wall vs (a)", "learned first poll s", "limit answers", "webhook events",
    ]  # fmt: skip
    return table(headers, rows)


def run_polling(args: argparse.Namespace, out: Callable[[str], None] = print) -> str:
    """Every poll mode on the same log-normal times; return the Markdown section."""
    jobs = args.poll_jobs or (2000 if args.quick else 10_000)
    reports = []
    for mode in args.poll_modes:
        out(f"polling: {jobs:,} jobs, mode {mode}, median {args.median:g} s, sigma {args.sigma:g}")
        report = measure_polling(
            mode=mode, jobs=jobs, limit=args.limit, concurrency=args.concurrency,
            median=args.median, sigma=args.sigma, seed=args.seed,
        )  # fmt: skip
        out(f"  {report['status_requests'] / jobs:.2f} status requests per job")
        reports.append(report)
    text = polling_table(reports)
    out(text)
    policy = scaled_default_policy(args.median)
    net = scaled_safety_net(args.median)
    return results_section(
        "Poll modes (log-normal generation times)",
        f"{jobs:,} jobs, runner concurrency {args.concurrency}, emulator limit {args.limit}; "
        f"generation times log-normal with median {args.median:g} s (standing for "
        f"{REAL_MEDIAN:g} s) and sigma {args.sigma:g}, the same draws (seed {args.seed}) for "
        "every mode. Ideal = the sum of those times over the limit. Policy of both modes: "
        f"`PollPolicy()` scaled by {args.median:g}/{REAL_MEDIAN:g} = first_delay "
        f"{policy.first_delay:.3f}, interval {policy.interval:.3f}, factor {policy.factor:g}, "
        f"max_delay {policy.max_delay:.3f}, jitter {policy.jitter:g}. (b) adds the runner's "
        "`PollLearner()` (first poll where half of the jobs of the kind are done, then the "
        "policy from that age). (c) sends every generation with a webhook: the emulator "
        "delivers signed events (PixVerse's retry schedule scaled the same way) to "
        "`webhook_handler` in the client process, whose `CompletionHub` ends each job; the "
        f"runner polls only by `SafetyNet()` scaled (first poll at {net.factor:g} x the "
        f"learned time, else {net.expected:.3f} s, then every {net.interval:.3f} s).",
        text,
    )


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
    """The fixed-time runs and the poll modes; return the Markdown report."""
    fixed = run_fixed(args, out) if args.journals else ""
    polling = run_polling(args, out) if args.poll_modes else ""
    return "\n".join(part for part in (fixed, polling) if part)


def run_fixed(args: argparse.Namespace, out: Callable[[str], None] = print) -> str:
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
    return results_section(
        "Job runner",
        "Ideal = ceil(jobs / limit) x generation time. `mean running` is the runner's "
        "in-flight count sampled every 0.25 s (the limit is the most it can be). Every job "
        "holds a slot for one generation time plus overhead; the overhead is split into "
        "`submit ms` and `poll ms` (mean latency of the submit and status calls, the latter "
        "times status requests per job), `journal ms/job` (mark_sending + mark_submitted + "
        "mark_succeeded, as awaited by the runner) and `other ms/job` (the rest of the slot "
        "time, wall x limit / jobs: scheduling, the ramp up and down). CPU is user + system "
        "time as a share of one core over the wall time. Each run is a fresh client process "
        "against a fresh emulator.\n\n"
        f"Settings: {settings}.",
        text,
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
    parser.add_argument(
        "--poll-modes",
        type=lambda s: [m for m in s.split(",") if m],
        default=list(POLL_MODES),
        help=f"poll modes to compare on log-normal times: {','.join(POLL_MODES)} ('' for none)",
    )
    parser.add_argument("--poll-jobs", type=int, default=0, help="jobs per poll mode (10000)")
    parser.add_argument("--median", type=float, default=1.0, help="median generation seconds")
    parser.add_argument("--sigma", type=float, default=0.4, help="log-normal sigma")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generation times")
    parser.add_argument("--mode", default="fixed", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--hook-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--journal", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        print(json.dumps(_run_worker(args)), flush=True)
        return 0
    if any(j not in ("memory", "file") for j in args.journals):
        build_parser().error("--journals takes memory and/or file")
    if any(m not in POLL_MODES for m in args.poll_modes):
        build_parser().error(f"--poll-modes takes {', '.join(POLL_MODES)}")
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
