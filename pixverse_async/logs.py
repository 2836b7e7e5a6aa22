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
from collections.abc import MutableMapping
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


class log_context:
    """Records logged inside carry these ids (a ``None`` keeps the outer one). A class, not
    a generator: every API call enters one."""

    __slots__ = ("_trace", "_trace_id", "_video", "_video_id")

    def __init__(self, *, trace_id: str | None = None, video_id: int | None = None) -> None:
        self._trace_id, self._video_id = trace_id, video_id
        self._trace: contextvars.Token[str | None] | None = None
        self._video: contextvars.Token[int | None] | None = None

    def __enter__(self) -> None:
        if self._trace_id is not None:
            self._trace = _TRACE_ID.set(self._trace_id)
        if self._video_id is not None:
            self._video = _VIDEO_ID.set(self._video_id)

    def __exit__(self, *exc_info: object) -> None:
        if self._video is not None:
            _VIDEO_ID.reset(self._video)
        if self._trace is not None:
            _TRACE_ID.reset(self._trace)
