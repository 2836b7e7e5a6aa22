"""One completion hub across processes: PostgresRelay publishes deliveries with NOTIFY.

Against the real PostgreSQL of ``tests/pg.py``; each test uses a relay name of its own, so
tests running at the same time on one database never see each other's events. The second
process is a real one (``tests/relay_receiver.py``) that the emulator delivers to.
"""

from __future__ import annotations

import asyncio
import doctest
import importlib
import json
import logging
import os
import re
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from pixverse_async import GenerationJob, PixVerse, TextToVideo, VideoFailedError
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator
from pixverse_async.models import Video, VideoStatus, from_json
from pixverse_async.polling import SafetyNet
from pixverse_async.runner import OutcomeState
from pixverse_async.webhooks import (
    CompletionHub,
    HubClosedError,
    PostgresRelay,
    RelayError,
    WebhookEvent,
)
from pixverse_async.webhooks import relay as relay_module
from pixverse_async.webhooks.relay import MAX_MESSAGE, decode, encode

from .conftest import API_KEY, FAST_RETRY
from .pg import terminate
from .test_webhooks_jobs import EAGER, FIELDS, status_requests
from .test_workers import hang_guard

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec-relay-SECRET-7"
#: A safety net that polls only long after any relayed event arrived: a job polled at all
#: means the relay failed it.
PATIENT = SafetyNet(factor=1.0, expected=60.0, interval=60.0)


#: The header that tells the emulator's records which process's client sent a request.
WHO = "X-Test-Process"


def fresh_name() -> str:
    return "t" + uuid.uuid4().hex[:16]


def ev(video_id: int, status: int, **fields: object) -> WebhookEvent:
    return WebhookEvent.from_payload({"id": str(video_id), "status": status, **fields})


def status_answers(emu: Emulator, who: str) -> int:
    """Status requests of ``who``'s client (see :data:`WHO`) the emulator has answered."""
    return sum(
        1
        for r in list(emu.state.requests)
        if r.method == "GET"
        and r.path.startswith(Paths.VIDEO_RESULT_PREFIX)
        and r.headers.get(WHO) == who
        and r.status != 0
    )


async def reconnected(relay: PostgresRelay, times: int) -> None:
    """Until the relay has reconnected ``times`` times (the test's hang guard bounds it)."""
    while relay.reconnects < times or not relay.listening:
        await asyncio.sleep(0.01)


# --- without a server ---------------------------------------------------------------------


def test_messages_carry_the_public_fields_and_fit_notify() -> None:
    event = WebhookEvent.from_payload(
        {"id": "7", "status": 1, "url": "https://cdn/v.mp4", "size": 10.5, "has_audio": True,
         "credits": 40, "new": {"a": [1]}},
        timestamp=1700000000, nonce="n" * 32, trace_id="trace-7",
    )  # fmt: skip
    text = encode(event, "origin-1")
    message = json.loads(text)
    assert message["from"] == "origin-1" and SECRET not in text
    back = decode(message)
    assert back == event and back.extra == {"new": {"a": [1]}}
    # Unknown fields that do not fit NOTIFY's 8000 bytes are left out; the rest goes.
    big = ev(8, 1, url="https://cdn/v.mp4", blob="x" * 9000, ünïcode="é" * 3000)
    text = encode(big, "origin-1")
    assert len(text.encode()) <= MAX_MESSAGE < 8000
    assert decode(json.loads(text)) == big and decode(json.loads(text)).extra == {}
    with pytest.raises(RelayError, match="over NOTIFY's limit of 7999 bytes"):
        encode(ev(9, 1, url="https://cdn/" + "v" * 8000), "origin-1")


def test_an_end_found_by_a_poll_is_relayed_as_such() -> None:
    video = from_json(Video, {"id": 7, "status": 8, "url": None, "size": 123, "outputWidth": 9})
    event = WebhookEvent.from_video(video)
    assert (event.video_id, event.status, event.url, event.size) == (7, VideoStatus.FAILED,
                                                                     None, None)  # fmt: skip
    assert event.polled and event.is_terminal and event.extra == {} and event.trace_id is None
    assert event.to_video() == from_json(Video, {"id": 7, "status": 8})
    message = json.loads(encode(event, "origin-1"))
    assert message["polled"] is True and decode(message) == event and decode(message).polled
    delivered = ev(7, 8)  # a delivery's message is as before: no "polled" key
    assert not delivered.polled and "polled" not in json.loads(encode(delivered, "o"))
    assert delivered != event  # what told the end is part of the event


