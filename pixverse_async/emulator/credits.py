"""The emulator's credits: one price table, a ledger per API key, refunds, a balance that runs out.

PixVerse answers each submit with its cost, refunds generations that fail (status 8) or are
moderated (status 7), and reports what is left at ``GET /openapi/v2/account/balance`` as
``credit_monthly`` and ``credit_package``. The emulator does the same:

- **Prices** are PixVerse's published prices by default (:meth:`PriceTable.published`, the
  same table the SDK's cost estimator uses, :mod:`pixverse_async.batch.published_prices`): v5 at
  540p for 5 s costs 45 credits, at 720p 60, for 8 s twice as much; a mask selection costs 2.
  What that table does not price (v5.5, v5.6, multi-transition, restyle, swap, fusion with
  video references, a lip sync with external audio, the sound-effect endpoint, an unknown
  model, a body without a model, quality or duration) costs :data:`DEFAULT_PRICE` (60 credits,
  what a 720p 5 s v5 clip costs), never nothing. ``EmulatorConfig(prices=...)`` replaces the
  table: :meth:`PriceTable.flat` is the emulator's own flat table, :data:`PRICES` keyed by
  ``(model, quality, duration)`` (v5 at 540p for 5 s: 30 credits, a mask selection
  :data:`MASK_SELECTION_PRICE`), and :meth:`PriceTable.random` draws one for tests of
  spending caps.
- **The ledger** (:class:`Ledger`, ``emulator.state.ledger``) records, per API key, every
  charge and every refund with its video id. Charges draw on the monthly credits first, then
  on the package; a refund puts the credits back where they came from.
- **Refunds** land when a generation reaches status failed or moderated, however it gets
  there: time passing on the emulator's clock, ``emu.advance``, or ``emu.finish`` (which may
  end it early or change how it ends), whether or not anyone polls it. A charge is refunded at
  most once and a refund is never taken back; a deleted video (status 6) is not refunded.
- **The balance runs out**: a submit that costs more than what is left answers ErrCode 500090
  (insufficient balance) and charges nothing.

Tests read the spend from the ledger, the judge of any spending cap::

    >>> ledger = Ledger(monthly=100, package=10)
    >>> ledger.charge("k", 80, video_id=1, refund_at=None, now=0.0) is not None
    True
    >>> ledger.charge("k", 40, video_id=2, refund_at=None, now=0.0) is None  # 30 left
    True
    >>> ledger.charge("k", 30, video_id=3, refund_at=5.0, now=0.0) is not None  # will fail
    True
    >>> ledger.balance("k", now=1.0), ledger.spent("k", now=1.0)
    ((0, 0), 110)
    >>> ledger.balance("k", now=5.0), ledger.spent("k", now=5.0), ledger.refunded("k", now=5.0)
    ((20, 10), 80, 30)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from ..batch.price_rules import PriceRules
from ..batch.published_prices import PUBLISHED_PRICES
from ..constants import Paths, Vocab

PriceKey = tuple[str, str, int]
"""``(model, quality, duration)``: what a generation's price depends on."""


def _table() -> dict[PriceKey, int]:
    # Credits of a 5 s clip by model and quality; 8 s costs twice as much (1080p has no 8 s).
    five_seconds = {
        "v3.5": {"360p": 15, "540p": 25, "720p": 35, "1080p": 70},
        "v4": {"360p": 20, "540p": 30, "720p": 40, "1080p": 80},
        "v4.5": {"360p": 20, "540p": 30, "720p": 40, "1080p": 80},
        "v5": {"360p": 20, "540p": 30, "720p": 40, "1080p": 80},
    }
    table: dict[PriceKey, int] = {}
    for model, by_quality in five_seconds.items():
        for quality, credits in by_quality.items():
            table[(model, quality, 5)] = credits
            if quality != "1080p":
                table[(model, quality, 8)] = 2 * credits
    return table


