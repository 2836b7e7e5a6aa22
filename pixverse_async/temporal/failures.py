"""How the SDK's errors become Temporal activity failures: retryable or not.

- A generation that ended badly (status 8 failed, 7 moderated, 6 deleted) and answers that
  say the request itself is wrong (invalid parameter, moderation at submit, authentication,
  no credits, quota) are **non-retryable**: a retry would be refused again, or pay again.
- Transient answers (``500044`` concurrency limit, high load, server errors), transport
  failures, undecodable answers and an ambiguous submit (``SubmissionUnknownError``) are
  **retryable**: the retried attempt resends the same submit under the same trace id, which
  PixVerse answers with the first generation instead of a new one. A ``Retry-After`` the
  service gave becomes the next retry's delay.

Every failure's ``type`` is the SDK exception's class name; its details are one mapping with
``err_code`` (the ErrCode, when the service answered one), ``video_id`` and ``status`` (when
a video ended badly) and ``trace_id``.

Example::

    from pixverse_async.errors import VideoFailedError
    from pixverse_async.temporal import application_error

    error = application_error(VideoFailedError("video 7 failed", video_id=7, status=8))
    assert error.non_retryable and error.type == "VideoFailedError"
    assert error.details[0] == {"err_code": None, "video_id": 7, "status": 8, "trace_id": None}
"""

from __future__ import annotations

import datetime
from typing import Any

from temporalio.exceptions import ApplicationError

from ..errors import (
    APIError,
    JobError,
    JobTimeoutError,
    PixVerseError,
    RateLimitError,
    ResponseDecodingError,
    ServerError,
    SubmissionUnknownError,
    TransportError,
)

#: The SDK errors a retried attempt may get past (the others are final).
RETRYABLE = (
    RateLimitError,
    ServerError,
    TransportError,
    ResponseDecodingError,
    SubmissionUnknownError,
    JobTimeoutError,
)


def application_error(error: PixVerseError, *, trace_id: str | None = None) -> ApplicationError:
    """The Temporal failure for one SDK error (see the module docstring for the rules)."""
    status = getattr(error, "status", None) if isinstance(error, JobError) else None
    details: dict[str, Any] = {
        "err_code": error.err_code if isinstance(error, APIError) else None,
        "video_id": error.video_id if isinstance(error, JobError) else None,
        "status": None if status is None else int(status),
        "trace_id": trace_id or getattr(error, "trace_id", None),
    }
    retry_after = error.retry_after if isinstance(error, APIError) else None
    return ApplicationError(
        str(error),
        details,
        type=type(error).__name__,
        non_retryable=not isinstance(error, RETRYABLE),
        next_retry_delay=None if retry_after is None else datetime.timedelta(seconds=retry_after),
    )