@pytest.mark.parametrize(
    "module", ["pixverse_async.webhooks.events", "pixverse_async.webhooks.relay",
               "pixverse_async.webhooks.relay_seal", "pixverse_async.webhooks.hub",
               "pixverse_async.polling"]
)  # fmt: skip
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_names_are_checked_and_the_password_never_shows() -> None:
    from pixverse_async import ValidationError

    for bad in ("", "has space", "x" * 46, 'a"; DROP'):
        with pytest.raises(ValidationError, match="name"):
            PostgresRelay("postgresql://db/x", name=bad)
    relay = PostgresRelay(
        "postgresql://app:hunter2-secret@127.0.0.1:1/jobs", name="x" * 45, secret=SECRET
    )
    assert relay.channel == "pixverse_webhooks_" + "x" * 45 and len(relay.channel) == 63
    assert "hunter2" not in repr(relay)
    hub = CompletionHub(relay=relay)
    assert hub.relay is relay
    with pytest.raises(ValueError, match="already belongs to a hub"):
        CompletionHub(relay=relay)
    with pytest.raises(ValidationError, match="relay: a URL alone cannot authenticate"):
        CompletionHub(relay="postgresql://db/x")  # type: ignore[arg-type]


async def test_an_unreachable_database_fails_the_start_without_the_password() -> None:
    relay = PostgresRelay(
        "postgresql://app:hunter2-secret@127.0.0.1:1/jobs", secret=SECRET,
        connect_timeout=0.2, reconnect_timeout=0.3,
    )  # fmt: skip
    hub = CompletionHub(relay=relay)
    with pytest.raises(RelayError) as info:
        await hub.start()
    assert "cannot LISTEN" in str(info.value) and "hunter2" not in str(info.value)
    await hub.aclose()
    with pytest.raises(HubClosedError):
        await hub.start()


async def test_a_failed_publish_fails_the_delivery_and_its_retry_publishes_again() -> None:
    """The user has the event once; the delivery fails (PixVerse retries) until published."""
    taken: list[WebhookEvent] = []
    relay = PostgresRelay(
        "postgresql://app:hunter2-secret@127.0.0.1:1/jobs", secret=SECRET,
        connect_timeout=0.1, publish_timeout=0.2,
    )  # fmt: skip
    hub = CompletionHub(relay=relay, on_unclaimed=taken.append)
    try:
        for _ in range(2):
            with pytest.raises(RelayError, match=r"no connection within 0.2 s") as info:
                await hub.deliver(ev(5, 1))
            assert "hunter2" not in str(info.value)
    finally:
        await hub.aclose()
    assert taken == [ev(5, 1)]


# --- two hubs in one process, each with its own connection ---------------------------------


@hang_guard(60)
async def test_an_event_delivered_to_one_hub_ends_the_watch_of_another(
    postgres_dsn: str,
) -> None:
    name = fresh_name()
    unclaimed_a: list[WebhookEvent] = []
    unclaimed_b: list[WebhookEvent] = []
    async with (
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET),
                      on_unclaimed=unclaimed_a.append) as a,
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET),
                      on_unclaimed=unclaimed_b.append) as b,
    ):  # fmt: skip
        assert a.relay is not None and b.relay is not None
        assert a.relay.application_name != b.relay.application_name  # two connections
        watch = b.register(1)
        progress = ev(1, 5)
        await a.deliver(progress)  # a status on the way: watch.latest, not the end
        done = ev(1, 1, url="https://cdn/1.mp4", credits=40, future_field="kept")
        await a.deliver(done)
        assert await watch.wait(timeout=30) == done
        assert watch.latest == done and watch.result().extra == {"future_field": "kept"}
        # A relayed event is never this process's "unclaimed"; the receiver's user had it
        # (no job there waited for it).
        assert unclaimed_b == [] and unclaimed_a == [progress, done]

        # An event that beats the submit's answer: the watch registered later ends at once.
        await a.deliver(ev(2, 8))
        marker = b.register(90)
        await a.deliver(ev(90, 1))  # NOTIFYs arrive in order: once B has 90, it has 2
        await marker.wait(timeout=30)
        with b.register(2) as late:
            assert late.done() and late.result() == ev(2, 8)

        # PixVerse retries a delivery A had, and it reaches B: a repeat, not B's unclaimed.
        await b.deliver(done)
        await b.deliver(ev(2, 8))
        assert unclaimed_b == []
        # B publishes what it received; A has its watches fed, never its user.
        marker = a.register(91)
        await b.deliver(ev(3, 1))  # B's own unclaimed: no job waits for it anywhere...
        await b.deliver(ev(91, 1))
        await marker.wait(timeout=30)
        assert unclaimed_b == [ev(3, 1), ev(91, 1)]
        assert unclaimed_a == [progress, done, ev(2, 8), ev(90, 1)]  # ... but not A's
        assert a._ended.keys() >= {1, 2, 3, 90, 91}  # every end is known in both


