"""The span and the measures of one job, from its submit to its end: the one place job spans
are made, for every path that submits (``videos.submit`` and the typed methods,
``videos.generate``, ``videos.resend``, ``image_templates.generate``, the runner, the
Temporal activity).

Named after the GenAI conventions' pattern, ``{operation} {model}`` with the operation
``generate_video`` (``generate_image`` for an image template); see :mod:`.instruments` for
the attributes. A job is submitted, then waited for, perhaps in another task: its span is
current around the submit and each status request (:meth:`JobSpan.active`, or
:meth:`JobSpan.poll`), so their client spans are its children. What does not change from
one job to the next (the span's name and first attributes, the measures' attribute sets)
is built once per kind of job (:class:`JobKind`).

>>> active(None).__enter__() is None   # no span (telemetry off): nothing to make current
True
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from ..errors import JobTimeoutError
from .instruments import Instruments, current

__all__ = [
    "IMAGE_OPERATION", "OPERATION", "PROVIDER", "JobKind", "JobSpan", "active", "start_job",
    "submitting", "waiting",
]  # fmt: skip

OPERATION = "generate_video"
IMAGE_OPERATION = "generate_image"
PROVIDER = "pixverse"
_MAX_KINDS = 1024  # past it, kinds are built per job (a cache, not a registry)

T = TypeVar("T")


class JobKind:
    """What the spans and measures of one kind of job (operation, model, quality) share."""

    __slots__ = ("attributes", "charged", "ended", "in_flight", "measure", "name", "refunded")

    def __init__(self, inst: Instruments, operation: str, model: str, quality: str) -> None:
        self.name = f"{operation} {model}"
        self.measure = {"gen_ai.request.model": model, "pixverse.quality": quality}
        key = (operation, model, quality)
        self.attributes = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER,
            **self.measure,
        }
        self.in_flight = inst.jobs_in_flight.cell(key, self.measure)
        self.charged = inst.credits_charged.cell(key, self.measure)
        self.refunded = inst.credits_refunded.cell(key, self.measure)
        #: the job duration's attribute set, by how the job ended
        self.ended: dict[str, dict[str, str]] = {}

    def ended_measure(self, ended_by: str) -> dict[str, str]:
        found = self.ended.get(ended_by)
        if found is None:
            found = self.ended[ended_by] = {**self.measure, "pixverse.ended_by": ended_by}
        return found


class JobSpan:
    """One job's span; ended once, by :meth:`end` (later calls do nothing)."""

    __slots__ = (
        "_context", "_inst", "_kind", "_recording", "_span", "_started", "ended", "in_flight",
        "polls",
    )  # fmt: skip

    def __init__(self, inst: Instruments, span: Any, kind: JobKind) -> None:
        self._inst, self._span, self._kind = inst, span, kind
        self._context: Any = None
        self._recording: bool = span.is_recording()
        self._started = time.monotonic()
        self.polls = 0
        self.in_flight = False
        self.ended = False

    def active(self) -> _Current:
        """The job's span is the current one inside (a submit, a status request)."""
        if self._context is None:
            self._context = self._inst.trace.set_span_in_context(self._span)
        return _Current(self._inst, self._context)

    async def poll(self, status: Callable[[], Awaitable[T]]) -> T:
        """One status request of the job (``status()``), counted, under the job's span."""
        self.polls += 1
        with self.active():
            return await status()

    def submitted(self, video_id: int, credits: int | None) -> None:
        """The service accepted the job as ``video_id`` (an image's id for an image job),
        charging ``credits``."""
        kind = self._kind
        if credits is not None:
            self._inst.credits_charged.add(kind.charged, credits)
        if self._recording:
            attributes: dict[str, Any] = {"gen_ai.response.id": str(video_id)}
            if credits is not None:
                attributes["pixverse.credits"] = credits
            self._span.set_attributes(attributes)
        self._inst.jobs_in_flight.add(kind.in_flight, 1)
        self.in_flight = True

    def dropped(self) -> None:
        """The job's handle was dropped before its end was seen (nobody waits for it): the
        span ends ``dropped`` and the job leaves ``pixverse.jobs.in_flight``; no duration or
        status requests are recorded, as no end was observed. Nothing after an end."""
        if self.ended:
            return
        try:  # noqa: SIM105 (cheaper than suppress(), on every job nobody waits for)
            self.end("dropped", observed=False)
        except Exception:  # from a finalizer: the SDK may be gone at exit
            pass

    def end(
        self,
        ended_by: str,
        *,
        status: str | None = None,
        error: BaseException | None = None,
        refunded: int | None = None,
        link: Any = None,
        observed: bool = True,
    ) -> None:
        """End the job: ``ended_by`` is ``poll``, ``webhook``, ``relay``, ``timeout``,
        ``cancelled``, ``stopped``, ``handed_off``, ``dropped`` or ``error``; ``status`` the
        video's (or what the job was doing when it was given up); ``link`` the span context
        of the delivery that ended it; ``refunded`` the credits given back (a failed or
        moderated video); ``observed`` False records no duration (see :meth:`dropped`)."""
        if self.ended:
            return
        self.ended = True
        span, inst, kind = self._span, self._inst, self._kind
        if self._recording:
            attributes: dict[str, Any] = {
                "pixverse.ended_by": ended_by,
                "pixverse.polls": self.polls,
            }
            if status is not None:
                attributes["pixverse.status"] = status
            if error is not None:
                attributes["error.type"] = type(error).__qualname__
                span.set_status(inst.trace.StatusCode.ERROR, type(error).__qualname__)
            span.set_attributes(attributes)
            if link is not None and link.is_valid and hasattr(span, "add_link"):
                span.add_link(link, {"pixverse.link": "webhook delivery"})
        if refunded:
            inst.credits_refunded.add(kind.refunded, refunded)
        if self.in_flight:
            inst.jobs_in_flight.add(kind.in_flight, -1)
        if self.in_flight and observed:
            inst.job_duration.record(time.monotonic() - self._started, kind.ended_measure(ended_by))
            inst.status_requests.record(self.polls, kind.measure)
        span.end()


