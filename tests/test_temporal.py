"""The Temporal integration against a real Temporal server and the emulator.

The sample workflow (``examples/temporal_batch.py``) runs the batches; the webhook route and
the completer live in the test process, the worker here too or (the crash test) in a child
process that is SIGKILLed and restarted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import doctest
import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("temporalio")

from temporalio.client import Client, WorkflowHandle

from pixverse_async import PixVerse, SafetyNet
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.webhooks import WebhookEndpoint, WebhookFaults
from pixverse_async.errors import (
    ConcurrencyLimitError,
    InvalidParameterError,
    SubmissionUnknownError,
    ValidationError,
    VideoModeratedError,
)
from pixverse_async.temporal import (
    ActivityCompleter,
    GenerationActivities,
    GenerationCall,
    MemoryTokenStore,
    PendingActivity,
    PostgresTokenStore,
    TokenStore,
    application_error,
    trace_id_for,
)
from pixverse_async.types import Extend, ImageToVideo, TextToVideo, Transition

from .conftest import API_KEY, FAST_POLL, FAST_RETRY

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.append(str(EXAMPLES))  # the workflow's module, also for the workflow sandbox
import temporal_batch  # noqa: E402
from temporal_batch import Batch, GenerationBatch, Report, calls  # noqa: E402

WEBHOOK_ID = "777"


async def until(condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    """Wait for ``condition`` (checked every 20 ms), failing after ``timeout`` seconds."""

    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


def clip(prompt: str) -> GenerationCall:
    return GenerationCall.of(
        TextToVideo(prompt=prompt, model="v5", duration=5, quality="360p", aspect_ratio="16:9"),
        estimate=45,
    )


@dataclass
class Harness:
    temporal: Client
    emu: Emulator
    client: PixVerse
    store: TokenStore
    completer: ActivityCompleter
    queue: str

    async def run(self, batch: Batch, *, timeout: float = 60.0) -> Report:
        handle = await self.start(batch)
        return await asyncio.wait_for(handle.result(), timeout)

    async def start(self, batch: Batch) -> WorkflowHandle[Any, Report]:
        return await self.temporal.start_workflow(
            GenerationBatch.run,
            batch,
            id=f"test-batch-{uuid.uuid4()}",
            task_queue=self.queue,
            task_timeout=timedelta(seconds=2),
        )


@contextlib.asynccontextmanager
async def webhook_route(secret: str, completer: ActivityCompleter) -> AsyncIterator[str]:
    """The webhook route of this process (a "replica"); yields its URL."""
    runner = await temporal_batch.serve_webhooks(secret, completer)
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/pixverse/webhook"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def harness(
    address: str,
    *,
    store: TokenStore | None = None,
    net: SafetyNet | None = None,
    worker: bool = True,
    poll: bool = False,
    **emulator: Any,
) -> AsyncIterator[Harness]:
    """The emulator (webhooks to a route of this process), a completer, and a worker."""
    temporal = await Client.connect(address)
    store = store if store is not None else MemoryTokenStore()
    net = net or SafetyNet()
    secret = uuid.uuid4().hex
    emulator.setdefault("webhook_retry_scale", 0.001)
    async with (
        Emulator(api_keys={API_KEY}, **emulator) as emu,
        PixVerse(
            api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, poll=FAST_POLL
        ) as client,
    ):
        completer = ActivityCompleter(temporal, store, client, safety_net=net, sweep_every=0.1)
        async with webhook_route(secret, completer) as url, completer:
            emu.webhooks.endpoints[WEBHOOK_ID] = WebhookEndpoint(url, secret)
            queue = f"test-{uuid.uuid4().hex[:10]}"
            h = Harness(temporal, emu, client, store, completer, queue)
            if not worker:
                yield h
                return
            activities = GenerationActivities(
                client,
                store=None if poll else store,
                webhook_id=WEBHOOK_ID,
                safety_net=net,
                heartbeat_every=0.2,
            )
            async with temporal_batch.worker_for(temporal, activities, queue):
                yield h


def generated(report: Report) -> list[Any]:
    return [o for o in report.outcomes if o.error is None]


# --- the activities' parts, without a server ---------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        TextToVideo(prompt="a kite", model="v5", duration=5, quality="540p", aspect_ratio="16:9"),
        ImageToVideo(img_id=3, prompt="the cat yawns", model="v5", duration=5, quality="540p"),
        Transition(
            first_frame_img=1,
            last_frame_img=2,
            prompt="dusk",
            model="v5",
            duration=5,
            quality="540p",
        ),
        Extend(
            source_video_id=9,
            prompt="on and on",
            seed=1,
            model="v5",
            duration=5,
            quality="540p",
            extra_body={"new_field": 1},
        ),
    ],
    ids=lambda r: r.kind,
)
def test_a_call_carries_any_kind_of_request_through_the_converter(request_: Any) -> None:
    call = GenerationCall.of(request_)
    assert call.kind == request_.kind
    json.dumps(call.fields)  # what Temporal's converter sends: plain JSON
    rebuilt = call.build()
    assert type(rebuilt) is type(request_) and rebuilt == request_


def test_a_bad_call_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as bad:
        GenerationCall("text_to_video", {"prompt": "a", "duration": "long"}).build()
    assert bad.value.field == "duration"
    with pytest.raises(ValidationError) as unknown:
        GenerationCall("hologram", {}).build()
    assert unknown.value.field == "kind"


def test_the_trace_id_is_the_activity_identity_not_its_attempt() -> None:
    first = trace_id_for("default", "batch-1", "4")
    assert first == trace_id_for("default", "batch-1", "4")
    assert uuid.UUID(first).version == 5  # PixVerse (and the emulator) want a UUID
    others = {
        trace_id_for("default", "batch-1", "5"),
        trace_id_for("default", "batch-2", "4"),
        trace_id_for("other", "batch-1", "4"),
    }
    assert first not in others and len(others) == 3


def test_failures_are_retryable_only_when_a_retry_can_succeed() -> None:
    busy = ConcurrencyLimitError(
        err_code=500044, err_msg="busy", http_status=200, trace_id="t", retry_after=3
    )
    error = application_error(busy)
    assert not error.non_retryable and error.details[0]["err_code"] == 500044
    assert error.next_retry_delay == timedelta(seconds=3)
    unknown = SubmissionUnknownError(
        method="POST", path="/p", trace_id="t", request=None, cause="reset"
    )
    assert not application_error(unknown).non_retryable  # resent under the same trace id
    refused = InvalidParameterError(err_code=400017, err_msg="bad", http_status=200, trace_id="t")
    assert application_error(refused).non_retryable
    moderated = application_error(VideoModeratedError("no", video_id=5, status=7))
    assert moderated.non_retryable and moderated.type == "VideoModeratedError"
    assert moderated.details[0]["status"] == 7 and moderated.details[0]["video_id"] == 5


async def test_a_task_token_never_shows_in_a_repr() -> None:
    pending = PendingActivity(video_id=1, task_token=b"secret-token", trace_id="t")
    store = MemoryTokenStore()
    await store.record(pending, check_at=0.0)
    assert "secret-token" not in repr(pending) + repr(store)


@pytest.mark.parametrize("module", ["calls", "store", "failures"])
def test_the_module_examples_run(module: str) -> None:
    mod = importlib.import_module(f"pixverse_async.temporal.{module}")
    assert doctest.testmod(mod).failed == 0
    example = textwrap.dedent(mod.__doc__.split("Example::\n", 1)[1])
    exec(compile(example, f"{module} example", "exec"), {})


# --- the PostgreSQL token store ------------------------------------------------------------


async def test_postgres_store_meets_tokens_and_ends_in_either_order(
    postgres_dsn: str, pg_schema: str
) -> None:
    async with (
        PostgresTokenStore(postgres_dsn, schema=pg_schema) as a,
        PostgresTokenStore(postgres_dsn, schema=pg_schema) as b,
    ):  # two replicas
        first = PendingActivity(video_id=1, task_token=b"t1", trace_id="x", credits=30)
        assert await a.record(first, check_at=100.0) is None
        assert await b.ended(1, {"id": 1, "status": 1, "url": "u"}, now=1.0) == first
        # the end came first: the token's record returns it
        assert await b.ended(2, {"id": 2, "status": 8}, now=1.0) is None
        second = PendingActivity(video_id=2, task_token=b"t2", trace_id="y")
        assert await a.record(second, check_at=100.0) == {"id": 2, "status": 8}
        # a retried attempt's token replaces the first; forgetting the old one keeps it
        retried = PendingActivity(video_id=1, task_token=b"t1b", trace_id="x", credits=30)
        await a.record(retried, check_at=50.0)
        await b.forget(1, b"t1")
        assert await a.waiting() == 2
        # overdue checks are handed out once, then not again until their next time
        claims = await asyncio.gather(
            a.due(now=200.0, check_at=300.0), b.due(now=200.0, check_at=300.0)
        )
        assert sorted(p.video_id for claim in claims for p in claim) == [1, 2]
        assert await a.due(now=250.0, check_at=400.0) == []
        await a.forget(1, b"t1b")
        await a.forget(2, b"t2")
        assert await b.waiting() == 0
        await b.ended(3, {"id": 3, "status": 1}, now=10.0)
        assert await a.purge(before=5.0) == 0 and await a.purge(before=11.0) == 1


# --- against a Temporal server -------------------------------------------------------------


async def test_a_hundred_activities_complete_by_webhook_without_a_status_request(
    temporal_address: str,
) -> None:
    store = MemoryTokenStore()
    async with harness(temporal_address, store=store, clock="manual", generation_seconds=60) as h:
        handle = await h.start(Batch(calls(100, estimate=45), max_in_flight=100))
        await until(lambda: len(store) == 100)  # every activity waits for its webhook
        assert h.emu.requests_to("status") == []
        h.emu.advance(60)
        report = await asyncio.wait_for(handle.result(), 60)
        stats = h.completer.stats
        status_requests = len(h.emu.requests_to("status"))
    assert len(generated(report)) == 100
    assert {o.finished_by for o in report.outcomes} == {"webhook"}
    assert status_requests == 0 and stats.polls == 0
    assert stats.by_webhook == 100 and len(store) == 0


async def test_lost_webhooks_are_found_by_the_safety_net(temporal_address: str) -> None:
    store = MemoryTokenStore()
    net = SafetyNet(factor=1.0, expected=1.0, interval=1.0)
    async with harness(
        temporal_address,
        store=store,
        net=net,
        clock="manual",
        generation_seconds=60,
        webhook_faults=WebhookFaults(lose=0.2, seed=27),
    ) as h:
        handle = await h.start(Batch(calls(100, estimate=45), max_in_flight=100))
        await until(lambda: len(store) == 100)
        h.emu.advance(60)
        report = await asyncio.wait_for(handle.result(), 60)
        lost = {d.video_id for d in h.emu.state.webhook_deliveries if d.fault == "lose"}
        stats = h.completer.stats
    assert 10 <= len(lost) <= 30  # about a fifth (seeded)
    assert len(generated(report)) == 100
    polled = {o.video_id for o in report.outcomes if o.finished_by == "poll"}
    assert lost <= polled  # every lost one ended by the safety net's poll
    assert stats.by_webhook + stats.by_poll == 100 and stats.by_poll >= len(lost)


async def test_a_failed_or_moderated_video_fails_its_activity_without_retry(
    temporal_address: str,
) -> None:
    batch = Batch(
        [*calls(4, estimate=45, fail_every=2), clip("a storm #moderated")], max_in_flight=5
    )
    async with harness(temporal_address, generation_seconds=0.05) as h:
        handle = await h.start(batch)
        report = await asyncio.wait_for(handle.result(), 60)
        submits = collections.Counter(
            r.trace_id for r in h.emu.requests_to("text_to_video", "POST")
        )
        events = [e async for e in handle.fetch_history_events()]
    errors = {o.index: o.error for o in report.outcomes}
    assert errors == {
        0: None,
        1: "VideoFailedError",
        2: None,
        3: "VideoFailedError",
        4: "VideoModeratedError",
    }
    assert report.spent == 2 * 45  # the two that succeeded (360p 5 s); the others are refunded
    assert sorted(submits.values()) == [1] * 5  # nothing was submitted again
    started = [
        e.activity_task_started_event_attributes
        for e in events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert len(started) == 5 and {s.attempt for s in started} == {1}
    failures = [
        e.activity_task_failed_event_attributes.failure
        for e in events
        if e.HasField("activity_task_failed_event_attributes")
    ]
    assert len(failures) == 3
    assert all(f.application_failure_info.non_retryable for f in failures)


async def test_a_polling_activity_heartbeats_through_a_generation_longer_than_its_timeout(
    temporal_address: str,
) -> None:
    batch = Batch(calls(2, estimate=45), max_in_flight=2, heartbeat_timeout=1.0)
    async with harness(temporal_address, poll=True, generation_seconds=3.0) as h:
        handle = await h.start(batch)
        report = await asyncio.wait_for(handle.result(), 60)
        events = [e async for e in handle.fetch_history_events()]
        submits = h.emu.requests_to("text_to_video", "POST")
    assert len(generated(report)) == 2 and len(submits) == 2
    started = [
        e.activity_task_started_event_attributes
        for e in events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert [s.attempt for s in started] == [1, 1]  # no heartbeat timeout, no retry


async def test_without_a_store_the_activity_polls(temporal_address: str) -> None:
    async with harness(temporal_address, poll=True, generation_seconds=0.05) as h:
        report = await h.run(Batch(calls(3, estimate=45, fail_every=3), max_in_flight=3))
        status_requests = len(h.emu.requests_to("status"))
    assert [o.error for o in report.outcomes] == [None, None, "VideoFailedError"]
    assert {o.finished_by for o in generated(report)} == {"poll"}
    assert status_requests >= 3 and h.emu.state.webhook_deliveries == []


def _start_worker(address: str, base_url: str, dsn: str, schema: str, queue: str, log: Any) -> Any:
    """The example's worker alone, in a child process writing to ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXVERSE_")}
    env.update(PIXVERSE_API_KEY=API_KEY, PIXVERSE_BASE_URL=base_url, PYTHONPATH=str(ROOT))
    command = [
        sys.executable,
        str(EXAMPLES / "temporal_batch.py"),
        "worker",
        "--temporal",
        address,
        "--store",
        dsn,
        "--schema",
        schema,
        "--webhook-id",
        WEBHOOK_ID,
        "--task-queue",
        queue,
    ]
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