@hang_guard(60)
async def test_hubs_of_another_name_do_not_hear_the_events(postgres_dsn: str) -> None:
    ours, theirs = fresh_name(), fresh_name()
    async with (
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=ours, secret=SECRET)) as a,
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=theirs, secret=SECRET)) as c,
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=theirs, secret=SECRET)) as d,
    ):
        elsewhere = c.register(1)
        marker = c.register(2)
        await a.deliver(ev(1, 1))
        await d.deliver(ev(2, 1))  # published after A's: on a shared channel it came later
        await marker.wait(timeout=30)
        assert not elsewhere.done() and elsewhere.latest is None


@hang_guard(60)
async def test_the_relay_sample_of_the_module_runs(postgres_dsn: str) -> None:
    doc = relay_module.__doc__ or ""
    match = re.search(r"Example::\n\n((?:    .*\n|\n)+)", doc)
    assert match
    code = "\n".join(line[4:] for line in match.group(1).splitlines())
    code = code.replace('"postgresql://postgres@127.0.0.1:5432/test"', repr(postgres_dsn))
    code = code.replace('"demo"', repr(fresh_name())).replace("asyncio.run(main())", "")
    namespace: dict[str, object] = {}
    exec(compile(code, "<relay example>", "exec"), namespace)
    await namespace["main"]()  # type: ignore[operator]


# --- ends found by status polls ------------------------------------------------------------


@hang_guard(60)
async def test_an_end_one_process_polled_ends_the_wait_of_another_without_its_poll(
    postgres_dsn: str,
) -> None:
    """No delivery arrives (the emulator knows no webhook URL): process A's ``job.wait()``
    finds the end at its safety-net poll; B waits for the same video with a safety net that
    would poll only after a minute, and ends at once on what A published."""
    name = fresh_name()
    unclaimed_a: list[WebhookEvent] = []
    unclaimed_b: list[WebhookEvent] = []
    hub_a = CompletionHub(webhook_id="1234", safety_net=EAGER, on_unclaimed=unclaimed_a.append,
                          relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET))  # fmt: skip
    hub_b = CompletionHub(webhook_id="1234", safety_net=PATIENT, on_unclaimed=unclaimed_b.append,
                          relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET))  # fmt: skip
    async with (
        hub_a,
        hub_b,
        Emulator(api_keys={API_KEY}, clock="manual", generation_seconds=60) as emu,
        aiohttp.ClientSession(headers={WHO: "A"}) as http_a,
        aiohttp.ClientSession(headers={WHO: "B"}) as http_b,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, webhooks=hub_a,
                 session=http_a) as client_a,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, webhooks=hub_b,
                 session=http_b) as client_b,
    ):  # fmt: skip
        job = await client_a.videos.text_to_video(prompt="a red kite", **FIELDS)
        assert job.watch is not None
        # B's job for the same video (what a job of B's own would register).
        theirs = GenerationJob(client_b.videos, job.video_id, watch=hub_b.register(job.video_id))
        assert theirs.watch is not None
        waiting = asyncio.ensure_future(theirs.wait())
        ours = asyncio.ensure_future(job.wait())
        while status_answers(emu, "A") < 2:  # A polled twice: generating (the clock stands)
            await asyncio.sleep(0.01)
        # A status on the way is not published: a message A sends after it reaches B, the
        # status never did (NOTIFYs arrive in order).
        with hub_b.register(10**9) as marker:
            await hub_a.deliver(ev(10**9, 1))
            await marker.wait(timeout=30)
        assert theirs.watch.latest is None and not waiting.done()

        emu.finish(job.video_id)  # A's next poll finds the end
        video = await ours
        seen = await asyncio.wait_for(waiting, 30)  # B's own poll would come after 60 s
        assert video.status is VideoStatus.SUCCESSFUL and video.size  # A's status answer
        assert (seen.id, seen.status, seen.url) == (video.id, video.status, video.url)
        assert theirs.watch.result().polled and theirs.watch.result().video_id == job.video_id
        assert status_answers(emu, "B") == 0  # B never asked
        assert status_answers(emu, "A") >= 3
        # A late delivery of that end, to either process, is a repeat: nobody's unclaimed.
        await hub_a.deliver(ev(job.video_id, 1))
        await hub_b.deliver(ev(job.video_id, 1))
        assert unclaimed_a == [ev(10**9, 1)] and unclaimed_b == []
        assert hub_a._watches == {} and hub_b._watches == {}


