"""The SDK's loggers: every record carries ``trace_id`` and ``video_id`` as extra fields.

``trace_id`` is the ``Ai-trace-id`` of the API call under way (or of the job the record is
about), ``video_id`` the video the record is about; either is ``None`` when there is none, so
a format string may always name them. A call sets the trace id for what it logs
(:func:`log_context`); a record about a video passes its id (``extra={"video_id": ...}``).

Example::

    import logging
    from pixverse_async.logs import log_context, sdk_logger

    logging.basicConfig(format="%(levelname)s %(name)s [%(trace_id)s %(video_id)s] %(message)s")
    log = sdk_logger("pixverse_async")
    with log_context(trace_id="5c7b-..."):
        log.warning("status of video %s failed", 42, extra={"video_id": 42})
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

__all__ = ["SDKLogger", "log_context", "sdk_logger"]

_TRACE_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pixverse_async_trace_id", default=None
)
_VIDEO_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "pixverse_async_video_id", default=None
)

if TYPE_CHECKING:
    _Adapter = logging.LoggerAdapter[logging.Logger]
else:
    _Adapter = logging.LoggerAdapter


class SDKLogger(_Adapter):
    """A logger adding ``trace_id`` and ``video_id`` (from :func:`log_context`, unless the
    call's own ``extra`` names them) to every record."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = {"trace_id": _TRACE_ID.get(), "video_id": _VIDEO_ID.get()}
        own = kwargs.get("extra")
        if own:
            extra.update(own)
        kwargs["extra"] = extra
        return msg, kwargs


def sdk_logger(name: str) -> SDKLogger:
    """The SDK's logger ``name`` (``pixverse_async`` or one under it)."""
    return SDKLogger(logging.getLogger(name), {})


@contextmanager
def log_context(*, trace_id: str | None = None, video_id: int | None = None) -> Iterator[None]:
    """Records logged inside carry these ids (a ``None`` keeps the outer one)."""
    trace = None if trace_id is None else _TRACE_ID.set(trace_id)
    video = None if video_id is None else _VIDEO_ID.set(video_id)
    try:
        yield
    finally:
        if video is not None:
            _VIDEO_ID.reset(video)
        if trace is not None:
            _TRACE_ID.reset(trace)
