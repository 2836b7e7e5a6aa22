"""Jobs finished by webhooks: the client, the handler and the runner share one CompletionHub.

Everything runs over loopback: the emulator delivers signed webhooks to a real aiohttp server
running ``webhook_handler(SECRET, hub.deliver)``, and the client polls the emulator only as
the hub's safety net.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pixverse_async import PixVerse, PollPolicy, TextToVideo, VideoFailedError
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.webhooks import WebhookFaults
from pixverse_async.journal import Journal
from pixverse_async.models import VideoStatus
from pixverse_async.polling import SafetyNet
from pixverse_async.runner import Outcome, OutcomeState, Progress, RunStream
from pixverse_async.webhooks import CompletionHub, WebhookEvent, webhook_handler

from .conftest import API_KEY, FAST_RETRY
from .test_webhooks_handler import serving
from .test_workers import hang_guard

SECRET = "whsec-jobs-SECRET-3"
FIELDS = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
#: A safety net that polls only long after any delivery over loopback arrived.
PATIENT = SafetyNet(factor=1.0, expected=20.0, interval=20.0)
#: One that polls almost at once (for deliveries that are lost on purpose).
EAGER = SafetyNet(factor=1.0, expected=0.05, interval=0.05)


@contextlib.asynccontextmanager
async def setup(hub: CompletionHub, **config: Any) -> AsyncIterator[tuple[Emulator, PixVerse]]:
    """An emulator delivering webhook "1234" to the hub's handler, and a client on the hub."""
    config.setdefault("generation_seconds", 0.01)
    config.setdefault("webhook_retry_scale", 0.001)
    async with serving(webhook_handler(SECRET, hub.deliver)) as url:
        async with Emulator(api_keys={API_KEY}, webhooks={"1234": (url, SECRET)}, **config) as emu:
            async with PixVerse(
                api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, webhooks=hub
            ) as client:
                yield emu, client
                await emu.webhooks.drain()


def status_requests(emu: Emulator, video_id: int | None = None) -> int:
    """Status requests the emulator answered (for one video, or all)."""
    prefix = Paths.VIDEO_RESULT_PREFIX + ("" if video_id is None else str(video_id))
    return sum(
        1
        for r in emu.state.requests
        if r.method == "GET"
        and r.path.startswith(prefix)
        and (video_id is None or r.path == prefix)
    )


async def test_wait_ends_with_the_event_without_a_status_request() -> None:
    hub = CompletionHub(webhook_id="1234", safety_net=PATIENT)
    async with setup(hub) as (emu, client):
        job = await client.videos.text_to_video(prompt="a red kite", **FIELDS)
        assert job.webhook_id == "1234" and job.watch is not None
        assert emu.state.generations[job.video_id].body["webhook_id"] == "1234"
        video = await job.wait()
    assert video.id == job.video_id and video.status is VideoStatus.SUCCESSFUL
    assert video.url and video.size is None  # the webhook's size is not in bytes
    assert status_requests(emu, job.video_id) == 0
    assert hub._watches == {}  # the job's watch was closed


async def test_a_failed_generation_raises_its_error_from_the_event() -> None:
    hub = CompletionHub(webhook_id="1234", safety_net=PATIENT)
    async with setup(hub) as (emu, client):
        job = await client.videos.text_to_video(prompt="a red kite #fail", **FIELDS)
        with pytest.raises(VideoFailedError) as caught:
            await job.wait()
    assert caught.value.video_id == job.video_id
    assert status_requests(emu, job.video_id) == 0


async def test_a_lost_delivery_is_found_by_the_safety_net_poll() -> None:
    hub = CompletionHub(webhook_id="1234", safety_net=EAGER)
    async with setup(hub, webhook_faults=WebhookFaults(lose=1.0, seed=1)) as (emu, client):
        job = await client.videos.text_to_video(prompt="a red kite", **FIELDS)
        video = await job.wait()
    assert video.status is VideoStatus.SUCCESSFUL and video.url
    assert status_requests(emu, job.video_id) >= 1
    assert [d.fault for d in emu.state.webhook_deliveries] == ["lose"]


async def test_an_event_arriving_after_the_safety_net_found_the_end_is_not_unclaimed() -> None:
    unclaimed: list[WebhookEvent] = []
    hub = CompletionHub(webhook_id="1234", safety_net=EAGER, on_unclaimed=unclaimed.append)
    faults = WebhookFaults(delay=1.0, delay_seconds=2.0, seed=2)  # the poll comes first
    async with setup(hub, webhook_faults=faults) as (emu, client):
        job = await client.videos.text_to_video(prompt="a red kite", **FIELDS)
        await job.wait()
        assert status_requests(emu, job.video_id) >= 1
        await emu.webhooks.drain()
    assert [d.acknowledged for d in emu.state.webhook_deliveries] == [True]
    assert unclaimed == []


