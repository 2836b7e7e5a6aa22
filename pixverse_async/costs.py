"""What generations cost: the refund rule, spend totals and cost estimates, in one place.

PixVerse answers every submit with its cost in credits and refunds the generations that
fail (status 8) or are moderated (status 7). The *spend* of a batch is what was charged
minus what was refunded. Before a request is sent its cost is not known; :class:`CostEstimator`
estimates it from, in order: the highest cost seen for the same kind, model, quality and
duration; a user-given price function; a price table, PixVerse's published prices by default
(:mod:`~pixverse_async.published_prices`); a conservative default (None: no estimate).

Example::

    >>> from pixverse_async.costs import CostEstimator, Spend
    >>> body = {"prompt": "a cat", "model": "v5", "quality": "540p", "duration": 5}
    >>> estimator = CostEstimator(default=100)
    >>> estimator.estimate("text_to_video", body)   # PixVerse's published price
    45
    >>> estimator.estimate("text_to_video", {**body, "model": "v9"})   # no table knows it
    100
    >>> estimator.observe("text_to_video", body, 50)   # the service charged more
    >>> estimator.estimate("text_to_video", body)
    50
    >>> spend = Spend()
    >>> spend.add(30); spend.add(45, refunded=True)
    >>> (spend.charged, spend.refunded, spend.spent)
    (75, 45, 30)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs

from .published_prices import PUBLISHED_PRICES

__all__ = [
    "REFUNDED_ERROR_TYPES",
    "CostEstimator",
    "CostKey",
    "PriceFunction",
    "Spend",
    "cost_key",
    "is_refunded",
]

CostKey = tuple[str, str | None, str | None, int | None]
"""``(kind, model, quality, duration)``: what a request's cost is estimated by."""

PriceFunction = Callable[[str, Mapping[str, Any]], "int | None"]
"""``price(kind, body)``: the credits a request will cost, or None when it cannot say."""

#: The errors of generations PixVerse refunds: failed (status 8) and moderated (status 7).
REFUNDED_ERROR_TYPES: Final = frozenset({"VideoFailedError", "VideoModeratedError"})


def is_refunded(error_type: str | None) -> bool:
    """True when a generation that ended with ``error_type`` (a class name) gets its credits back.

    >>> is_refunded("VideoModeratedError"), is_refunded("VideoDeletedError"), is_refunded(None)
    (True, False, False)
    """
    return error_type in REFUNDED_ERROR_TYPES


def cost_key(kind: str, body: Mapping[str, Any]) -> CostKey:
    """The estimate key of a request: its kind, and its model, quality and duration if set.

    >>> cost_key("text_to_video", {"model": "v5", "quality": "720p", "duration": 8})
    ('text_to_video', 'v5', '720p', 8)
    >>> cost_key("restyle", {"restyle_id": 1})
    ('restyle', None, None, None)
    """
    model, quality, duration = body.get("model"), body.get("quality"), body.get("duration")
    return (
        kind,
        model if isinstance(model, str) else None,
        quality if isinstance(quality, str) else None,
        duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
    )


@attrs.define
class Spend:
    """Credits charged and refunded; ``spent`` is what remains charged."""

    charged: int = 0
    refunded: int = 0

    @property
    def spent(self) -> int:
        return self.charged - self.refunded

    def add(self, credits: int | None, *, refunded: bool = False) -> None:
        """Count one generation's cost (None: unknown, not counted) and its refund."""
        if credits is None:
            return
        self.charged += credits
        if refunded:
            self.refunded += credits


@attrs.define
class CostEstimator:
    """Estimates of what requests will cost (see the module docstring for the order).

    ``price`` is a user-given price function; ``table`` a price table tried after it
    (PixVerse's published prices by default; None: none); ``default`` the cost assumed for a
    request nothing else can price (None: such a request has no estimate).
    """

    price: PriceFunction | None = None
    default: int | None = None
    table: PriceFunction | None = PUBLISHED_PRICES
    _seen: dict[CostKey, int] = attrs.field(factory=dict, init=False)

    def observe(self, kind: str, body: Mapping[str, Any], credits: int | None) -> None:
        """Remember a cost the service charged for a request like this one."""
        if credits is None:
            return
        key = cost_key(kind, body)
        self._seen[key] = max(credits, self._seen.get(key, credits))

    def observe_all(self, seen: Iterable[tuple[str, Mapping[str, Any], int | None]]) -> None:
        """Remember many ``(kind, body, credits)`` costs, e.g. from a journal's entries."""
        for kind, body, credits in seen:
            self.observe(kind, body, credits)

    def seen(self, kind: str, body: Mapping[str, Any]) -> int | None:
        """The highest cost the service charged for a request like this one, if any."""
        return self._seen.get(cost_key(kind, body))

    def estimate(self, kind: str, body: Mapping[str, Any]) -> int | None:
        """The estimated cost of a request, or None when nothing can price it."""
        seen = self._seen.get(cost_key(kind, body))
        if seen is not None:
            return seen
        for price in (self.price, self.table):
            if price is not None:
                priced = price(kind, body)
                if priced is not None:
                    return priced
        return self.default
