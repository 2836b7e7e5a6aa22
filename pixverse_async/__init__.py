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

from . import types as types
from ._version import __version__
from .batch.runner import JobRunner, Outcome, OutcomeState, Progress, RunStream
from .client import PixVerse
from .errors import (
    ERROR_CODE_TABLE,
    APIError,
    AuthenticationError,
    ConcurrencyLimitError,
    ContentModerationError,
    DownloadError,
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
    SpendingCapError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
    VideoDeletedError,
    VideoFailedError,
    VideoModeratedError,
    WebhookVerificationError,
    error_for_code,
)
from .jobs.generation_job import GenerationJob
from .jobs.image_job import ImageJob
from .jobs.polling import PollLearner, PollPolicy, SafetyNet
from .journal import (
    Journal,
    JournalEntry,
    JournalError,
    JournalLeaseError,
    JournalLockedError,
    JournalState,
    JournalStateError,
)
from .options import RequestOptions
from .retry import RetryPolicy

# The models' public home is ``pixverse_async.types``; its names (``types.__all__``) stay
# importable from the top level for code written before it, but are not in ``__all__``. A star
# import re-exports them for type checkers too (``mypy --strict`` accepts
# ``from pixverse_async import TextToVideo``), with the list kept in one place.
from .types import *  # noqa: F403
from .uploads import (
    AsyncSizedSource,
    EmptyFileError,
    ExtensionMismatchError,
    FileChangedError,
    FileMissingError,
    FileTooLargeError,
    FileUnreadableError,
    ImageDimensionsError,
    TruncatedFileError,
    UnsupportedFileTypeError,
    UploadError,
)

__all__ = [
    "APIError",
    "AsyncSizedSource",
    "AuthenticationError",
    "ConcurrencyLimitError",
    "ContentModerationError",
    "DownloadError",
    "ERROR_CODE_TABLE",
    "EmptyFileError",
    "ExtensionMismatchError",
    "FileChangedError",
    "FileMissingError",
    "FileTooLargeError",
    "FileUnreadableError",
    "GenerationJob",
    "ImageDimensionsError",
    "ImageJob",
    "InsufficientCreditsError",
    "InvalidParameterError",
    "JobError",
    "JobRunner",
    "JobTimeoutError",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalLeaseError",
    "JournalLockedError",
    "JournalState",
    "JournalStateError",
    "NotFoundError",
    "Outcome",
    "OutcomeState",
    "PermissionDeniedError",
    "PixVerse",
    "PixVerseError",
    "PollLearner",
    "PollPolicy",
    "Progress",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseDecodingError",
    "RequestOptions",
    "RetryPolicy",
    "RunStream",
    "SafetyNet",
    "ServerError",
    "SpendingCapError",
    "SubmissionUnknownError",
    "TransportError",
    "TruncatedFileError",
    "UnsupportedFileTypeError",
    "UploadError",
    "ValidationError",
    "VideoDeletedError",
    "VideoFailedError",
    "VideoModeratedError",
    "WebhookVerificationError",
    "__version__",
    "error_for_code",
]
