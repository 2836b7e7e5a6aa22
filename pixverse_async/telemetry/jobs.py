"""The span and the measures of one generation job, from its submit to its end.

Named after the GenAI conventions' pattern, ``{operation} {model}`` with the operation
``generate_video``; see :mod:`.instruments` for the attributes. A job is submitted, then
waited for, perhaps in another task: its span is current around the submit and each status
request (:meth:`JobSpan.active`), so their client spans are its children.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from .instruments import Instruments, current

__all__ = ["OPERATION", "PROVIDER", "JobSpan", "active", "start_job"]

OPERATION = "generate_video"
PROVIDER = "pixverse"


class JobSpan:
    """One job's span; ended once, by :meth:`end` (later calls do nothing)."""

    __slots__ = ("_inst", "_measure", "_span", "_started", "ended", "in_flight", "polls")

    def __init__(self, inst: Instruments, span: Any, measure: dict[str, str]) -> None:
        self._inst, self._span, self._measure = inst, span, measure
        self._started = time.monotonic()
        self.polls = 0
        self.in_flight = False
        self.ended = False

    def active(self) -> contextlib.AbstractContextManager[None]:
        """The job's span is the current one inside (a submit, a status request)."""
        return _Current(self._inst.trace.set_span_in_context(self._span))

    def submitted(self, video_id: int, credits: int | None) -> None:
        """The service accepted the job as ``video_id``, charging ``credits``."""
        self._span.set_attribute("gen_ai.response.id", str(video_id))
        self._span.set_attribute("pixverse.video_id", video_id)
        if credits is not None:
            self._span.set_attribute("pixverse.credits", credits)
            self._inst.credits_charged.add(credits, self._measure)
        self._inst.jobs_in_flight.add(1, self._measure)
        self.in_flight = True

    def end(
        self,
        ended_by: str,
        *,
        status: str | None = None,
        error: BaseException | None = None,
        refunded: int | None = None,
        link: Any = None,
    ) -> None:
        """End the job: ``ended_by`` is ``poll``, ``webhook``, ``relay``, ``timeout``,
        ``cancelled`` or ``error``; ``link`` the span context of the delivery that ended it;
        ``refunded`` the credits given back (a failed or moderated video)."""
        span = self._span
        if self.ended:
            return
        self.ended = True
        span.set_attribute("pixverse.ended_by", ended_by)
        span.set_attribute("pixverse.polls", self.polls)
        if status is not None:
            span.set_attribute("pixverse.status", status)
        if link is not None and link.is_valid and hasattr(span, "add_link"):
            span.add_link(link, {"pixverse.link": "webhook delivery"})
        if error is not None:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(self._inst.trace.StatusCode.ERROR, type(error).__qualname__)
        if refunded:
            self._inst.credits_refunded.add(refunded, self._measure)
        if self.in_flight:
            self._inst.jobs_in_flight.add(-1, self._measure)
            self._inst.job_duration.record(
                time.monotonic() - self._started, {**self._measure, "pixverse.ended_by": ended_by}
            )
            self._inst.status_requests.record(self.polls, self._measure)
        span.end()


def start_job(model: object, quality: object) -> JobSpan | None:
    """A job's span before its submit, or ``None`` when telemetry is off."""
    inst = current()
    if inst is None:
        return None
    model_name = str(getattr(model, "value", model) or "default")
    measure = {
        "gen_ai.request.model": model_name,
        "pixverse.quality": str(getattr(quality, "value", quality) or "default"),
    }
    span = inst.tracer.start_span(
        f"{OPERATION} {model_name}",
        kind=inst.trace.SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": OPERATION,
            "gen_ai.provider.name": PROVIDER,
            **measure,
        },
    )
    return JobSpan(inst, span, measure)


class _Current:
    """Makes an OpenTelemetry context current inside (cheaper than ``use_span``)."""

    __slots__ = ("_context", "_token")

    def __init__(self, context: Any) -> None:
        self._context = context

    def __enter__(self) -> None:
        import opentelemetry.context as context

        self._token = context.attach(self._context)

    def __exit__(self, *exc_info: object) -> None:
        import opentelemetry.context as context

        context.detach(self._token)


def active(span: JobSpan | None) -> contextlib.AbstractContextManager[None]:
    """``span.active()``, or nothing when there is no span."""
    return contextlib.nullcontext() if span is None else span.active()
