"""The client span and the duration measure of one HTTP attempt (see :mod:`.instruments`)."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, TypeVar

from yarl import URL

from ..constants import ErrCode
from ..retry import RetryableFailure
from .instruments import Instruments, current, url_template

__all__ = ["AttemptSpan", "start_attempt"]

T = TypeVar("T")


class Attempt(Protocol):
    """What the span reads of the session's attempt (``number``: the attempts before it;
    ``status``: its answer's HTTP status, 0 while none came)."""

    method: str
    url: str
    params: Mapping[str, str] | None
    path: str
    number: int
    status: int

    @property
    def trace_id(self) -> str: ...


class AttemptSpan:
    """One attempt's span, current while the attempt runs; :meth:`end` closes it."""

    __slots__ = ("_attempt", "_inst", "_metric", "_span", "_started", "_token")

    def __init__(
        self, inst: Instruments, span: Any, metric: dict[str, Any], attempt: Attempt
    ) -> None:
        self._inst, self._span, self._metric, self._attempt = inst, span, metric, attempt
        import opentelemetry.context as context

        self._token = context.attach(inst.trace.set_span_in_context(span))
        self._started = time.monotonic()

    async def run(self, call: Awaitable[T]) -> T:
        """Await the attempt's ``call``, then end the span with the answer's status."""
        try:
            result = await call
        except BaseException as exc:
            self.end(self._attempt.status, exc)
            raise
        self.end(self._attempt.status, None)
        return result

    def end(self, status: int, error: BaseException | None) -> None:
        """Close the span with the answer's ``status`` (0: none came) and the failure."""
        import opentelemetry.context as context

        context.detach(self._token)
        span, metric = self._span, self._metric
        if status:
            span.set_attribute("http.response.status_code", status)
            metric["http.response.status_code"] = status
        if error is not None:
            inner = error.error if isinstance(error, RetryableFailure) else error
            err_code = getattr(inner, "err_code", None)
            if isinstance(err_code, int):
                span.set_attribute("pixverse.err_code", err_code)
                if err_code == ErrCode.CONCURRENCY_LIMIT:
                    self._inst.concurrency_limited.add(1)
            cause = inner.__cause__ if status == 0 and inner.__cause__ is not None else inner
            kind = str(status) if status >= 400 else type(cause).__qualname__
            span.set_attribute("error.type", kind)
            span.set_status(self._inst.trace.StatusCode.ERROR, type(inner).__qualname__)
            metric["error.type"] = kind
        self._inst.request_duration.record(time.monotonic() - self._started, metric)
        span.end()


@functools.lru_cache(maxsize=256)
def _parsed(url: str) -> tuple[str, str, int]:
    """``url`` without credentials, its host and its port (the same few URLs recur)."""
    parsed = URL(url).with_user(None)
    return str(parsed), parsed.host or "", parsed.port or 0


def start_attempt(attempt: Attempt) -> AttemptSpan | None:
    """The span of an attempt about to be sent, or ``None`` when telemetry is off."""
    inst = current()
    if inst is None:
        return None
    method, params, path = attempt.method, attempt.params, attempt.path
    full, host, port = _parsed(attempt.url)
    if params:
        full = str(URL(full).update_query(params))
    template = url_template(path)
    metric: dict[str, Any] = {
        "http.request.method": method,
        "server.address": host,
        "server.port": port,
    }
    attributes = {
        **metric,
        "url.full": full,
        "url.template": template,
        "pixverse.trace_id": attempt.trace_id,
        "pixverse.endpoint": template,
    }
    if attempt.number:
        attributes["http.request.resend_count"] = attempt.number
    span = inst.tracer.start_span(
        f"{method} {template}", kind=inst.trace.SpanKind.CLIENT, attributes=attributes
    )
    return AttemptSpan(inst, span, metric, attempt)
