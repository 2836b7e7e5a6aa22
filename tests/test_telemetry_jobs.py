"""Job spans on every path that submits (``videos.generate``, ``videos.resend``, image
templates, the Temporal activity), and the runner's spans of jobs it leaves unended: read
with the real OpenTelemetry SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from pixverse_async import (
    JobTimeoutError,
    PixVerse,
    PollPolicy,
    Progress,
    RetryPolicy,
    SubmissionUnknownError,
    TextToVideo,
)
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator, FaultConfig

from .conftest import API_KEY, FAST_POLL, FAST_RETRY
from .otel import Telemetry, telemetry_fixture  # noqa: F401  (the fixture "telemetry")
from .test_image_templates import image
from .test_telemetry import no_secret_in

FIELDS = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
STATUS = f"GET {Paths.VIDEO_RESULT_PREFIX}{{id}}"


def attributes(span: ReadableSpan) -> dict[str, Any]:
    assert span.attributes is not None
    return dict(span.attributes)


def calls_under(telemetry: Telemetry, job: ReadableSpan) -> list[ReadableSpan]:
    """The client spans of ``job``'s HTTP attempts (its children)."""
    return [
        s
        for s in telemetry.finished()
        if s.kind is SpanKind.CLIENT
        and s.name.startswith(("GET ", "POST "))
        and s.parent is not None
        and s.parent.span_id == job.context.span_id
    ]


def assert_job_span(span: ReadableSpan, *, model: str, response_id: int, credits: int) -> None:
    attrs = attributes(span)
    assert span.kind is SpanKind.CLIENT
    assert attrs["gen_ai.provider.name"] == "pixverse"
    assert attrs["gen_ai.request.model"] == model
    assert attrs["gen_ai.response.id"] == str(response_id)
    assert attrs["pixverse.credits"] == credits


async def until(condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    """Wait for ``condition`` (checked every 20 ms), failing after ``timeout`` seconds."""

    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


async def test_a_job_of_videos_generate_is_one_span_over_its_submit_and_wait(
    telemetry: Telemetry, emulator: Emulator
) -> None:
    async with PixVerse(
        api_key=API_KEY, base_url=emulator.base_url, retry=FAST_RETRY, poll=FAST_POLL
    ) as client:
        job = await client.videos.generate(Paths.TEXT_TO_VIDEO, {"prompt": "a kite", **FIELDS})
        video = await job.wait()
    (span,) = telemetry.finished("generate_video v5")
    assert_job_span(span, model="v5", response_id=video.id, credits=job.credits or -1)
    attrs = attributes(span)
    assert attrs["gen_ai.operation.name"] == "generate_video"
    assert attrs["pixverse.ended_by"] == "poll" and attrs["pixverse.status"] == "SUCCESSFUL"
    calls = calls_under(telemetry, span)
    polls = [s for s in calls if s.name == STATUS]
    assert [s.name for s in calls if s.name.startswith("POST")] == [f"POST {Paths.TEXT_TO_VIDEO}"]
    assert polls and attrs["pixverse.polls"] == len(polls)
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
    (charged,) = telemetry.points("pixverse.credits.charged")
    assert charged.value == job.credits
    no_secret_in(telemetry, API_KEY)


async def test_a_resent_submit_is_a_job_span_under_the_same_trace_id(
    telemetry: Telemetry,
) -> None:
    faults = FaultConfig(seed=1)
    faults.add("text_to_video", "reset", times=1)
    async with (
        Emulator(api_keys={API_KEY}, faults=faults, generation_seconds=0.02) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, poll=FAST_POLL) as c,
    ):
        with pytest.raises(SubmissionUnknownError) as info:
            await c.videos.text_to_video(prompt="a kite", resend_ambiguous=False, **FIELDS)
        job = await c.videos.resend(info.value)
        await job.wait()
    first, resent = sorted(telemetry.finished("generate_video v5"), key=lambda s: s.start_time)
    # the ambiguous submit's span ended as an error; the resend's job is a span of its own
    assert attributes(first)["pixverse.ended_by"] == "error"
    assert attributes(first)["error.type"] == "SubmissionUnknownError"
    assert first.status.status_code is StatusCode.ERROR
    assert_job_span(resent, model="v5", response_id=job.video_id, credits=job.credits or -1)
    assert attributes(resent)["pixverse.ended_by"] == "poll"
    assert attributes(resent)["pixverse.status"] == "SUCCESSFUL"
    (post,) = [s for s in calls_under(telemetry, resent) if s.name.startswith("POST")]
    assert attributes(post)["pixverse.trace_id"] == info.value.trace_id
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
    no_secret_in(telemetry, API_KEY)


