"""One request's life in a run: what the run's collaborators know of it and change.

Example::

    from pixverse_async.batch.run_job import RunJob

    job = RunJob(0, "key", request=None, body={})
    assert not job.ended and job.video_id is None
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ..jobs.polling import PollSchedule

if TYPE_CHECKING:
    from ..telemetry.jobs import JobSpan
    from ..webhooks.hub import CompletionWatch

__all__ = ["RunJob"]


@attrs.define(eq=False)
class RunJob:
    """A request of the run: its place in the input, journal key, body and progress."""

    index: int
    key: str
    request: Any
    body: dict[str, Any]
    video_id: int | None = None
    attempts: int = 0
    not_before: float = 0.0
    schedule: PollSchedule | None = None
    last_status: object = None
    ended: bool = False  # its end was decided (see Ends.end): what comes later is dropped
    reported: bool = False  # its outcome is in the stream
    slot: bool = False  # it holds one of the run's in-flight places
    submitting: bool = False  # counted in progress.submitting
    submitted_at: float | None = None  # loop time of its submit (an estimate if resumed)
    resumed: bool = False
    credits: int | None = None
    counted: bool = False  # its credits are in the progress
    reserved: int = 0
    watch: CompletionWatch | None = None
    trace_id: str | None = None  # the entry's, for life: every send of it goes under it
    #: Its OpenTelemetry span (None: telemetry off), how its end came, and the delivery's
    #: span context when an event ended it.
    span: JobSpan | None = None
    ended_by: str = "poll"
    end_link: Any = None
    late_resends: int = 0  # held and sent again after its outcome stayed unknown
