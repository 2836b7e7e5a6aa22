"""The span of a webhook delivery, and its context carried between processes.

A delivery the hub takes is a span (``pixverse.webhook_delivery``, CONSUMER); the job it
ends links to it. The relay carries the span's context to the other processes as a W3C
``traceparent`` string, so a job ended there links to the same delivery.

>>> from_traceparent("not a traceparent") is None
True
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from .instruments import current

__all__ = ["delivery_span", "from_traceparent", "traceparent"]

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@contextlib.contextmanager
def delivery_span(video_id: int, status: int) -> Iterator[Any]:
    """A delivery's span while it is taken; yields its span context (``None``: off)."""
    inst = current()
    if inst is None:
        yield None
        return
    attributes = {"pixverse.video_id": video_id, "pixverse.status": status}
    with inst.tracer.start_as_current_span(
        "pixverse.webhook_delivery", kind=inst.trace.SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span.get_span_context()


def traceparent(context: Any) -> str:
    """``context`` (a span context) as a W3C ``traceparent`` value."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def from_traceparent(value: object) -> Any:
    """The remote span context a ``traceparent`` value names; ``None`` when it is not one,
    or telemetry is off (nothing would read it)."""
    inst = current()
    found = _TRACEPARENT.fullmatch(value) if isinstance(value, str) else None
    if inst is None or found is None:
        return None
    trace_id, span_id, flags = found.groups()
    return inst.trace.SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=True,
        trace_flags=inst.trace.TraceFlags(int(flags, 16)),
    )