async def test_a_worker_killed_mid_run_pays_for_no_generation_twice(
    temporal_address: str, postgres_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    async with (
        PostgresTokenStore(postgres_dsn, schema=pg_schema) as store,
        harness(
            temporal_address,
            store=store,
            worker=False,
            net=SafetyNet(factor=1.0, expected=2.0, interval=1.0),
            generation_seconds=0.3,
        ) as h,
        contextlib.AsyncExitStack() as stack,
    ):
        # Every submit is answered 0.3 s after the generation was made: a worker killed
        # then never hears its video id, and its retried activity submits again.
        h.emu.faults.add("text_to_video", "slow", seconds=0.3)
        args = (temporal_address, h.emu.base_url, postgres_dsn, pg_schema, h.queue)
        log = stack.enter_context(log_path.open("ab"))
        worker = _start_worker(*args, log)
        try:
            handles = [
                await h.start(
                    Batch(
                        [clip(f"workflow {n} clip {i}") for i in range(6)],
                        max_in_flight=3,
                        generation_timeout=4.0,
                    )
                )
                for n in range(8)
            ]
            await until(lambda: len(h.emu.state.generations) >= 12)
            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait)
            killed_at = len(h.emu.state.generations)
            worker = _start_worker(*args, log)
            reports = await asyncio.wait_for(
                asyncio.gather(*(handle.result() for handle in handles)), 80
            )
        except asyncio.TimeoutError:
            pytest.fail("the workflows did not complete; the worker said:\n" + log_path.read_text())
        finally:
            worker.kill()
            await asyncio.to_thread(worker.wait)
        bodies = collections.Counter(
            json.dumps(g.body, sort_keys=True) for g in h.emu.state.generations.values()
        )
        submits = h.emu.requests_to("text_to_video", "POST")
    assert killed_at < 48  # the worker died with work left
    assert all(len(generated(report)) == 6 for report in reports)
    assert len(bodies) == 48 and set(bodies.values()) == {1}  # 0 duplicate generations
    resent = len(submits) - len({r.trace_id for r in submits})
    assert resent >= 1  # some activity was retried and resent its submit: same trace id


async def test_the_example_runs_against_the_emulator(temporal_address: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXVERSE_")}
    env["PYTHONPATH"] = str(ROOT)
    args = [
        "--temporal",
        temporal_address,
        "--count",
        "12",
        "--in-flight",
        "4",
        "--max-credits",
        "250",
        "--fail-every",
        "4",
        "--out",
        str(tmp_path / "videos"),
    ]
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-W",
            "error::ResourceWarning",
            str(EXAMPLES / "temporal_batch.py"),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    # 360p 5 s costs 45 credits, estimated so: failed ones are refunded, the cap stops the rest
    summary = [line for line in done.stdout.splitlines() if "generated" in line]
    assert summary, done.stdout
    assert "0 status requests" in summary[0] and "VideoFailedError" in done.stdout
    files = list((tmp_path / "videos").glob("*.mp4"))
    assert files and all(f.read_bytes()[4:8] == b"ftyp" for f in files)
