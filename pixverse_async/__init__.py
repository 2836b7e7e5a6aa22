"""pixverse-async: an asyncio-first SDK for the PixVerse video-generation API.

Example::

    import asyncio
    from pixverse_async import PixVerse

    async def main() -> None:
        async with PixVerse() as client:  # PIXVERSE_API_KEY, PIXVERSE_BASE_URL
            job = await client.videos.text_to_video(
                prompt="a red kite over the sea", model="v5", duration=5,
                quality="540p", aspect_ratio="16:9")
            video = await job.wait()
            print(video.url)

    asyncio.run(main())
"""

from __future__ import annotations

from ._version import __version__
from .client import PixVerse
from .errors import (
    ERROR_CODE_TABLE,
    APIError,
    AuthenticationError,
    ConcurrencyLimitError,
    ContentModerationError,
    InsufficientCreditsError,
    InvalidParameterError,
    JobError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    PixVerseError,
    QuotaExceededError,
    RateLimitError,
    ResponseDecodingError,
    ServerError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
    VideoDeletedError,
    VideoFailedError,
    VideoModeratedError,
    error_for_code,
)
from .jobs import GenerationJob, PollPolicy
from .retry import RetryPolicy

__all__ = [
    "ERROR_CODE_TABLE",
    "APIError",
    "AuthenticationError",
    "ConcurrencyLimitError",
    "ContentModerationError",
    "GenerationJob",
    "InsufficientCreditsError",
    "InvalidParameterError",
    "JobError",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "PixVerse",
    "PixVerseError",
    "PollPolicy",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseDecodingError",
    "RetryPolicy",
    "ServerError",
    "SubmissionUnknownError",
    "TransportError",
    "ValidationError",
    "VideoDeletedError",
    "VideoFailedError",
    "VideoModeratedError",
    "__version__",
    "error_for_code",
]
