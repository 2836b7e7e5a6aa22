"""The retry policy: which failures may be retried, how long to wait, and the backoff wiring.

Two kinds of call differ in what is safe:

- *read-only* calls (GET) are retried after connection errors, timeouts, HTTP 5xx, HTTP 429
  and rate-limit ``ErrCode`` answers;
- *paid* calls (every ``.../generate``, the mask selection, uploads) are retried only when the
  service certainly did not act on them: the connection was never made, or it answered 429 or
  a rate/concurrency-limit ``ErrCode``. Any other failure after the request left raises
  :class:`~pixverse_async.errors.SubmissionUnknownError`.

Example::

    from pixverse_async import RetryPolicy

    policy = RetryPolicy(max_retries=4, base_delay=0.25, max_delay=4.0)
    assert policy.delay(attempt=1, rand=1.0) == 0.25
    assert policy.delay(attempt=10, rand=1.0) == 4.0
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Generator

import attrs

from .errors import PixVerseError


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to retry a call that is safe to retry.

    ``max_retries`` counts retries after the first attempt. Waits follow exponential backoff
    with full jitter, ``uniform(0, min(max_delay, base_delay * 2 ** (retry - 1)))``; a
    ``Retry-After`` from the service replaces the computed wait, and one longer than
    ``retry_after_cap`` seconds is not waited for: the error is raised with its
    ``retry_after`` set instead.
    """

    max_retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    base_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    retry_after_cap: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))

    def delay(self, *, attempt: int, rand: float | None = None) -> float:
        """The jittered wait before retry number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2.0 ** (attempt - 1)))
        fraction: float = random.random() if rand is None else rand
        return ceiling * fraction


class RetryableFailure(Exception):
    """Internal: an attempt failed in a way that is safe to retry.

    ``error`` is what the caller sees if no retry is left.
    """

    def __init__(self, error: PixVerseError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def wait_generator(policy: RetryPolicy) -> Generator[float, RetryableFailure | None, None]:
    """A ``backoff`` wait generator: full jitter, or the service's ``Retry-After``."""
    failure = yield 0.0  # backoff primes the generator with send(None)
    attempt = 0
    while True:
        attempt += 1
        if failure is not None and failure.retry_after is not None:
            wait = failure.retry_after
        else:
            wait = policy.delay(attempt=attempt)
        failure = yield wait


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
