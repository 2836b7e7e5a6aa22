"""The exception hierarchy and the one table that maps every ``ErrCode`` to a class.

Everything the SDK raises on purpose is a :class:`PixVerseError`::

    PixVerseError
    ├── ValidationError (also ValueError)   bad input, caught before anything is sent
    ├── TransportError                      no answer (connection failed, timed out)
    │   └── DownloadError                   a video could not be downloaded completely
    ├── ResponseDecodingError               an answer arrived that the SDK cannot read
    ├── SubmissionUnknownError              paid work sent, outcome unknown (after resends)
    ├── SpendingCapError                    not sent: it would not fit under a spending cap
    ├── APIError                            the service answered with an error
    │   ├── AuthenticationError, PermissionDeniedError
    │   ├── InvalidParameterError, NotFoundError
    │   ├── InsufficientCreditsError, QuotaExceededError
    │   ├── RateLimitError └── ConcurrencyLimitError
    │   ├── ContentModerationError
    │   └── ServerError
    ├── JobError                            a generation ended badly or waiting gave up
    │   ├── VideoFailedError, VideoModeratedError, VideoDeletedError
    │   └── JobTimeoutError
    └── WebhookVerificationError            a webhook delivery failed a check (reason says which)

Example::

    from pixverse_async import APIError, error_for_code

    err = error_for_code(err_code=500044, err_msg="busy", http_status=200, trace_id="t-1")
    assert type(err).__name__ == "ConcurrencyLimitError"
    assert isinstance(err, APIError) and err.err_code == 500044
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .constants import ErrCode


class PixVerseError(Exception):
    """Base class of every error the SDK raises on purpose."""


class SpendingCapError(PixVerseError):
    """A request was not submitted: its estimated cost did not fit under the spending cap.

    Nothing was sent and nothing charged; a run with a higher cap (and the same journal)
    submits it.
    """

    def __init__(self, max_credits: int, committed: int, estimate: int | None) -> None:
        self.max_credits = max_credits
        self.committed = committed
        self.estimate = estimate
        if estimate is None:
            super().__init__(
                f"no price is known for this request, so it could take the spend over the "
                f"spending cap of {max_credits} credits: give its price (pixverse batch "
                "--prices FILE, or CostEstimator(price=...)), or allow one such request to be "
                "paid to learn it (--allow-unpriced, allow_unpriced=True)"
            )
            return
        super().__init__(
            f"an estimated {estimate} credits would not fit under the spending cap of "
            f"{max_credits} credits ({committed} spent or reserved)"
        )


class ValidationError(PixVerseError, ValueError):
    """Input that breaks a rule of the API, found before anything was sent.

    ``field`` names the offending field (dotted for nested ones, e.g.
    ``multi_transition[2].duration``); ``rule`` says which rule it broke.
    """

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        super().__init__(f"{field}: {rule}")


class TransportError(PixVerseError):
    """No answer: the connection failed or timed out once retries were spent."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        trace_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.method = method
        self.path = path
        self.trace_id = trace_id
        self.attempts = attempts
        where = f" ({method} {path}, trace_id={trace_id}, attempts={attempts})" if path else ""
        super().__init__(f"{message}{where}")


class DownloadError(TransportError):
    """A video could not be downloaded completely (retries spent, or the file not writable)."""


class ResponseDecodingError(PixVerseError):
    """The service answered, but with a body the SDK cannot read as the documented shape.

    Not a :class:`TransportError`: an answer did arrive (``http_status`` says which).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        trace_id: str | None = None,
        http_status: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.method = method
        self.path = path
        self.trace_id = trace_id
        self.http_status = http_status
        self.attempts = attempts
        where = f" ({method} {path}, trace_id={trace_id}, attempts={attempts})" if path else ""
        super().__init__(f"{message}{where}")


class SubmissionUnknownError(PixVerseError):
    """A call that starts paid work was sent, and whether the service acted on it is unknown.

    A generation submit is resent under its own ``trace_id`` first (PixVerse answers a reused
    trace id with the first submit's result, never a second generation); this is raised when
    those resends failed too, or were turned off (``resend_ambiguous=False``), or for another
    paid call. ``videos.resend(error)`` tries again under the same trace id, with the
    original call's ``options`` (its timeout and extra headers; never shown in the message).
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        trace_id: str,
        request: Mapping[str, Any] | None,
        cause: str,
        options: Any = None,
    ) -> None:
        self.method = method
        self.path = path
        self.trace_id = trace_id
        self.request = request
        self.cause = cause
        #: The call's :class:`~pixverse_async.options.RequestOptions` (None: the defaults).
        self.options = options
        super().__init__(
            f"{method} {path} was sent but its outcome is unknown ({cause}); "
            f"trace_id={trace_id}. The service may have acted on (and charged for) this call: "
            "resend it under the same trace id (videos.resend) or check for it before "
            "submitting again."
        )


