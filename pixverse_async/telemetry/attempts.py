"""The client span and the duration measure of one HTTP attempt (see :mod:`.instruments`)."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Mapping
from typing import Any, Protocol

from yarl import URL

from ..constants import ErrCode
from ..retry import RetryableFailure
from .instruments import Instruments, current, url_template

__all__ = ["UNTRACED", "AttemptSpan", "start_attempt"]

#: What an attempt runs in when telemetry is off (nothing).
UNTRACED = contextlib.nullcontext()


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
    """One attempt's span, current while the attempt runs; :meth:`end` closes it, or
    leaving ``with`` (with the attempt's status and the error that left it)."""

    __slots__ = ("_attempt", "_inst", "_metric", "_span", "_started", "_token")

    def __init__(
        self, inst: Instruments, span: Any, metric: dict[str, Any], attempt: Attempt
    ) -> None:
        self._inst, self._span, self._metric, self._attempt = inst, span, metric, attempt
        self._token = inst.context.attach(inst.trace.set_span_in_context(span))
        self._started = time.monotonic()

    def __enter__(self) -> AttemptSpan:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        self.end(self._attempt.status, error)

    def end(self, status: int, error: BaseException | None) -> None:
        """Close the span with the answer's ``status`` (0: none came) and the failure."""
        inst = self._inst
        inst.context.detach(self._token)
        span, metric = self._span, self._metric
        if status:
            metric["http.response.status_code"] = status
        if error is None:
            if status:
                span.set_attribute("http.response.status_code", status)
        else:
            inner = error.error if isinstance(error, RetryableFailure) else error
            attributes: dict[str, Any] = {}
            if status:
                attributes["http.response.status_code"] = status
            err_code = getattr(inner, "err_code", None)
            if isinstance(err_code, int):
                attributes["pixverse.err_code"] = err_code
                if err_code == ErrCode.CONCURRENCY_LIMIT:
                    inst.concurrency_limited.add(1)
            cause = inner.__cause__ if status == 0 and inner.__cause__ is not None else inner
            kind = str(status) if status >= 400 else type(cause).__qualname__
            attributes["error.type"] = metric["error.type"] = kind
            span.set_attributes(attributes)
            span.set_status(inst.trace.StatusCode.ERROR, type(inner).__qualname__)
        inst.request_duration.record(time.monotonic() - self._started, metric)
        span.end()


@functools.lru_cache(maxsize=64)
def _origin(method: str, base: str) -> tuple[str, dict[str, Any]]:
    """``base`` (a URL's part before its path) without credentials, and the attributes an
    attempt's span and measure share (the same few recur: parsed once)."""
    parsed = URL(base).with_user(None)
    shared = {
        "http.request.method": method,
        "server.address": parsed.host or "",
        "server.port": parsed.port or 0,
    }
    return str(parsed), shared


#: ``(method, path)`` -> the span's name and ``url.template``, for the paths without an id
#: (the few endpoints recur); a path with one (a status request's) is templated each time.
_ENDPOINTS: dict[tuple[str, str], tuple[str, str]] = {}


def _endpoint(method: str, path: str) -> tuple[str, str]:
    found = _ENDPOINTS.get((method, path))
    if found is None:
        template = url_template(path)
        found = (f"{method} {template}", template)
        if template == path and len(_ENDPOINTS) < 256:
            _ENDPOINTS[method, path] = found
    return found


def start_attempt(attempt: Attempt) -> AttemptSpan | None:
    """The span of an attempt about to be sent, or ``None`` when telemetry is off."""
    inst = current()
    if inst is None:
        return None
    method, url, path = attempt.method, attempt.url, attempt.path
    if path and url.endswith(path):
        origin, shared = _origin(method, url[: len(url) - len(path)])
        full = origin + path
    else:  # not the session's base + path: parse it whole
        full, shared = _origin(method, url)
    if attempt.params:
        full = str(URL(full).update_query(attempt.params))
    name, template = _endpoint(method, path)
    attributes = {
        **shared,
        "url.full": full,
        "url.template": template,
        "pixverse.trace_id": attempt.trace_id,
        "pixverse.endpoint": template,
    }
    if attempt.number:
        attributes["http.request.resend_count"] = attempt.number
    span = inst.tracer.start_span(name, kind=inst.trace.SpanKind.CLIENT, attributes=attributes)
    return AttemptSpan(inst, span, shared.copy(), attempt)