@hang_guard(60)
async def test_runner_jobs_that_end_by_polls_end_the_watches_of_another_process(
    postgres_dsn: str,
) -> None:
    """Generations that are over at once and deliveries that never come: the runner's
    safety-net polls find each end and publish it; another hub's watches end with it."""
    name = fresh_name()
    unclaimed_b: list[WebhookEvent] = []
    hub_a = CompletionHub(webhook_id="1234", safety_net=EAGER,
                          relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET))  # fmt: skip
    hub_b = CompletionHub(webhook_id="1234", safety_net=PATIENT, on_unclaimed=unclaimed_b.append,
                          relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET))  # fmt: skip
    async with (
        hub_a,
        hub_b,
        Emulator(api_keys={API_KEY}, clock="manual", generation_seconds=0) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY,
                 webhooks=hub_a) as client,
    ):  # fmt: skip
        requests = [TextToVideo(prompt=p, **FIELDS) for p in ("one", "two", "three #fail")]
        runner = client.runner(concurrency=3, learner=False)
        async with runner.run(requests) as stream:
            outcomes = sorted([o async for o in stream], key=lambda o: o.index)
            polls = stream.progress.status_requests
        assert [o.state for o in outcomes] == [OutcomeState.SUCCEEDED] * 2 + [OutcomeState.FAILED]
        assert polls == status_requests(emu) == 3  # each found at its first poll
        watches = [hub_b.register(o.video_id) for o in outcomes if o.video_id is not None]
        ends = await asyncio.gather(*(watch.wait(timeout=30) for watch in watches))
        assert [(e.video_id, e.status, e.polled) for e in ends if e is not None] == [
            (outcomes[0].video_id, VideoStatus.SUCCESSFUL, True),
            (outcomes[1].video_id, VideoStatus.SUCCESSFUL, True),
            (outcomes[2].video_id, VideoStatus.FAILED, True),
        ]
        assert ends[0] is not None and outcomes[0].video is not None
        assert ends[0].url == outcomes[0].video.url
        for watch in watches:
            watch.close()
        for o in outcomes:  # the deliveries, late, reaching B: repeats
            await hub_b.deliver(ev(o.video_id or 0, 8 if o.error else 1))
        assert unclaimed_b == []


