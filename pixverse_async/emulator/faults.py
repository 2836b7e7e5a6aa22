"""Fault injection: the ways a real service and the network between fail.

Each request to an API route draws at most one fault, with the configured rates. Where the
fault happens matters for paid calls, so it is stated per fault:

- ``error_500``: an HTTP 500 lowercase error envelope, *before* the route acts;
- ``rate_limited``: HTTP 429 with ``Retry-After``, before the route acts;
- ``concurrency_limited``: HTTP 200 with ErrCode 500044, before the route acts;
- ``html_502``: an HTML page from a "proxy", *after* the route acted (a generation was created);
- ``reset``: the connection is dropped after the request was read and the route acted;
- ``slow``: the answer is held for ``slow_seconds`` after the route acted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

BEFORE_FAULTS = ("error_500", "rate_limited", "concurrency_limited")
AFTER_FAULTS = ("html_502", "reset", "slow")


@dataclass
class FaultConfig:
    """Rates (0..1) of each fault, and their parameters."""

    error_500: float = 0.0
    html_502: float = 0.0
    reset: float = 0.0
    slow: float = 0.0
    rate_limited: float = 0.0
    concurrency_limited: float = 0.0
    slow_seconds: float = 2.0
    retry_after: str = "1"
    #: Only paths starting with one of these get faults; empty means every API path.
    paths: tuple[str, ...] = ()
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @classmethod
    def uniform(cls, rate: float, **kwargs: object) -> FaultConfig:
        """Every fault at ``rate`` (the CLI's ``--fault-rate``)."""
        return cls(
            error_500=rate,
            html_502=rate,
            reset=rate,
            slow=rate,
            rate_limited=rate,
            concurrency_limited=rate,
            **kwargs,  # type: ignore[arg-type]
        )

    def draw(self, path: str) -> str | None:
        """The fault for one request to ``path``, or None."""
        if self.paths and not path.startswith(self.paths):
            return None
        roll = self._random.random()
        for name in BEFORE_FAULTS + AFTER_FAULTS:
            rate: float = getattr(self, name)
            if roll < rate:
                return name
            roll -= rate
        return None