async def test_an_image_template_job_is_a_generate_image_span(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.05) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client,
    ):
        job = await client.image_templates.generate(img_ids=[image(emu, tmp_path)], template_id=7)
        await job.wait()
    (span,) = telemetry.finished("generate_image template")
    assert_job_span(span, model="template", response_id=job.image_id, credits=job.credits or -1)
    attrs = attributes(span)
    assert attrs["gen_ai.operation.name"] == "generate_image"
    assert attrs["pixverse.ended_by"] == "poll" and attrs["pixverse.status"] == "SUCCESSFUL"
    calls = calls_under(telemetry, span)
    polls = [s for s in calls if s.name == f"GET {Paths.IMAGE_RESULT_PREFIX}{{id}}"]
    assert [s.name for s in calls if s.name.startswith("POST")] == [f"POST {Paths.IMAGE_TEMPLATE}"]
    assert polls and attrs["pixverse.polls"] == len(polls)
    (requests,) = telemetry.points("pixverse.job.status_requests")
    assert requests.sum == len(polls)
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0


class _HeldLong(RetryPolicy):
    """The runner's hold policy: a held request waits an hour (it is never sent again
    while the test runs)."""

    def wait(self, retry: int, retry_after: float | None = None) -> float:
        return 3600.0


async def test_a_job_held_after_500044_and_never_resent_ends_its_span_once_when_the_run_stops(
    telemetry: Telemetry,
) -> None:
    progress: list[Progress] = []
    async with (
        Emulator(api_keys={API_KEY}, clock="manual", max_concurrent_generations=1) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=FAST_RETRY) as c,
    ):
        runner = c.runner(
            concurrency=2, hold=_HeldLong(max_retries=7), learner=False,
            on_progress=progress.append,
        )  # fmt: skip
        requests = [TextToVideo(prompt=p, **FIELDS) for p in ("first", "second")]  # type: ignore[arg-type]
        async with runner.run(requests) as stream:
            consumer = asyncio.ensure_future(stream.__anext__())  # starts the run
            # one generating (the emulator's clock stands still), the other answered 500044
            await until(lambda: bool(progress) and progress[-1].limit_answers == 1)
            await until(lambda: progress[-1].running == 1 and progress[-1].submitting == 0)
            assert not consumer.done()  # no outcome: neither job ended
        # leaving the block cancelled the run with both jobs unended
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        limited = [r for r in emu.state.requests_to(Paths.TEXT_TO_VIDEO) if r.err_code == 500044]
    assert len(limited) == 1
    jobs = telemetry.finished("generate_video v5")
    assert len(jobs) == 2 and len({j.context.span_id for j in jobs}) == 2  # each ended once
    by_status = {attributes(j)["pixverse.status"]: j for j in jobs}
    assert set(by_status) == {"GENERATING", "HELD"}
    for job in jobs:
        attrs = attributes(job)
        assert attrs["pixverse.ended_by"] == "cancelled"
        assert attrs["error.type"] == "CancelledError"
        assert job.status.status_code is StatusCode.ERROR
    held = by_status["HELD"]
    assert "gen_ai.response.id" not in attributes(held)  # never accepted
    (post,) = calls_under(telemetry, held)
    assert attributes(post)["pixverse.err_code"] == 500044
    (run,) = telemetry.finished("pixverse.run")
    assert all(j.parent is not None and j.parent.span_id == run.context.span_id for j in jobs)
    # only the generating one was in flight: counted in and out once
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
    (duration,) = telemetry.points("pixverse.job.duration")
    assert duration.count == 1 and duration.attributes["pixverse.ended_by"] == "cancelled"