async def test_an_event_for_a_video_no_job_waits_for_goes_to_the_user() -> None:
    unclaimed: list[WebhookEvent] = []
    hub = CompletionHub(webhook_id="1234", safety_net=PATIENT, on_unclaimed=unclaimed.append)
    async with setup(hub) as (emu, client):
        body = {**FIELDS, "prompt": "sent by another process", "webhook_id": "1234"}
        resp = await client.session.request("POST", Paths.TEXT_TO_VIDEO, json_body=body, paid=True)
        await emu.webhooks.drain()
    assert [(e.video_id, e.status) for e in unclaimed] == [
        (int(resp["video_id"]), VideoStatus.SUCCESSFUL)
    ]


async def test_without_a_hub_or_a_webhook_id_jobs_are_polled_as_before() -> None:
    hub = CompletionHub(safety_net=PATIENT)  # no webhook_id: nothing to watch
    async with setup(hub) as (emu, client):
        job = await client.videos.text_to_video(prompt="a red kite", **FIELDS)
        assert job.webhook_id is None and job.watch is None
        assert "webhook_id" not in emu.state.generations[job.video_id].body
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url) as plain:
            other = await plain.videos.text_to_video(prompt="a blue kite", **FIELDS)
            assert other.webhook_id is None and other.watch is None


def test_a_bad_webhook_id_is_refused() -> None:
    from pixverse_async import ValidationError

    with pytest.raises(ValidationError, match="webhook_id"):
        CompletionHub(webhook_id="")


async def test_a_thousand_runner_jobs_end_once_each_despite_delivery_faults() -> None:
    """1,000 jobs through the runner; of the delivery attempts 20 % are dropped, 20 %
    duplicated, 20 % reordered, and 2 % of deliveries are lost outright: every job ends exactly
    once with the status the emulator decided; dropped attempts are recovered by PixVerse's
    retry (scaled), lost deliveries by the safety-net poll; nothing reaches the user."""
    unclaimed: list[WebhookEvent] = []
    net = SafetyNet(factor=1.0, expected=5.0, interval=1.0)
    hub = CompletionHub(webhook_id="1234", safety_net=net, on_unclaimed=unclaimed.append)
    faults = WebhookFaults(
        drop=0.2, duplicate=0.2, reorder=0.2, reorder_seconds=0.05, lose=0.02, seed=12
    )
    prompts = ["ok", "ok", "ok #fail", "ok #moderated"]
    expected = {
        "ok": (OutcomeState.SUCCEEDED, None),
        "ok #fail": (OutcomeState.FAILED, "VideoFailedError"),
        "ok #moderated": (OutcomeState.FAILED, "VideoModeratedError"),
    }
    requests = [TextToVideo(prompt=prompts[i % 4], **FIELDS) for i in range(1000)]
    async with setup(hub, webhook_faults=faults, max_concurrent_generations=10_000) as (
        emu,
        client,
    ):
        runner = client.runner(concurrency=1000, learner=False)
        async with runner.run(requests) as stream:
            outcomes = [outcome async for outcome in stream]
            progress = stream.progress
        await emu.webhooks.drain()
    assert len(outcomes) == 1000
    assert sorted(o.index for o in outcomes) == list(range(1000))  # each exactly once
    for o in outcomes:
        assert (o.state, o.error_type) == expected[o.request.prompt]
        assert o.video_id is not None
        generation = emu.state.generations[o.video_id]
        if o.ok:
            assert o.video is not None and o.video.url and generation.final_status == 1
    assert unclaimed == []
    assert hub._watches == {}

    deliveries = emu.state.webhook_deliveries
    lost = {d.video_id for d in deliveries if d.fault == "lose"}
    dropped = {d.video_id for d in deliveries if d.fault == "drop"} - lost
    retried = {d.video_id for d in deliveries if d.attempt > 0 and d.acknowledged}
    assert lost and dropped and {"duplicate", "reorder"} <= {d.fault for d in deliveries}
    assert dropped <= retried  # each dropped attempt was followed by an acknowledged retry
    for video_id in lost:  # only the safety net could end these
        assert status_requests(emu, video_id) >= 1
    counted = status_requests(emu)
    assert progress.status_requests == counted
    # Most jobs never needed a status request: they ended by their event.
    polled = collections.Counter(
        r.path for r in emu.state.requests if r.path.startswith(Paths.VIDEO_RESULT_PREFIX)
    )
    print(f"\n1,000 webhook jobs: {counted} status requests, {len(polled)} videos polled, "
          f"{len(lost)} deliveries lost, {len(dropped)} with dropped attempts")  # fmt: skip
    assert len(polled) < 1000


