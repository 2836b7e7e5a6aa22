"""The spending cap of a run: which request may be sent without risking the cap.

A run with ``max_credits`` keeps two sums: the *spend* (credits the service charged minus
refunds of failed and moderated jobs, :class:`~pixverse_async.batch.costs.Spend`, starting with
what the journal recorded for earlier runs) and the *reserve* (the estimated cost of each
request sent whose cost is not known yet). A request is sent only if its estimate fits in
what is left: ``spend + reserve + estimate <= max_credits``. Estimates come from a
:class:`~pixverse_async.batch.costs.CostEstimator`: the highest cost seen for the same kind, model,
quality and duration, else its price function, else PixVerse's published prices, else its
default. A charge above its estimate becomes the estimate for its kind at once, and until a
charge has confirmed a kind's price (a price function or a table may be wrong) one request of
that kind is in flight at a time: a wrong price can take the spend over by one request's
error, not by one per request in flight.

A request nothing can price is **not sent**: it ends not submitted with a reason saying what
would let it run (a price: ``--prices FILE``, a price function). With ``allow_unpriced=True``
one such request per kind is sent alone, reserving all that is left, so that its answer
teaches the price: each may cost more than is left, so the most the batch can go over the
cap is what those requests cost beyond it (:meth:`SpendingCap.unpriced_kinds` counts them).

A request that does not fit waits while other requests are in flight (their answers and
refunds may make room) and is *capped* once nothing is: it ends not submitted.

**Whose spend.** With a SQLite (or in-memory) journal one process runs the batch: the sums
are the run's own, starting from what the journal recorded. With a PostgreSQL journal the
cap is the **batch's**: ``max_credits=N`` (``pixverse batch --max-credits N``) bounds what all
the workers of the batch spend together, over all their runs. Each send is decided against
the batch's record in the database, every worker's recorded costs and refunds and the
reservations of the requests they are sending, and its reservation is written in the same
transaction, with the batch's row locked (:meth:`SpendingCap.count_batch`,
:mod:`pixverse_async.journal.pg_spending`): no two workers spend the same room, a worker
that dies mid-send leaves its reservation counted (the request may have been charged), and
each charge counts once, whoever submitted or polls it. Precisely:

- give every worker of a batch the same cap: each sends only while the batch's spend stays
  within its *own* ``max_credits`` (so the batch stays within the highest cap given). A
  worker without a cap reserves nothing: its recorded costs count for the others, and its
  sends without a recorded cost count at the deciding worker's estimate;
- estimates (costs seen, ``price``, ``default``) are each worker's own: costs another worker
  recorded teach a worker's estimator when its run reads them (at its start);
- under the cap a request waits while its worker has requests in flight or any worker of the
  batch is sending one; else it ends not submitted. Its worker keeps it until that run ends
  (no other worker sends it meanwhile), and other runs waiting for it report it not submitted
  as well. A later run (with a higher cap) decides it again.

Example::

    >>> from pixverse_async.batch.costs import CostEstimator
    >>> cap = SpendingCap(100, CostEstimator(default=40, table=None))
    >>> body = {"model": "v5", "quality": "540p", "duration": 5}
    >>> cap.decide("text_to_video", body, in_flight=0)
    (<Verdict.SEND: 'send'>, 40)
    >>> cap.reserve(40); cap.settle(40, 30, "text_to_video", body)   # it cost 30
    30
    >>> cap.decide("text_to_video", body, in_flight=0)   # 30 seen: 30 + 30 <= 100
    (<Verdict.SEND: 'send'>, 30)
    >>> cap.spend.add(45)
    >>> cap.decide("text_to_video", body, in_flight=1)   # 75 + 30 > 100: an answer may help
    (<Verdict.WAIT: 'wait'>, 0)
    >>> cap.decide("text_to_video", body, in_flight=0)   # nothing can: not submitted
    (<Verdict.CAP: 'cap'>, 0)
    >>> unknown = {"model": "v9", "quality": "540p", "duration": 5}
    >>> SpendingCap(100).decide("text_to_video", unknown, in_flight=0)   # no price: not sent
    (<Verdict.CAP: 'cap'>, 0)
    >>> SpendingCap(100, allow_unpriced=True).decide("text_to_video", unknown, in_flight=0)
    (<Verdict.SEND: 'send'>, 100)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

from ..errors import SpendingCapError, ValidationError
from ..journal import JournalEntry, JournalState
from ..journal.pg_spending import BatchSpend
from .costs import CostEstimator, CostKey, Spend, cost_key, is_refunded

__all__ = ["NOT_SUBMITTED_REASONS", "SpendingCap", "SpendingCapError", "Verdict", "not_submitted"]

_NO_BODY: Final[Mapping[str, Any]] = MappingProxyType({})

#: The errors a run records on a pending journal entry it ended not submitted (a spending cap;
#: a balance that ran out).
NOT_SUBMITTED_REASONS: Final = frozenset({"SpendingCapError", "InsufficientCreditsError"})


def not_submitted(entry: JournalEntry) -> bool:
    """True for a journal entry a run ended not submitted for lack of credits (still pending).

    >>> from pixverse_async.journal import JournalEntry, JournalState
    >>> entry = JournalEntry("k", "text_to_video", {}, JournalState.PENDING, 0, None, None,
    ...                      None, None, None, "SpendingCapError", "over the cap", 0.0, 0.0)
    >>> not_submitted(entry)
    True
    """
    return entry.state is JournalState.PENDING and entry.error_type in NOT_SUBMITTED_REASONS


class Verdict(str, enum.Enum):
    """What to do with the next request."""

    SEND = "send"
    WAIT = "wait"
    """It does not fit now, but requests in flight may still make room."""
    CAP = "cap"
    """It does not fit and nothing in flight can make room: it ends not submitted."""


@attrs.define
class SpendingCap:
    """The spend and reserve of a run under ``limit`` credits (see the module docstring)."""

    limit: int
    estimator: CostEstimator = attrs.field(factory=CostEstimator)
    spend: Spend = attrs.field(factory=Spend)
    reserved: int = 0
    #: Send a request nothing can price alone, reserving all that is left (it may cost more).
    allow_unpriced: bool = False
    #: Requests in flight per cost key sent on a price no charge has confirmed yet.
    _probing: dict[CostKey, int] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise ValidationError(
                "max_credits", "must be a whole number of credits, at least 0", self.limit
            )

    @property
    def committed(self) -> int:
        """Credits spent plus credits reserved for answers still to come."""
        return self.spend.spent + self.reserved

    def count_journal(self, entries: Iterable[JournalEntry]) -> None:
        """Count what the journal's entries recorded (earlier runs): their charges and
        refunds, and their costs as estimates. An entry that may have been charged without
        a recorded cost (SENDING or UNKNOWN) counts its estimate."""
        for entry in entries:
            self.estimator.observe(entry.kind, entry.body, entry.credits)
        for entry in entries:
            if entry.credits is not None:
                refunded = entry.state is JournalState.FAILED and is_refunded(entry.error_type)
                self.spend.add(entry.credits, refunded=refunded)
            elif entry.state.is_ambiguous:
                self.spend.add(self.estimator.estimate(entry.kind, entry.body) or 0)

    def count_batch(self, spend: BatchSpend) -> None:
        """Take the spend and the reservations from a shared batch's record (every worker's,
        :mod:`~pixverse_async.journal.pg_spending`) in place of this run's own sums; entries
        that may have been charged without a known cost count their estimate."""
        self.spend = Spend(spend.charged, spend.refunded)
        for kind, body in spend.unpriced:
            self.spend.add(self.estimator.estimate(kind, body) or 0)
        self.reserved = spend.reserved

    def decide(self, kind: str, body: Mapping[str, Any], *, in_flight: int) -> tuple[Verdict, int]:
        """Whether the request may be sent now and, if so, the credits it reserves."""
        room = self.limit - self.committed
        estimate = self.estimator.estimate(kind, body)
        if estimate is None:
            if not self.allow_unpriced:
                return Verdict.CAP, 0  # nothing will price it: not sent
            if room > 0 and self.reserved == 0:  # sent alone, reserving all that is left
                return Verdict.SEND, room
        elif self._probing.get(cost_key(kind, body)) and self.estimator.seen(kind, body) is None:
            pass  # one request of a kind whose price no charge confirmed yet: wait for it
        elif estimate <= room:
            return Verdict.SEND, estimate
        return (Verdict.WAIT if in_flight else Verdict.CAP), 0

    def unpriced_kinds(self, requests: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """How many requests of ``(kind, body)`` this cap may send without a price: one per
        cost key nothing prices (each may cost more than is left) with ``allow_unpriced``,
        else none. The most the spend can exceed the cap by is what those cost beyond it."""
        if not self.allow_unpriced:
            return 0
        keys = {cost_key(k, b) for k, b in requests if self.estimator.estimate(k, b) is None}
        return len(keys)

    def error(self, kind: str, body: Mapping[str, Any]) -> SpendingCapError:
        """The error a capped request ends with."""
        return SpendingCapError(self.limit, self.committed, self.estimator.estimate(kind, body))

    def reserve(
        self, amount: int, kind: str | None = None, body: Mapping[str, Any] = _NO_BODY
    ) -> None:
        """Hold ``amount`` credits for a request about to be sent (of ``kind`` and ``body``:
        counted as a probe while no charge confirmed its kind's price)."""
        self.reserved += amount
        if kind is not None and self.estimator.seen(kind, body) is None:
            key = cost_key(kind, body)
            self._probing[key] = self._probing.get(key, 0) + 1

    def release(
        self, amount: int, kind: str | None = None, body: Mapping[str, Any] = _NO_BODY
    ) -> None:
        """Give back a reservation: the request was not charged."""
        self.reserved -= amount
        self._unprobe(kind, body)

    def _unprobe(self, kind: str | None, body: Mapping[str, Any]) -> None:
        if kind is None:
            return
        key = cost_key(kind, body)
        if self._probing.get(key):
            self._probing[key] -= 1

    def settle(self, amount: int, credits: int | None, kind: str, body: Mapping[str, Any]) -> int:
        """Replace a reservation with the charge the service answered (``credits``; None
        when the answer did not say, or the outcome is unknown: the reservation is counted
        as charged). Return the credits counted as charged."""
        self.reserved -= amount
        self._unprobe(kind, body)
        self.estimator.observe(kind, body, credits)
        charged = amount if credits is None else credits
        self.spend.add(charged)
        return charged

    def refund(self, credits: int) -> None:
        """Count a refund (a failed or moderated job's charge given back)."""
        self.spend.refunded += credits
