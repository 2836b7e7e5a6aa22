"""The one retry path: a policy (:class:`RetryPolicy`) and one mechanism (``backoff``).

Two kinds of call differ in what is safe:

- *read-only* calls (GET) are retried after connection errors, timeouts, HTTP 5xx, HTTP 429
  and rate-limit ``ErrCode`` answers;
- *paid* calls (every ``.../generate``, the mask selection, uploads) are retried only when the
  service certainly did not act on them: the connection was never made, or it answered 429 or
  a rate/concurrency-limit ``ErrCode``. Any other failure after the request left raises
  :class:`~pixverse_async.errors.SubmissionUnknownError`;
- except a generation submit whose outcome is unknown (a reset or timeout after the request
  left, a 5xx): PixVerse documents that reusing a submit's ``Ai-trace-id`` "returns the
  previous result instead of triggering a new generation", so the same body is *resent* under
  the same trace id, up to :attr:`RetryPolicy.resends` times within
  :attr:`RetryPolicy.resend_window` seconds, and the answer is the submit's. These resends have
  their own budget (a failure marked ``resend=True``), apart from ``max_retries``.

Whoever decides that a failure may be retried raises :class:`RetryableFailure`;
:func:`call_with_retries` is the loop (the session's API calls and the downloads use it), and
:meth:`RetryPolicy.wait` is the one formula for how long to wait before retry number ``n``
(the job runner's holds use it too).

Example::

    from pixverse_async import RetryPolicy

    policy = RetryPolicy(max_retries=4, base_delay=0.25, max_delay=4.0)
    assert policy.delay(attempt=1, rand=1.0) == 0.25
    assert policy.delay(attempt=10, rand=1.0) == 4.0
    assert policy.wait(3, retry_after=7.0) == 7.0   # the service's Retry-After wins
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, NoReturn, TypeVar

import attrs
import backoff

from .errors import PixVerseError, ValidationError

logger = logging.getLogger("pixverse_async")

T = TypeVar("T")
A = TypeVar("A")


def _retries(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_max_retries(value, attribute.name)


def check_max_retries(value: object, field: str = "max_retries") -> None:
    """Raise :class:`~pixverse_async.errors.ValidationError` unless ``value`` is an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(field, f"must be an int >= 0, got {value!r:.40}", value)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to retry a call that is safe to retry.

    ``max_retries`` counts retries after the first attempt. Waits follow exponential backoff
    with full jitter, ``uniform(0, min(max_delay, base_delay * 2 ** (retry - 1)))``; a
    ``Retry-After`` from the service replaces the computed wait, and one longer than
    ``retry_after_cap`` seconds is not waited for: the error is raised with its
    ``retry_after`` set instead.

    ``resends`` is how many times a generation submit whose outcome is unknown is resent
    under its own trace id (0: never; ``PixVerse(resend_ambiguous=False)`` sets it), for at
    most ``resend_window`` seconds after its first attempt; the waits are the same formula.
    """

    max_retries: int = attrs.field(default=2, validator=_retries)
    base_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    retry_after_cap: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))
    resends: int = attrs.field(default=5, validator=_retries)
    resend_window: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))

    def delay(self, *, attempt: int, rand: float | None = None) -> float:
        """The jittered wait before retry number ``attempt`` (1-based).

        ``rand`` (0..1) replaces the random draw, for tests.
        """
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** (attempt - 1)))
        return backoff.full_jitter(ceiling) if rand is None else ceiling * rand

    def wait(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): the service's
        ``Retry-After`` when it gave one, else :meth:`delay`."""
        return self.delay(attempt=retry) if retry_after is None else retry_after


class RetryableFailure(Exception):
    """An attempt failed in a way that is safe to retry.

    ``error`` is what the caller sees if no retry is left; ``retry_after`` (seconds) replaces
    the policy's wait before the next attempt (``0.0``: retry at once). ``resend``: the
    attempt's outcome is unknown and the next one resends it under the same trace id (counted
    against :attr:`RetryPolicy.resends`, not ``max_retries``).
    """

    def __init__(
        self, error: PixVerseError, retry_after: float | None = None, *, resend: bool = False
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.resend = resend


def wait_generator(policy: RetryPolicy) -> Generator[float, RetryableFailure | None, None]:
    """A ``backoff`` wait generator: :meth:`RetryPolicy.wait` for each failure it is sent."""
    failure = yield 0.0  # backoff primes the generator with send(None)
    retry = 0
    while True:
        retry += 1
        failure = yield policy.wait(retry, failure.retry_after if failure is not None else None)


async def call_with_retries(
    policy: RetryPolicy,
    attempt: Callable[[A], Awaitable[T]],
    arg: A,
    *,
    max_retries: int | None = None,
    resends: int | None = None,
) -> T:
    """``await attempt(arg)``, retried with ``backoff`` while it raises :class:`RetryableFailure`.

    At most ``max_retries`` retries (the policy's by default), waiting :meth:`RetryPolicy.wait`
    before each, and apart from them at most ``resends`` resends (failures marked
    ``resend=True``; the policy's count by default) within its ``resend_window``. Once either
    budget is spent the last failure's ``error`` is raised. ``arg`` is
    what the DEBUG log line names (its ``str()``). Most calls succeed at once, so the first
    attempt is a plain ``await``: backoff's per-call bookkeeping (clock reads, a wait
    generator, a details dict) starts only after a failure.
    """
    try:
        return await attempt(arg)
    except RetryableFailure as failure:
        first = failure
    budget = {
        False: policy.max_retries if max_retries is None else max_retries,
        True: policy.resends if resends is None else resends,
    }
    deadline = time.monotonic() + policy.resend_window

    def give_up(failure: Exception) -> bool:
        if not isinstance(failure, RetryableFailure):
            return True
        kind = failure.resend
        budget[kind] -= 1
        return budget[kind] < 0 or (kind and time.monotonic() > deadline)

    if give_up(first):
        _raise_error(first)
    budget[first.resend] += 1  # backoff counts the replayed first failure again
    replay = [first]

    async def again(arg: A) -> T:
        # backoff's first try re-raises the first failure, so the waits, the log lines and
        # the count of tries are as if backoff had made every attempt.
        if replay:
            raise replay.pop()
        return await attempt(arg)

    retrying = backoff.on_exception(
        lambda: wait_generator(policy),
        RetryableFailure,
        max_tries=None,
        giveup=give_up,
        jitter=None,
        on_backoff=_log_backoff,
    )(again)
    try:
        return await retrying(arg)
    except RetryableFailure as failure:
        _raise_error(failure)


def _raise_error(failure: RetryableFailure) -> NoReturn:
    raise failure.error from (failure.__cause__ or failure.error.__cause__)


def _log_backoff(details: Mapping[str, Any]) -> None:
    failure = details.get("exception")
    logger.debug(
        "retry %s after attempt %d in %.3fs: %s",
        details["args"][0],
        details["tries"],
        details["wait"],
        type(failure.error).__name__ if isinstance(failure, RetryableFailure) else failure,
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
        return None
    return max(0.0, seconds)


__all__ = [
    "RetryPolicy",
    "RetryableFailure",
    "call_with_retries",
    "check_max_retries",
    "parse_retry_after",
    "wait_generator",
]