class APIError(PixVerseError):
    """The service answered with an error envelope or an error HTTP status."""

    def __init__(
        self,
        *,
        err_code: int | None,
        err_msg: str,
        http_status: int,
        trace_id: str | None,
        retry_after: float | None = None,
    ) -> None:
        self.err_code = err_code
        self.err_msg = err_msg
        self.http_status = http_status
        self.trace_id = trace_id
        self.retry_after = retry_after
        super().__init__(err_msg)

    def __str__(self) -> str:
        if not self.http_status:  # raised before any call was made (e.g. no API key)
            return self.err_msg
        text = (
            f"ErrCode {self.err_code} (HTTP {self.http_status}): {self.err_msg} "
            f"[trace_id={self.trace_id}]"
        )
        if self.retry_after is not None:
            text += f" retry_after={self.retry_after:g}s"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_api_error, (type(self), self.__dict__))


def _rebuild_api_error(cls: type[APIError], state: dict[str, Any]) -> APIError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, state.get("err_msg", ""))
    return err


class AuthenticationError(APIError):
    """The API key is missing, invalid or expired, or the account is invalid.

    A client built without a key raises it at once, with ``http_status == 0`` (nothing sent).
    """


class PermissionDeniedError(APIError):
    """The key may not perform this operation."""


class InvalidParameterError(APIError):
    """The service rejected a parameter (also the fallback for unknown 4xx answers)."""


class NotFoundError(APIError):
    """The referenced video, image or media does not exist (or was deleted)."""


class InsufficientCreditsError(APIError):
    """The account has no credits or balance left for this generation."""


class QuotaExceededError(APIError):
    """A periodic quota (e.g. the monthly generation limit) is used up."""


class RateLimitError(APIError):
    """The service is rate limiting or overloaded; safe to try again later."""


class ConcurrencyLimitError(RateLimitError):
    """Too many generations are running for this key; try again when one finishes."""


class ContentModerationError(APIError):
    """Content moderation rejected the input."""


class ServerError(APIError):
    """The service failed (also the fallback for unknown 5xx answers)."""


class JobError(PixVerseError):
    """A generation did not end in a usable video."""

    def __init__(self, message: str, *, video_id: int, status: object) -> None:
        self.video_id = video_id
        self.status = status
        super().__init__(message)


class VideoFailedError(JobError):
    """The generation failed on the service (status 8)."""


class VideoModeratedError(JobError):
    """The generated video failed content moderation (status 7)."""


class VideoDeletedError(JobError):
    """The video was deleted (status 6)."""


class JobTimeoutError(JobError, TimeoutError):
    """Waiting gave up; the generation keeps running on the service and can be awaited again."""

    def __init__(self, message: str, *, video_id: int, status: object, waited: float) -> None:
        self.waited = waited
        super().__init__(message, video_id=video_id, status=status)