def test_the_safety_net_polls_first_at_a_multiple_of_the_learned_time_then_rarely() -> None:
    from pixverse_async import PollLearner, PollPolicy

    policy = PollPolicy(jitter=0.0, timeout=1000.0)
    net = SafetyNet(factor=3.0, expected=60.0, interval=30.0)
    unknown = net.schedule(policy, now=0.0)
    assert unknown.first_poll_at() == 180.0  # nothing learned: 3 x expected
    assert unknown.after_poll(180.0) == 240.0  # then every max(interval, expected)
    learner = PollLearner(min_samples=2)
    learner.observe_end("k", 8.0)
    learner.observe_end("k", 10.0)
    learned = net.schedule(policy, now=100.0, learner=learner, key="k")
    assert learned.first_poll_at() == 130.0 and learned.deadline == 1100.0
    assert learned.after_poll(130.0) == 160.0


def test_exact_end_times_correct_the_learned_estimate_both_ways() -> None:
    from pixverse_async import PollLearner

    learner = PollLearner(min_samples=1)
    learner.observe_end("k", 10.0)
    for _ in range(50):
        learner.observe_end("k", 20.0)  # every job took longer than the estimate
    later = learner.first_delay("k")
    assert later is not None and later > 15.0
    for _ in range(100):
        learner.observe_end("k", 5.0)
    earlier = learner.first_delay("k")
    assert earlier is not None and earlier < 8.0


async def test_a_request_naming_its_own_webhook_wins_and_another_webhook_is_polled() -> None:
    hub = CompletionHub(webhook_id="1234", safety_net=PATIENT)
    async with setup(hub) as (emu, client):
        own = await client.videos.submit(
            TextToVideo(prompt="a red kite", webhook_id="1234", **FIELDS)
        )
        other = await client.videos.submit(
            TextToVideo(prompt="a red kite", webhook_id="5678", **FIELDS)
        )
        assert (own.webhook_id, own.watch is not None) == ("1234", True)
        # sent to a webhook this hub does not receive: no watch, polled by the policy
        assert (other.webhook_id, other.watch) == ("5678", None)
        assert emu.state.generations[other.video_id].body["webhook_id"] == "5678"
        await own.wait()
    assert status_requests(emu, own.video_id) == 0


# --- a runner resumed from its journal ------------------------------------------------------

#: A poll policy that would poll every 20 ms: a resumed job not watched shows at once.
QUICK = PollPolicy(first_delay=0.0, interval=0.02, factor=1.0, max_delay=0.02, jitter=0.0)


async def _collect(stream: RunStream) -> list[Outcome]:
    return [outcome async for outcome in stream]


@hang_guard(60)
async def test_a_runner_resumed_from_its_journal_ends_its_jobs_by_their_events(
    tmp_path: Path,
) -> None:
    await resumed_jobs_end_by_their_events(lambda: Journal(tmp_path / "j.sqlite"))


@hang_guard(60)
async def test_a_worker_taking_over_submitted_requests_ends_them_by_their_events(
    postgres_dsn: str, pg_schema: str
) -> None:
    """The first run's worker releases its SUBMITTED requests as it stops; the second run's
    worker (another journal) claims them (``SharedBatch``) and watches them."""
    await resumed_jobs_end_by_their_events(
        lambda: Journal(postgres_dsn, batch="resumed", schema=pg_schema)
    )