#: The emulator's own flat prices (:meth:`PriceTable.flat`), in credits.
PRICES: Final[Mapping[PriceKey, int]] = MappingProxyType(_table())
#: The price of a generation the table does not price (the published 720p 5 s v5 price).
DEFAULT_PRICE: Final = 60
#: The price of a mask selection (``POST /openapi/v2/video/mask/selection``).
MASK_SELECTION_PRICE: Final = 5


def price_key(body: Mapping[str, Any]) -> PriceKey | None:
    """The table key of a generation body, or None when it has no single model/quality/duration.

    >>> price_key({"model": "v5", "quality": "540p", "duration": 8, "prompt": "a cat"})
    ('v5', '540p', 8)
    >>> price_key({"restyle_id": 3}) is None
    True
    """
    model, quality, duration = body.get("model"), body.get("quality"), body.get("duration")
    if not isinstance(model, str) or not isinstance(quality, str):
        return None
    if isinstance(duration, bool) or not isinstance(duration, int):
        return None
    return (model, quality, duration)


@dataclass(frozen=True)
class PriceTable:
    """What generations cost: ``rules``, then ``prices`` by key, else ``default``.

    The emulator charges :meth:`published` unless told otherwise; ``PriceTable()`` is
    :meth:`flat`.

    >>> PriceTable().price({"model": "v5", "quality": "720p", "duration": 8})
    80
    >>> PriceTable().price({"model": "v9", "quality": "720p", "duration": 5}) == DEFAULT_PRICE
    True
    """

    prices: Mapping[PriceKey, int] = field(default_factory=lambda: PRICES)
    default: int = DEFAULT_PRICE
    mask_selection: int = MASK_SELECTION_PRICE
    #: Price rules tried before ``prices`` (:meth:`published`).
    rules: PriceRules | None = None

    def price(self, body: Mapping[str, Any], path: str = "") -> int:
        """The credits a generation with this body (sent to ``path``) costs."""
        if self.rules is not None:
            priced = self.rules.price(_KINDS.get(path, ""), body)
            if priced is not None:
                return priced
        key = price_key(body)
        return self.default if key is None else self.prices.get(key, self.default)

    @classmethod
    def flat(cls) -> PriceTable:
        """The emulator's own flat prices (:data:`PRICES`), for tests written against them.

        >>> PriceTable.flat().price({"model": "v5", "quality": "540p", "duration": 5})
        30
        """
        return cls()

    @classmethod
    def published(cls, default: int = DEFAULT_PRICE) -> PriceTable:
        """PixVerse's published prices, the emulator's default; ``default`` for what they do not.

        >>> PriceTable.published().price({"model": "v5", "quality": "540p", "duration": 5})
        45
        >>> PriceTable.published().price({"model": "v5.5", "quality": "540p", "duration": 5})
        60
        """
        mask = PUBLISHED_PRICES.price("mask_selection", {})
        return cls(prices=MappingProxyType({}), default=default, rules=PUBLISHED_PRICES,
                   mask_selection=default if mask is None else mask)  # fmt: skip

    @classmethod
    def random(cls, seed: int | None = None, low: int = 1, high: int = 200) -> PriceTable:
        """A table of random prices in ``[low, high]`` for every known combination.

        The default price is ``high``, so no generation costs more than ``high``.

        >>> table = PriceTable.random(seed=7, low=10, high=20)
        >>> all(10 <= p <= 20 for p in table.prices.values()) and table.default == 20
        True
        """
        rng = random.Random(seed)
        prices = {
            (model, quality, duration): rng.randint(low, high)
            for model in Vocab.MODELS
            for quality in Vocab.QUALITIES
            for duration in Vocab.DURATIONS
        }
        return cls(prices=MappingProxyType(prices), default=high)


