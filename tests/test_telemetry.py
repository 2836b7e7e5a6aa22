"""OpenTelemetry spans and metrics, read with the real SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import collections
import importlib.abc
import os
import sys
import uuid
from pathlib import Path

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from pixverse_async import (
    ConcurrencyLimitError,
    JobTimeoutError,
    OutcomeState,
    PixVerse,
    PollPolicy,
    TextToVideo,
    VideoFailedError,
)
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.telemetry import instruments
from pixverse_async.webhooks import CompletionHub, PostgresRelay

from .conftest import API_KEY, FAST_POLL, FAST_RETRY, ScriptedServer
from .otel import Telemetry, telemetry_fixture  # noqa: F401  (the fixture "telemetry")
from .test_webhooks_jobs import PATIENT, SECRET, setup

ROOT = Path(__file__).resolve().parent.parent
RELAY_SECRET = "whsec-otel-relay-SECRET-9"
OK = {"ErrCode": 0, "ErrMsg": "success", "Resp": {"account_id": 7}}


def no_secret_in(telemetry: Telemetry, *secrets: str) -> None:
    for span in telemetry.finished():
        text = span.to_json()
        assert not any(secret in text for secret in secrets), span.name


async def test_a_call_with_a_retry_is_two_client_spans_and_two_measures(
    telemetry: Telemetry, scripted: ScriptedServer
) -> None:
    scripted.raw(b"<html>502</html>", status=502)
    scripted.json(OK)
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY) as c:
        await c.account.balance(extra_body={"probe": "1"})
    first, second = telemetry.finished()
    sent = scripted.requests[0]["headers"]["Ai-trace-id"]
    host, port = scripted.base_url.removeprefix("http://").split(":")
    for span in (first, second):
        assert span.name == f"GET {Paths.BALANCE}"
        assert span.kind is SpanKind.CLIENT
        assert span.attributes is not None
        assert span.attributes["http.request.method"] == "GET"
        assert span.attributes["server.address"] == host
        assert span.attributes["server.port"] == int(port)
        assert span.attributes["url.full"] == f"{scripted.base_url}{Paths.BALANCE}?probe=1"
        assert span.attributes["pixverse.trace_id"] == sent
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["http.response.status_code"] == 502
    assert first.attributes["error.type"] == "502"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["http.request.resend_count"] == 1
    assert "error.type" not in second.attributes
    assert second.status.status_code is StatusCode.UNSET
    durations = telemetry.points("http.client.request.duration")
    assert sorted(p.attributes.get("http.response.status_code") for p in durations) == [200, 502]
    assert sum(p.count for p in durations) == 2
    no_secret_in(telemetry, API_KEY)


async def test_an_envelope_error_names_its_err_code(
    telemetry: Telemetry, scripted: ScriptedServer
) -> None:
    scripted.json({"ErrCode": 500044, "ErrMsg": "too many", "Resp": None})
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, max_retries=0) as c:
        with pytest.raises(ConcurrencyLimitError) as raised:
            await c.account.balance()
    (span,) = telemetry.finished()
    assert span.attributes is not None
    assert span.attributes["pixverse.err_code"] == 500044
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    (limited,) = telemetry.points("pixverse.concurrency_limited")
    assert limited.value == 1


async def test_telemetry_is_off_without_a_provider(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    from pixverse_async.telemetry import current

    assert current() is None
    scripted.json(OK)
    assert (await scripted_client.account.balance()).account_id == 7


async def test_without_the_package_the_client_works_and_nothing_is_built(
    monkeypatch: pytest.MonkeyPatch, scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object, target: object = None) -> None:
            if name.split(".")[0] == "opentelemetry":
                raise ImportError(name)

    for name in [m for m in sys.modules if m.split(".")[0] == "opentelemetry"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NotInstalled(), *sys.meta_path])
    monkeypatch.setattr(instruments, "_api", None)
    monkeypatch.setattr(instruments, "_built", None)
    assert instruments.current() is None
    assert instruments._api is False
    scripted.json(OK)
    assert (await scripted_client.account.balance()).account_id == 7


FIELDS = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}


async def test_a_job_ended_by_polling_is_one_span_over_its_submit_and_polls(
    telemetry: Telemetry, emulator: Emulator
) -> None:
    async with PixVerse(
        api_key=API_KEY, base_url=emulator.base_url, retry=FAST_RETRY, poll=FAST_POLL
    ) as client:
        job = await client.videos.text_to_video(prompt="a kite", **FIELDS)
        await job.wait()
    (span,) = telemetry.finished("generate_video v5")
    attrs = span.attributes
    assert attrs is not None
    assert span.kind is SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "generate_video"
    assert attrs["gen_ai.provider.name"] == "pixverse"
    assert attrs["gen_ai.request.model"] == "v5"
    assert attrs["gen_ai.response.id"] == str(job.video_id)
    assert attrs["pixverse.credits"] == job.credits
    assert attrs["pixverse.ended_by"] == "poll"
    assert attrs["pixverse.status"] == "SUCCESSFUL"
    calls = [s for s in telemetry.finished() if s.name.startswith(("GET", "POST"))]
    submit = [s for s in calls if s.name.startswith("POST")]
    polls = [s for s in calls if s.name == f"GET {Paths.VIDEO_RESULT_PREFIX}{{id}}"]
    assert len(submit) == 1 and polls and attrs["pixverse.polls"] == len(polls)
    assert all(s.parent is not None and s.parent.span_id == span.context.span_id for s in calls)
    assert all(s.context.trace_id == span.context.trace_id for s in calls)
    (in_flight,) = telemetry.points("pixverse.jobs.in_flight")
    assert in_flight.value == 0
    (charged,) = telemetry.points("pixverse.credits.charged")
    assert charged.value == job.credits
    (duration,) = telemetry.points("pixverse.job.duration")
    assert duration.count == 1
    assert duration.attributes["pixverse.quality"] == "540p"
    assert duration.attributes["gen_ai.request.model"] == "v5"
    (requests,) = telemetry.points("pixverse.job.status_requests")
    assert requests.sum == len(polls)
    no_secret_in(telemetry, API_KEY)


async def test_a_failed_job_is_refunded_and_an_error(telemetry: Telemetry) -> None:
    faults = FaultConfig()
    faults.add("text_to_video", "fail")
    async with (
        Emulator(api_keys={API_KEY}, faults=faults, generation_seconds=0.02) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client,
    ):
        job = await client.videos.text_to_video(prompt="a kite", **FIELDS)
        with pytest.raises(VideoFailedError):
            await job.wait()
    (span,) = telemetry.finished("generate_video v5")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "VideoFailedError"
    (refunded,) = telemetry.points("pixverse.credits.refunded")
    assert refunded.value == job.credits


async def test_a_job_ended_by_a_webhook_links_to_the_delivery(telemetry: Telemetry) -> None:
    hub = CompletionHub(webhook_id="1234", safety_net=PATIENT)
    async with setup(hub) as (_, client):
        job = await client.videos.text_to_video(prompt="a red kite", **FIELDS)
        await job.wait()
    (span,) = telemetry.finished("generate_video v5")
    assert span.attributes is not None
    assert span.attributes["pixverse.ended_by"] == "webhook"
    assert span.attributes["pixverse.polls"] == 0
    deliveries = [
        d
        for d in telemetry.finished("pixverse.webhook_delivery")
        if d.attributes is not None and d.attributes["pixverse.status"] == 1
    ]
    assert len(deliveries) == 1
    assert [link.context.span_id for link in span.links] == [deliveries[0].context.span_id]
    no_secret_in(telemetry, API_KEY, SECRET)


async def test_a_job_ended_by_a_relayed_webhook_links_to_the_other_processs_delivery(
    telemetry: Telemetry, postgres_dsn: str
) -> None:
    name = "otel" + uuid.uuid4().hex[:12]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.relay_receiver_otel", postgres_dsn, name, RELAY_SECRET,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    try:
        assert receiver.stdout is not None
        first = await asyncio.wait_for(receiver.stdout.readline(), 60)
        assert first.startswith(b"url "), first
        url = first.split()[1].decode()
        hub = CompletionHub(
            webhook_id="1234", safety_net=PATIENT,
            relay=PostgresRelay(postgres_dsn, name=name, secret=RELAY_SECRET),
        )  # fmt: skip
        async with (
            hub,
            Emulator(api_keys={API_KEY}, webhooks={"1234": (url, RELAY_SECRET)},
                     generation_seconds=0.01, webhook_retry_scale=0.001) as emu,
            PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY,
                     webhooks=hub) as client,
        ):  # fmt: skip
            job = await client.videos.text_to_video(prompt="a red kite", **FIELDS)
            await job.wait()
            await emu.webhooks.drain()
    finally:
        assert receiver.stdin is not None
        receiver.stdin.close()
        try:
            out, err = await asyncio.wait_for(receiver.communicate(), 30)
        except asyncio.TimeoutError:
            receiver.kill()
            await receiver.wait()
            raise
    assert receiver.returncode == 0, err.decode()
    deliveries = {
        (int(video), int(status)): (trace_id, span_id)
        for kind, video, status, trace_id, span_id in (
            line.split() for line in out.decode().splitlines() if line.startswith("delivery")
        )
    }
    (span,) = telemetry.finished("generate_video v5")
    assert span.attributes is not None
    assert span.attributes["pixverse.ended_by"] == "relay"
    assert span.attributes["pixverse.polls"] == 0
    (link,) = span.links
    assert link.context.is_remote
    assert (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") == deliveries[
        (job.video_id, 1)
    ]
    no_secret_in(telemetry, API_KEY, RELAY_SECRET)


async def test_a_runner_of_100_jobs_with_faults_is_one_run_span_over_its_job_spans(
    telemetry: Telemetry,
) -> None:
    faults = FaultConfig(error_500=0.1, seed=11)
    faults.add("text_to_video", "fail", rate=0.2)
    async with (
        Emulator(api_keys={API_KEY}, faults=faults, generation_seconds=0.02) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=FAST_RETRY) as c,
    ):
        runner = c.runner(concurrency=16, learner=False)
        async with runner.run(
            [TextToVideo(prompt=f"scene {i}", **FIELDS) for i in range(100)]  # type: ignore[arg-type]
        ) as stream:
            outcomes = [outcome async for outcome in stream]
            progress = stream.progress
    states = collections.Counter(o.state for o in outcomes)
    assert states[OutcomeState.FAILED] > 0 and states[OutcomeState.SUCCEEDED] > 0
    assert any(r.fault for r in emu.state.requests)
    (run,) = telemetry.finished("pixverse.run")
    attrs = run.attributes
    assert attrs is not None
    assert attrs["pixverse.run.succeeded"] == states[OutcomeState.SUCCEEDED]
    assert attrs["pixverse.run.failed"] == states[OutcomeState.FAILED]
    assert attrs["pixverse.run.unknown"] == states[OutcomeState.UNKNOWN]
    assert attrs["pixverse.run.credits_charged"] == progress.credits_charged
    assert attrs["pixverse.run.credits_refunded"] == progress.credits_refunded > 0
    jobs = telemetry.finished("generate_video v5")
    assert len(jobs) == 100
    assert all(j.parent is not None and j.parent.span_id == run.context.span_id for j in jobs)
    job_ids = {j.context.span_id for j in jobs}
    calls = [s for s in telemetry.finished() if s.name.startswith(("GET ", "POST "))]
    assert calls and all(s.parent is not None and s.parent.span_id in job_ids for s in calls)
    ended = collections.Counter((j.attributes or {}).get("pixverse.status") for j in jobs)
    assert ended["SUCCESSFUL"] == states[OutcomeState.SUCCEEDED]
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
    assert sum(p.value for p in telemetry.points("pixverse.credits.charged")) == (
        progress.credits_charged
    )
    assert sum(p.value for p in telemetry.points("pixverse.credits.refunded")) == (
        progress.credits_refunded
    )
    assert sum(p.count for p in telemetry.points("pixverse.job.duration")) == 100
    polls = sum(p.sum for p in telemetry.points("pixverse.job.status_requests"))
    assert polls == progress.status_requests
    no_secret_in(telemetry, API_KEY)


async def test_a_timed_out_wait_ends_the_span_once_and_a_later_wait_does_not_again(
    telemetry: Telemetry,
) -> None:
    brief = PollPolicy(first_delay=0.01, interval=0.01, factor=1.0, max_delay=0.01,
                       jitter=0.0, timeout=0.05)  # fmt: skip
    async with (
        Emulator(api_keys={API_KEY}, clock="manual") as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client,
    ):
        job = await client.videos.text_to_video(prompt="a kite", **FIELDS)
        with pytest.raises(JobTimeoutError):
            await job.wait(brief)
        emu.finish(job.video_id)
        await job.wait()
    (span,) = telemetry.finished("generate_video v5")
    assert span.attributes is not None
    assert span.attributes["pixverse.ended_by"] == "timeout"
    assert span.attributes["error.type"] == "JobTimeoutError"
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
    (duration,) = telemetry.points("pixverse.job.duration")
    assert duration.count == 1