async def resumed_jobs_end_by_their_events(journal_for: Callable[[], Journal]) -> None:
    """A run stopped once everything was submitted; the next run watches what it resumes:
    one status request each at once (it may have ended meanwhile), then the events end them."""
    unclaimed: list[WebhookEvent] = []
    hub = CompletionHub(webhook_id="1234", safety_net=PATIENT, on_unclaimed=unclaimed.append)
    requests = [TextToVideo(prompt=p, **FIELDS) for p in ("one", "two", "three #fail")]
    n = len(requests)
    sent = asyncio.Event()

    def all_sent(progress: Progress) -> None:
        if progress.running == n and progress.submitting == 0:
            sent.set()

    async with setup(hub, clock="manual", generation_seconds=60) as (emu, client):
        async with journal_for() as journal:
            stream = client.runner(concurrency=n, journal=journal, poll=QUICK,
                                   on_progress=all_sent).run(requests)  # fmt: skip
            consumer = asyncio.ensure_future(_collect(stream))
            await sent.wait()  # all SUBMITTED in the journal; the clock stands: none ended
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            await stream.aclose()
        assert status_requests(emu) == 0 and hub._watches == {}
        # One ends between the runs: no job waits for its event, the user has it.
        [first] = [g for g in emu.state.generations.values() if g.body["prompt"] == "one"]
        emu.finish(first.video_id)
        while not unclaimed:  # (drain() would wait for the others' deliveries too)
            await asyncio.sleep(0.01)
        assert [(e.video_id, e.status) for e in unclaimed] == [(first.video_id, 1)]

        async with journal_for() as journal:
            runner = client.runner(concurrency=n, journal=journal, poll=QUICK)
            async with runner.run(requests) as stream:
                collecting = asyncio.ensure_future(_collect(stream))
                answered = lambda: sum(1 for r in emu.requests_to("status") if r.status)  # noqa: E731
                while answered() < n - 1:  # one poll at once for each job not known to be over
                    await asyncio.sleep(0.01)
                emu.finish_all()  # the events of the others are delivered now
                outcomes = sorted(await collecting, key=lambda o: o.index)
                progress = stream.progress
    assert [(o.state, o.error_type, o.resumed) for o in outcomes] == [
        (OutcomeState.SUCCEEDED, None, True),
        (OutcomeState.SUCCEEDED, None, True),
        (OutcomeState.FAILED, "VideoFailedError", True),
    ]
    assert outcomes[0].video is not None and outcomes[0].video.url
    assert outcomes[0].video.size is None  # what the event said, not a status answer
    # The first ended from the hub's memory of its event, without a status request; the
    # others had one each, none after: their events ended them.
    assert status_requests(emu, first.video_id) == 0
    assert status_requests(emu) == progress.status_requests == n - 1
    assert len(unclaimed) == 1 and hub._watches == {}
    assert all(d.acknowledged for d in emu.state.webhook_deliveries)
    assert len(emu.state.webhook_deliveries) == n


async def test_watches_are_closed_for_ended_cancelled_and_dropped_jobs() -> None:
    """Issue 20: 200 submitted, 100 waits cancelled, 200 success events delivered left 200
    watches registered and gave 0 events to ``on_unclaimed``. Now a watch is forgotten by
    the hub when its end arrives, when its wait is cancelled (the end is then unclaimed),
    and when its job object is dropped."""
    unclaimed: list[WebhookEvent] = []
    hub = CompletionHub(webhook_id="1234", safety_net=PATIENT, on_unclaimed=unclaimed.append)
    async with setup(hub, clock="manual", max_concurrent_generations=300) as (emu, client):
        jobs = [
            await client.videos.text_to_video(prompt=f"scene {i}", **FIELDS) for i in range(200)
        ]
        cancelled, kept = jobs[:100], jobs[100:]
        waits = [asyncio.ensure_future(job.wait()) for job in cancelled]
        await asyncio.sleep(0)  # each wait is now waiting for its event
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        assert all(task.cancelled() for task in waits)
        assert sum(map(len, hub._watches.values())) == 100  # the kept jobs' watches only
        emu.finish_all("success")
        await emu.webhooks.drain()
        ends = [e for e in unclaimed if e.is_terminal]
        watching = sum(map(len, hub._watches.values()))
        assert (len(ends), watching) == (100, 0)
        assert {e.video_id for e in ends} == {job.video_id for job in cancelled}
        assert hub.stats().watching == 0 and hub.stats().unclaimed == len(unclaimed)
        # The kept jobs had their events: waiting now ends at once, without a status request.
        videos = await asyncio.gather(*(job.wait() for job in kept))
        assert all(v.status is VideoStatus.SUCCESSFUL for v in videos)
        # A cancelled wait, waited again, ends with the event the hub retained.
        assert (await cancelled[0].wait()).status is VideoStatus.SUCCESSFUL
        assert status_requests(emu) == 0
        assert all(d.acknowledged for d in emu.state.webhook_deliveries)

        # Jobs nobody keeps: their watches go with them, their ends are unclaimed.
        before = len(unclaimed)
        dropped = [
            (await client.videos.text_to_video(prompt=f"drop {i}", **FIELDS)).video_id
            for i in range(50)
        ]
        gc.collect()  # (plain reference counting already did it in CPython)
        assert hub.stats().watching == 0
        emu.finish_all("success")
        await emu.webhooks.drain()
        assert sorted(e.video_id for e in unclaimed[before:] if e.is_terminal) == sorted(dropped)
        assert hub.stats().watching == 0 and hub.stats().held == 0
