"""The Temporal ``generate`` activity's job span, a child of the activity's own span (the
``temporalio.contrib.opentelemetry`` interceptor's ``RunActivity``), against a real Temporal
server, the emulator, and the real OpenTelemetry SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("temporalio")

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Worker

from pixverse_async.constants import Paths
from pixverse_async.temporal import GenerationActivities, MemoryTokenStore

from .conftest import API_KEY
from .otel import Telemetry, telemetry_fixture  # noqa: F401  (the fixture "telemetry")
from .test_telemetry import no_secret_in
from .test_temporal import WEBHOOK_ID, Harness, harness, until
from .test_temporal import temporal_batch as example

STATUS = f"GET {Paths.VIDEO_RESULT_PREFIX}{{id}}"


class ActivityTracing(TracingInterceptor):
    """The interceptor's activity spans only (the example's workflow runs untraced)."""

    def workflow_interceptor_class(self, input: Any) -> None:
        return None


def worker(h: Harness, activities: GenerationActivities) -> Worker:
    return Worker(
        h.temporal,
        task_queue=h.queue,
        workflows=[example.GenerationBatch],
        activities=activities.all(),
        interceptors=[ActivityTracing()],
    )


def attributes(span: ReadableSpan) -> dict[str, Any]:
    assert span.attributes is not None
    return dict(span.attributes)


def activity_spans(telemetry: Telemetry) -> dict[int, ReadableSpan]:
    found = telemetry.finished("RunActivity:pixverse.generate")
    return {s.context.span_id: s for s in found}


async def test_a_polling_generate_activity_is_a_job_span_under_its_activity_span(
    telemetry: Telemetry, temporal_address: str
) -> None:
    async with harness(temporal_address, worker=False, generation_seconds=0.05) as h:
        activities = GenerationActivities(h.client, heartbeat_every=0.2)  # no store: polls
        async with worker(h, activities):
            batch = example.Batch(example.calls(2, estimate=45, fail_every=2), max_in_flight=2)
            report = await h.run(batch)
    assert [o.error for o in report.outcomes] == [None, "VideoFailedError"]
    jobs = telemetry.finished("generate_video v5")
    parents = activity_spans(telemetry)
    assert len(jobs) == 2 and len(parents) == 2
    for job in jobs:
        assert job.parent is not None and job.parent.span_id in parents
        assert job.context.trace_id == parents[job.parent.span_id].context.trace_id
        attrs = attributes(job)
        assert attrs["gen_ai.provider.name"] == "pixverse"
        assert attrs["gen_ai.request.model"] == "v5"
        assert attrs["pixverse.ended_by"] == "poll"
        polls = [
            s
            for s in telemetry.finished(STATUS)
            if s.parent is not None and s.parent.span_id == job.context.span_id
        ]
        assert polls and attrs["pixverse.polls"] == len(polls)
    ended = {attributes(j)["gen_ai.response.id"]: j for j in jobs}
    ok, failed = (ended[str(o.video_id)] for o in report.outcomes)
    assert attributes(ok)["pixverse.status"] == "SUCCESSFUL"
    assert ok.status.status_code is StatusCode.UNSET
    assert attributes(failed)["pixverse.status"] == "FAILED"
    assert attributes(failed)["error.type"] == "VideoFailedError"
    assert failed.status.status_code is StatusCode.ERROR
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
    no_secret_in(telemetry, API_KEY)


async def test_a_generate_activity_waiting_for_its_webhook_hands_its_job_span_off(
    telemetry: Telemetry, temporal_address: str
) -> None:
    store = MemoryTokenStore()
    async with harness(
        temporal_address, store=store, worker=False, clock="manual", generation_seconds=60
    ) as h:
        activities = GenerationActivities(
            h.client, store=store, webhook_id=WEBHOOK_ID, heartbeat_every=0.2
        )
        async with worker(h, activities):
            handle = await h.start(example.Batch(example.calls(3, estimate=45), max_in_flight=3))
            await until(lambda: len(store) == 3)  # each activity handed its token to the store
            # the activities returned (completed later, by the completer): spans ended
            await until(lambda: len(telemetry.finished("generate_video v5")) == 3)
            h.emu.advance(60)
            report = await asyncio.wait_for(handle.result(), 60)
    assert {o.finished_by for o in report.outcomes} == {"webhook"}
    jobs = telemetry.finished("generate_video v5")
    parents = activity_spans(telemetry)
    assert len(jobs) == 3
    assert all(j.parent is not None and j.parent.span_id in parents for j in jobs)
    assert {attributes(j)["pixverse.ended_by"] for j in jobs} == {"handed_off"}
    assert {attributes(j)["pixverse.status"] for j in jobs} == {"GENERATING"}
    assert {attributes(j)["gen_ai.response.id"] for j in jobs} == {
        str(o.video_id) for o in report.outcomes
    }
    assert all(attributes(j)["pixverse.polls"] == 0 for j in jobs)
    assert sum(p.value for p in telemetry.points("pixverse.jobs.in_flight")) == 0