def _name(value: object) -> str:
    return str(getattr(value, "value", value) or "default")


def start_job(model: object, quality: object, *, operation: str = OPERATION) -> JobSpan | None:
    """A job's span before its submit (a child of the current span), or ``None`` when
    telemetry is off. ``model`` and ``quality`` are the request's (an enum, a string, or
    ``None``: ``default``)."""
    inst = current()
    if inst is None:
        return None
    try:
        key: Any = (operation, model, quality)
        kind = inst.kinds.get(key)
    except TypeError:  # an unhashable value in a body sent as written
        key, kind = None, None
    if kind is None:
        kind = JobKind(inst, operation, _name(model), _name(quality))
        if key is not None and len(inst.kinds) < _MAX_KINDS:
            inst.kinds[key] = kind
    span = inst.tracer.start_span(
        kind.name, kind=inst.trace.SpanKind.CLIENT, attributes=kind.attributes
    )
    return JobSpan(inst, span, kind)


class _Current:
    """Makes an OpenTelemetry context current inside (cheaper than ``use_span``)."""

    __slots__ = ("_context", "_inst", "_token")

    def __init__(self, inst: Instruments, context: Any) -> None:
        self._inst, self._context = inst, context

    def __enter__(self) -> None:
        self._token = self._inst.context.attach(self._context)

    def __exit__(self, *exc_info: object) -> None:
        self._inst.context.detach(self._token)


def active(span: JobSpan | None) -> contextlib.AbstractContextManager[None]:
    """``span.active()``, or nothing when there is no span."""
    return contextlib.nullcontext() if span is None else span.active()


def submitting(span: JobSpan | None) -> contextlib.AbstractContextManager[None]:
    """The job's submit inside, under its span; a submit that fails (or is cancelled) ends
    the span as an ``error`` (the caller calls :meth:`JobSpan.submitted` on success)."""
    return contextlib.nullcontext() if span is None else _Submitting(span)


class _Submitting:
    __slots__ = ("_current", "_span")

    def __init__(self, span: JobSpan) -> None:
        self._span, self._current = span, span.active()

    def __enter__(self) -> None:
        self._current.__enter__()

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        self._current.__exit__(kind, error, tb)
        if error is not None:
            self._span.end("error", error=error)


@contextlib.contextmanager
def waiting(span: JobSpan | None) -> Iterator[None]:
    """A wait for the job inside: one cancelled, timed out or failed ends the job's span so
    (``cancelled``; ``timeout`` or ``error`` with the error). A wait that returns leaves the
    span to its caller, which knows how the job ended."""
    if span is None:
        yield
        return
    try:
        yield
    except asyncio.CancelledError:
        span.end("cancelled")
        raise
    except JobTimeoutError as exc:
        span.end("timeout", error=exc)
        raise
    except Exception as exc:
        span.end("error", error=exc)
        raise