#: The request kind of each generation path (what price rules match on).
_KINDS: Final[Mapping[str, str]] = {
    Paths.TEXT_TO_VIDEO: "text_to_video",
    Paths.IMAGE_TO_VIDEO: "image_to_video",
    Paths.TRANSITION: "transition",
    Paths.MULTI_TRANSITION: "multi_transition",
    Paths.EXTEND: "extend",
    Paths.FUSION: "fusion",
    Paths.RESTYLE: "restyle",
    Paths.SWAP: "swap",
    Paths.LIP_SYNC: "lip_sync",
    Paths.SOUND_EFFECT: "sound_effect",
    Paths.MIMIC: "mimic",
}


def cost_answer(cost: int, *, field_name: str = "credits") -> dict[str, int]:
    """The cost part of a submit answer: ``{"credits": cost}`` (or ``{"credit": cost}``)."""
    return {field_name: cost}


EntryKind = Literal["charge", "refund"]

#: The outcomes PixVerse refunds: failed (status 8) and moderated (status 7).
REFUNDED_OUTCOMES: Final = frozenset({"failed", "moderated"})


def refund_time(outcome: str, final_at: float) -> float | None:
    """When a generation that reaches ``outcome`` at ``final_at`` is refunded (None: never).

    >>> refund_time("failed", 12.0), refund_time("deleted", 12.0)
    (12.0, None)
    """
    return final_at if outcome in REFUNDED_OUTCOMES else None


@dataclass(frozen=True)
class LedgerEntry:
    """One movement of credits on a key's account.

    ``amount`` is positive for a charge and negative for a refund; ``monthly`` and ``package``
    split it between the two balances. ``video_id`` is the generation (or mask selection) it
    belongs to; ``at`` is emulator-clock time.
    """

    api_key: str
    kind: EntryKind
    video_id: int
    amount: int
    monthly: int
    package: int
    reason: str
    at: float


_ChargeKey = tuple[int, str]  # (video_id, reason)


@dataclass
class _Account:
    monthly: int
    package: int
    entries: list[LedgerEntry] = field(default_factory=list)
    charges: dict[_ChargeKey, LedgerEntry] = field(default_factory=dict)
    refunded: set[_ChargeKey] = field(default_factory=set)
    # Refunds to come: the heap may hold stale items; ``pending`` says which one counts.
    pending: dict[_ChargeKey, tuple[float, int]] = field(default_factory=dict)
    due: list[tuple[float, int, _ChargeKey]] = field(default_factory=list)


def _loop_time() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:  # read outside a loop: the default loop's clock
        return time.monotonic()