async def test_a_failed_publish_of_a_polled_end_is_logged_and_fails_no_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The relay cannot reach its database: the job still ends with what its poll found."""
    relay = PostgresRelay(
        "postgresql://app:hunter2-secret@127.0.0.1:1/jobs", secret=SECRET,
        connect_timeout=0.1, publish_timeout=0.2,
    )  # fmt: skip
    hub = CompletionHub(webhook_id="1234", safety_net=EAGER, relay=relay)
    caplog.set_level(logging.WARNING, logger="pixverse_async")
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as plain,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY,
                 webhooks=hub) as client,
    ):  # fmt: skip
        # Submitted without the hub (a watched submit would start the relay, and fail).
        job = await plain.videos.text_to_video(prompt="a red kite", **FIELDS)
        watched = GenerationJob(client.videos, job.video_id, watch=hub.register(job.video_id))
        video = await watched.wait()
        assert video.status is VideoStatus.SUCCESSFUL and status_requests(emu) == 1
        assert hub._publishing  # still trying in the background
        await hub.aclose()  # waits for it
    assert not hub._publishing
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"the end of video {job.video_id} found by a status poll was not published" in m
        for m in warnings
    ), warnings
    assert not any("hunter2" in m for m in warnings)


# --- a lost connection ---------------------------------------------------------------------


@hang_guard(60)
async def test_a_killed_listening_connection_reconnects_and_later_events_arrive(
    postgres_dsn: str,
) -> None:
    name = fresh_name()
    async with (
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET)) as a,
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET)) as b,
    ):
        assert a.relay is not None and b.relay is not None
        assert await terminate(b.relay.application_name) == 1
        await reconnected(b.relay, 1)
        watch = b.register(11)
        await a.deliver(ev(11, 1))
        assert await watch.wait(timeout=30) == ev(11, 1)
        # The publishing side loses its connection: the publish runs on the next one.
        assert await terminate(a.relay.application_name) == 1
        watch = b.register(12)
        await a.deliver(ev(12, 1))  # at once, whether A noticed the loss yet or not
        assert await watch.wait(timeout=30) == ev(12, 1)
        assert a.relay.reconnects == 1 and b.relay.reconnects == 1


# --- a real second process -----------------------------------------------------------------


@hang_guard(120)
async def test_jobs_end_from_deliveries_another_process_received(postgres_dsn: str) -> None:
    """Process A (a subprocess) serves the webhook route the emulator delivers to; this
    process submits and waits with a hub that has no route of its own, only the relay."""
    name = fresh_name()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.relay_receiver", postgres_dsn, name, SECRET,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert receiver.stdout is not None
        first = await asyncio.wait_for(receiver.stdout.readline(), 60)
        assert first.startswith(b"url "), first
        url = first.split()[1].decode()
        unclaimed: list[WebhookEvent] = []
        hub = CompletionHub(
            webhook_id="1234", safety_net=PATIENT, on_unclaimed=unclaimed.append,
            relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET),
        )  # fmt: skip
        async with (
            hub,
            Emulator(api_keys={API_KEY}, webhooks={"1234": (url, SECRET)},
                     generation_seconds=0.01, webhook_retry_scale=0.001) as emu,
            PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY,
                     webhooks=hub) as client,
        ):  # fmt: skip
            job = await client.videos.submit(TextToVideo(prompt="a red kite", **FIELDS))
            video = await job.wait()
            assert video.id == job.video_id and video.status is VideoStatus.SUCCESSFUL
            assert video.url and str(job.video_id) in video.url  # what the event said
            failing = await client.videos.text_to_video(prompt="a red kite #fail", **FIELDS)
            with pytest.raises(VideoFailedError):
                await failing.wait()
            requests = [TextToVideo(prompt=f"scene {i}", **FIELDS) for i in range(4)]
            outcomes = await client.runner(concurrency=4, learner=False).gather(requests)
            assert [o.state for o in outcomes] == [OutcomeState.SUCCEEDED] * 4
            await emu.webhooks.drain()
            # Every generation ended by its event alone: not one status request was sent.
            assert status_requests(emu) == 0
            assert len(emu.state.generations) == 6
            assert all(d.acknowledged for d in emu.state.webhook_deliveries)
            ends = {g.video_id: g.final_status for g in emu.state.generations.values()}
        assert unclaimed == []  # nothing relayed is this process's "unclaimed"
    finally:
        assert receiver.stdin is not None
        receiver.stdin.close()  # the receiver's signal to stop
        try:
            out, err = await asyncio.wait_for(receiver.communicate(), 30)
        except asyncio.TimeoutError:
            receiver.kill()
            await receiver.wait()
            raise
    assert receiver.returncode == 0, err.decode()
    # The receiving process had no job waiting for these: they were its unclaimed events.
    lines = [line.split() for line in out.decode().splitlines()]  # after the "url" line
    assert {int(video_id): int(status) for _, video_id, status in lines} == ends
    assert len(lines) == len(ends)