async def test_an_image_job_whose_wait_times_out_ends_its_span_once(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    brief = PollPolicy(first_delay=0, interval=0.01, factor=1, jitter=0.0, timeout=0.05)
    async with (
        Emulator(api_keys={API_KEY}, clock="manual") as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client,
    ):
        job = await client.image_templates.generate(img_ids=[image(emu, tmp_path)], template_id=7)
        with pytest.raises(JobTimeoutError):
            await job.wait(brief)
        emu.advance(3600)
        assert (await job.wait()).is_successful  # a later wait: the span ended already
    (span,) = telemetry.finished("generate_image template")
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["pixverse.ended_by"] == "timeout"
    assert attributes(span)["error.type"] == "JobTimeoutError"
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
    (duration,) = telemetry.points("pixverse.job.duration")
    assert duration.count == 1


async def test_a_job_dropped_unwaited_ends_its_span_and_leaves_the_in_flight_count(
    telemetry: Telemetry, emulator: Emulator
) -> None:
    async with PixVerse(api_key=API_KEY, base_url=emulator.base_url, retry=FAST_RETRY) as c:
        job = await c.videos.text_to_video(prompt="a kite", **FIELDS)
        video_id = job.video_id
        (in_flight,) = telemetry.points("pixverse.jobs.in_flight")
        assert in_flight.value == 1 and telemetry.finished("generate_video v5") == []
        del job
        gc.collect()
    (span,) = telemetry.finished("generate_video v5")
    attrs = attributes(span)
    assert attrs["pixverse.ended_by"] == "dropped" and attrs["pixverse.polls"] == 0
    assert attrs["gen_ai.response.id"] == str(video_id)
    assert span.status.status_code is StatusCode.UNSET
    (in_flight,) = telemetry.points("pixverse.jobs.in_flight")
    assert in_flight.value == 0
    assert telemetry.points("pixverse.job.duration") == []  # no end was observed


class DashboardDown(Exception):
    """What the run's ``on_progress`` raises: a failure that stops the run."""


async def test_a_run_stopped_by_a_failure_ends_its_held_and_generating_job_spans_so(
    telemetry: Telemetry,
) -> None:
    def on_progress(progress: Progress) -> None:
        # one job generating (the emulator's clock stands still), the other held after 500044
        if progress.limit_answers and progress.running == 1 and progress.submitting == 0:
            raise DashboardDown("the progress dashboard is down")

    async with (
        Emulator(api_keys={API_KEY}, clock="manual", max_concurrent_generations=1) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=FAST_RETRY) as c,
    ):
        runner = c.runner(
            concurrency=2, hold=_HeldLong(max_retries=7), learner=False, on_progress=on_progress
        )
        requests = [TextToVideo(prompt=p, **FIELDS) for p in ("first", "second")]  # type: ignore[arg-type]
        with pytest.raises(DashboardDown):
            async with runner.run(requests) as stream:
                async for _ in stream:
                    pass
    jobs = telemetry.finished("generate_video v5")
    assert len(jobs) == 2 and len({j.context.span_id for j in jobs}) == 2
    assert {attributes(j)["pixverse.status"] for j in jobs} == {"GENERATING", "HELD"}
    for job in jobs:
        assert attributes(job)["pixverse.ended_by"] == "stopped"
        assert attributes(job)["error.type"] == "DashboardDown"
        assert job.status.status_code is StatusCode.ERROR
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