class Ledger:
    """Every key's balance and the charges and refunds that made it.

    Each key starts with ``monthly`` and ``package`` credits. Reads settle the refunds that
    are due at ``now`` before answering; ``now`` defaults to ``clock()`` (the emulator's clock
    in an :class:`~pixverse_async.emulator.Emulator`, else event-loop time). A charge is
    refunded at most once, when :meth:`schedule_refund` last said; a refund is never taken back.
    Safe to use from several threads (a threaded emulator and its test).
    """

    def __init__(
        self, monthly: int = 10**9, package: int = 0, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.opening = (monthly, package)
        self.clock: Callable[[], float] = clock or _loop_time
        self._accounts: dict[str, _Account] = defaultdict(lambda: _Account(*self.opening))
        self._lock = threading.RLock()
        self._sequence = itertools.count()

    def _settled(self, api_key: str, now: float | None) -> _Account:
        account = self._accounts[api_key]
        now = self.clock() if now is None else now
        while account.due and account.due[0][0] <= now:
            at, sequence, key = heapq.heappop(account.due)
            if account.pending.get(key) != (at, sequence):
                continue  # rescheduled or cancelled since
            del account.pending[key]
            account.refunded.add(key)
            charge = account.charges[key]
            account.monthly += charge.monthly
            account.package += charge.package
            refund = LedgerEntry(
                api_key, "refund", charge.video_id, -charge.amount, -charge.monthly,
                -charge.package, charge.reason, at,
            )  # fmt: skip
            account.entries.append(refund)
        return account

    def charge(
        self,
        api_key: str,
        amount: int,
        *,
        video_id: int,
        refund_at: float | None,
        reason: str = "generation",
        now: float | None = None,
    ) -> LedgerEntry | None:
        """Charge ``amount`` if the balance covers it (else None: nothing is charged).

        ``refund_at`` schedules the refund of a generation that will fail or be moderated
        (:meth:`schedule_refund` moves it later).
        """
        if amount < 0:
            raise ValueError("a charge cannot be negative")
        with self._lock:
            now = self.clock() if now is None else now
            account = self._settled(api_key, now)
            if amount > account.monthly + account.package:
                return None
            monthly = min(amount, account.monthly)
            package = amount - monthly
            account.monthly -= monthly
            account.package -= package
            entry = LedgerEntry(api_key, "charge", video_id, amount, monthly, package, reason, now)
            account.entries.append(entry)
            account.charges[(video_id, reason)] = entry
            self._schedule(account, (video_id, reason), refund_at)
            return entry

    def schedule_refund(
        self,
        api_key: str,
        video_id: int,
        refund_at: float | None,
        *,
        reason: str = "generation",
        now: float | None = None,
    ) -> None:
        """Refund the charge of ``video_id`` at ``refund_at`` instead (None: not at all).

        What was due by ``now`` is settled first, so a refund already made stays made (and
        is never made twice). A video never charged is left alone.

        >>> ledger = Ledger(monthly=100)
        >>> _ = ledger.charge("k", 30, video_id=1, refund_at=None, now=0.0)
        >>> ledger.schedule_refund("k", 1, 4.0, now=2.0)
        >>> ledger.spent("k", now=3.0), ledger.spent("k", now=4.0)
        (30, 0)
        >>> ledger.schedule_refund("k", 1, 9.0, now=5.0)  # refunded already: nothing more
        >>> ledger.refunded("k", now=10.0)
        30
        """
        with self._lock:
            account = self._settled(api_key, now)
            key = (video_id, reason)
            if key in account.charges and key not in account.refunded:
                self._schedule(account, key, refund_at)

    def _schedule(self, account: _Account, key: _ChargeKey, refund_at: float | None) -> None:
        account.pending.pop(key, None)
        if refund_at is not None and account.charges[key].amount:
            item = (refund_at, next(self._sequence))
            account.pending[key] = item
            heapq.heappush(account.due, (*item, key))

    # Reads (tests use these) ---------------------------------------------------------------

    def balance(self, api_key: str, *, now: float | None = None) -> tuple[int, int]:
        """``(credit_monthly, credit_package)`` left."""
        with self._lock:
            account = self._settled(api_key, now)
            return account.monthly, account.package

    def entries(self, api_key: str, *, now: float | None = None) -> list[LedgerEntry]:
        """The key's charges and refunds so far, in the order they happened."""
        with self._lock:
            return list(self._settled(api_key, now).entries)

    def charged(self, api_key: str, *, now: float | None = None) -> int:
        """Credits charged to the key, refunds not deducted."""
        return sum(e.amount for e in self.entries(api_key, now=now) if e.kind == "charge")

    def refunded(self, api_key: str, *, now: float | None = None) -> int:
        """Credits given back to the key."""
        return -sum(e.amount for e in self.entries(api_key, now=now) if e.kind == "refund")

    def spent(self, api_key: str, *, now: float | None = None) -> int:
        """Credits charged minus credits refunded: what the key's work has cost."""
        return sum(e.amount for e in self.entries(api_key, now=now))

    def by_video(self, api_key: str, *, now: float | None = None) -> dict[int, int]:
        """Net credits per video id (0 for a refunded one)."""
        net: dict[int, int] = defaultdict(int)
        for e in self.entries(api_key, now=now):
            net[e.video_id] += e.amount
        return dict(net)
