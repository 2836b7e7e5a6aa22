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
from .journal import Journal, JournalEntry, JournalState
from .models import (
    REQUEST_KINDS,
    AspectRatio,
    Balance,
    CameraMovement,
    Extend,
    Fusion,
    FusionReferenceType,
    GenerationRequest,
    GenerationResult,
    ImageReference,
    ImageToVideo,
    ImageUpload,
    LipSync,
    MaskInfo,
    MaskSelection,
    MaskSelectionResult,
    MediaUpload,
    Model,
    MotionMode,
    MultiTransition,
    MultiTransitionFrame,
    Quality,
    Restyle,
    RestyleEffect,
    RestylePage,
    SoundEffect,
    Speaker,
    SpeakerPage,
    Style,
    Swap,
    TextToVideo,
    Transition,
    Video,
    VideoStatus,
    build_request,
)
from .retry import RetryPolicy
from .runner import JobRunner, Outcome, OutcomeState, Progress

__all__ = [
    "APIError",
    "AspectRatio",
    "AuthenticationError",
    "Balance",
    "CameraMovement",
    "ConcurrencyLimitError",
    "ContentModerationError",
    "ERROR_CODE_TABLE",
    "Extend",
    "Fusion",
    "FusionReferenceType",
    "GenerationJob",
    "GenerationRequest",
    "GenerationResult",
    "ImageReference",
    "ImageToVideo",
    "ImageUpload",
    "InsufficientCreditsError",
    "InvalidParameterError",
    "JobError",
    "JobRunner",
    "JobTimeoutError",
    "Journal",
    "JournalEntry",
    "JournalState",
    "LipSync",
    "MaskInfo",
    "MaskSelection",
    "MaskSelectionResult",
    "MediaUpload",
    "Model",
    "MotionMode",
    "MultiTransition",
    "MultiTransitionFrame",
    "NotFoundError",
    "Outcome",
    "OutcomeState",
    "PermissionDeniedError",
    "PixVerse",
    "PixVerseError",
    "PollPolicy",
    "Progress",
    "Quality",
    "QuotaExceededError",
    "REQUEST_KINDS",
    "RateLimitError",
    "ResponseDecodingError",
    "Restyle",
    "RestyleEffect",
    "RestylePage",
    "RetryPolicy",
    "ServerError",
    "SoundEffect",
    "Speaker",
    "SpeakerPage",
    "Style",
    "SubmissionUnknownError",
    "Swap",
    "TextToVideo",
    "Transition",
    "TransportError",
    "ValidationError",
    "Video",
    "VideoDeletedError",
    "VideoFailedError",
    "VideoModeratedError",
    "VideoStatus",
    "__version__",
    "build_request",
    "error_for_code",
]