class WebhookVerificationError(PixVerseError):
    """A webhook delivery failed a check; ``reason`` names the check, ``bad_body`` tells 400.

    The message names the check and the header or field, never the secret or the expected
    signature. ``reason`` is one of ``missing_header``, ``malformed_header``,
    ``stale_timestamp``, ``future_timestamp``, ``bad_signature``, ``replayed_nonce``,
    ``body_not_json`` and ``body_not_event`` (the last two set ``bad_body``).
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)

    @property
    def bad_body(self) -> bool:
        """Whether the body itself is not the documented JSON (an HTTP 400, not a 401)."""
        return self.reason in ("body_not_json", "body_not_event")


#: Every known ErrCode and the class it raises. One line per code.
ERROR_CODE_TABLE: Mapping[int, type[APIError]] = {
    ErrCode.API_KEY_MISSING: AuthenticationError,
    ErrCode.API_KEY_INVALID: AuthenticationError,
    ErrCode.API_KEY_EXPIRED: AuthenticationError,
    ErrCode.EMPTY_PARAMETER: InvalidParameterError,
    ErrCode.INVALID_ACCOUNT: AuthenticationError,
    ErrCode.WRONG_PARAMETER: InvalidParameterError,
    ErrCode.INVALID_PARAMETER: InvalidParameterError,
    ErrCode.PROMPT_TOO_LONG: InvalidParameterError,
    ErrCode.NEGATIVE_PROMPT_TOO_LONG: InvalidParameterError,
    ErrCode.INVALID_IMAGE_ID: InvalidParameterError,
    ErrCode.NOT_FOUND: NotFoundError,
    ErrCode.NO_PERMISSION: PermissionDeniedError,
    ErrCode.IMAGE_TOO_LARGE: InvalidParameterError,
    ErrCode.IMAGE_UNREADABLE: InvalidParameterError,
    ErrCode.IMAGE_BAD_FORMAT: InvalidParameterError,
    ErrCode.IMAGE_BAD_DIMENSIONS: InvalidParameterError,
    ErrCode.IMAGE_UPLOAD_FAILED: ServerError,
    ErrCode.IMAGE_PATH_INVALID: ServerError,
    ErrCode.CREDITS_USED_UP: InsufficientCreditsError,
    ErrCode.CONCURRENCY_LIMIT: ConcurrencyLimitError,
    ErrCode.MODERATION_REJECTED: ContentModerationError,
    ErrCode.MODERATION_REJECTED_2: ContentModerationError,
    ErrCode.MODERATION_REJECTED_3: ContentModerationError,
    ErrCode.MONTHLY_LIMIT: QuotaExceededError,
    ErrCode.CONTENT_DELETED: NotFoundError,
    ErrCode.HIGH_LOAD: RateLimitError,
    ErrCode.TEMPLATE_NOT_ACTIVATED: InvalidParameterError,
    ErrCode.RESOLUTION_NOT_SUPPORTED: InvalidParameterError,
    ErrCode.INSUFFICIENT_BALANCE: InsufficientCreditsError,
    ErrCode.DATABASE_ERROR: ServerError,
    ErrCode.UNKNOWN_ERROR: ServerError,
    ErrCode.MOTION_CONTROL_INPUT_REJECTED: InvalidParameterError,
    ErrCode.MOTION_CONTROL_INPUT_REJECTED_2: InvalidParameterError,
}


ABOUT_THE_CALLER: tuple[type[PixVerseError], ...] = (
    AuthenticationError,
    PermissionDeniedError,
    InsufficientCreditsError,
    QuotaExceededError,
    RateLimitError,
    TransportError,
)
"""The answers about the caller, not about what was asked of the service: a bad or missing key
or account, or one without permission (10002-10005, 400012, 500020), no balance or quota left
(500090, 500043, 500060), the concurrency or rate limit (500044, 500069, HTTP 429), and a
connection never made. To a status request, such an answer says nothing of the generation:
it may be running or done, as another key would see."""

NOTHING_GENERATED: tuple[type[PixVerseError], ...] = (
    *ABOUT_THE_CALLER,
    InvalidParameterError,
    NotFoundError,
)
"""The answers to a submit that prove no generation was created, so sending it again is
free: those :data:`ABOUT_THE_CALLER`, an invalid request (400xxx) and a referenced image or
video not found. Not here: a moderation refusal (repeating it risks the account's suspension,
PixVerse warns), a server error (500100, 99999: whether it acted is not documented) and an
ambiguous submit (:class:`SubmissionUnknownError`)."""


def about_the_caller(error: BaseException) -> bool:
    """Whether ``error`` is about the caller (its key, account, balance, limits or network),
    so that, answering a status request, it tells nothing of the generation.

    >>> about_the_caller(error_for_code(err_code=10003, err_msg="Invalid API-KEY",
    ...                                 http_status=401, trace_id=None))
    True
    >>> about_the_caller(error_for_code(err_code=500008, err_msg="not found",
    ...                                 http_status=200, trace_id=None))
    False
    """
    return isinstance(error, ABOUT_THE_CALLER)


def nothing_generated(error: BaseException) -> bool:
    """Whether ``error``, raised by a submit, proves that nothing was generated.

    >>> nothing_generated(error_for_code(err_code=10003, err_msg="Invalid API-KEY",
    ...                                  http_status=401, trace_id=None))
    True
    >>> nothing_generated(error_for_code(err_code=500063, err_msg="moderated",
    ...                                  http_status=200, trace_id=None))
    False
    """
    return isinstance(error, NOTHING_GENERATED)


def _class_for_status(http_status: int, err_code: int | None) -> type[APIError]:
    if http_status in (401, 403):
        return AuthenticationError
    if http_status == 404:
        return NotFoundError
    if http_status == 429:
        return RateLimitError
    if 400 <= http_status < 500:
        return InvalidParameterError
    if http_status >= 500:
        return ServerError
    # HTTP 2xx/3xx with a code nobody documented: the code's leading digit is the best hint.
    if err_code is not None and 400000 <= err_code < 500000:
        return InvalidParameterError
    return ServerError


def error_for_code(
    *,
    err_code: int | None,
    err_msg: str,
    http_status: int,
    trace_id: str | None,
    retry_after: float | None = None,
) -> APIError:
    """Build the typed exception for an error answer.

    HTTP 429 is always a :class:`RateLimitError` (PixVerse has a per-account request-rate
    limit whose answer it does not publish). Otherwise a known ``err_code`` picks its class
    from :data:`ERROR_CODE_TABLE`; an unknown one falls back by HTTP status (4xx:
    :class:`InvalidParameterError`, 5xx: :class:`ServerError`) and keeps its code.
    """
    cls = ERROR_CODE_TABLE.get(err_code) if err_code is not None else None
    if http_status == 429 and not (cls is not None and issubclass(cls, RateLimitError)):
        cls = RateLimitError  # whatever code a 429 carries, the service did not act: slow down
    if cls is None:
        cls = _class_for_status(http_status, err_code)
    return cls(
        err_code=err_code,
        err_msg=err_msg,
        http_status=http_status,
        trace_id=trace_id,
        retry_after=retry_after,
    )
