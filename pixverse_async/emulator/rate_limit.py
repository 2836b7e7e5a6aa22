"""A request-rate limit per API key, as PixVerse's "Per-account request and concurrency
limits" page says the service has (its numbers are not published).

``Emulator(rate_limit=(10, 1.0))`` (or ``RequestRateLimit(requests=10, seconds=1.0)``, or
``pixverse emulator --rate-limit 10/1``) lets each key make 10 API requests in any 1 s
window; one more is answered HTTP 429 with a ``Retry-After`` header (whole seconds until the
window has room again) and the service does nothing. The window is read on the emulator's
clock, so a manual clock holds it until the test advances it.

>>> from pixverse_async.emulator.rate_limit import RequestRateLimit
>>> limit = RequestRateLimit(requests=2, seconds=10.0)
>>> limit.admit("key", now=0.0), limit.admit("key", now=1.0), limit.admit("key", now=2.0)
(None, None, 8)
>>> limit.admit("other", now=2.0), limit.admit("key", now=10.0)
(None, None)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["RequestRateLimit", "parse_rate_limit", "rate_limit_from"]


@dataclass
class RequestRateLimit:
    """At most ``requests`` API requests per key in any ``seconds`` (a sliding window)."""

    requests: int
    seconds: float
    _sent: dict[str, deque[float]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise ValueError(f"rate_limit: requests must be an int, got {self.requests!r}")
        if self.requests < 1 or not self.seconds > 0:
            raise ValueError(
                f"rate_limit: needs requests >= 1 and seconds > 0, got "
                f"{self.requests} per {self.seconds} s"
            )

    def admit(self, key: str, *, now: float) -> int | None:
        """Count a request of ``key`` at ``now``: None if admitted, else the ``Retry-After``
        seconds (a refused request is not counted)."""
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.seconds:
            sent.popleft()
        if len(sent) < self.requests:
            sent.append(now)
            return None
        return max(1, math.ceil(sent[0] + self.seconds - now))


def parse_rate_limit(text: str) -> RequestRateLimit:
    """``"10/1"`` or ``"10/1.5"``: requests per seconds (the CLI's ``--rate-limit``)."""
    requests, sep, seconds = text.partition("/")
    try:
        return RequestRateLimit(int(requests), float(seconds) if sep else 1.0)
    except ValueError as exc:
        raise ValueError(f"expected REQUESTS/SECONDS such as 10/1, got {text!r}: {exc}") from None


def rate_limit_from(
    value: RequestRateLimit | tuple[int, float] | str | None,
) -> RequestRateLimit | None:
    """The config's ``rate_limit`` from any of the forms it accepts."""
    if value is None or isinstance(value, RequestRateLimit):
        return value
    if isinstance(value, str):
        return parse_rate_limit(value)
    requests, seconds = value
    return RequestRateLimit(requests, float(seconds))
