"""Admission: whether a request may be sent now, what it reserves, and the limit rule.

Before a send, the spending cap (this run's, or the batch's on PostgreSQL) and an earlier
insufficient-balance answer decide (:meth:`Admission.afford`); the service's answer turns the
reservation into a charge (:meth:`Admission.settle`) or gives it back
(:meth:`Admission.unreserve`). A concurrency- or rate-limit answer holds the request and
shrinks the in-flight target (:meth:`Admission.hold`); an accepted submit grows it back
(:meth:`Admission.accepted`), both by :mod:`.limit_rule`.

Example (the dispatcher, for the request at the queue's head)::

    verdict = await admission.afford(job)  # SEND, WAIT or CAP (reported ended)
"""

from __future__ import annotations

from ..errors import PixVerseError, RateLimitError
from .ends import Ends
from .limit_rule import grown, shrunk
from .outcomes import OutcomeState
from .run_job import RunJob
from .run_state import RunState
from .spending import Verdict

__all__ = ["Admission"]


class Admission:
    """The spending cap, the balance and the in-flight target of one run."""

    def __init__(self, state: RunState, ends: Ends) -> None:
        self.state = state
        self.ends = ends

    async def afford(self, job: RunJob) -> Verdict:
        """Whether the request taken off the queue's head may be sent; one ended for lack of
        credits (CAP) is reported here, one to send (SEND) keeps its reservation. With a
        PostgreSQL journal the cap is the batch's, shared by its workers (the decision and
        the reservation are made against the journal's record: ``SharedBatch.reserve``)."""
        if self.state.refused_all is not None:
            error: PixVerseError = self.state.refused_all
        else:
            assert self.state.cap is not None
            if self.state.shared is not None:
                verdict = await self.state.shared.reserve(job, self.state.cap)
            else:
                verdict, amount = self.state.cap.decide(
                    job.request.kind, job.body, in_flight=self.state.in_flight
                )
                if verdict is Verdict.SEND:
                    self.state.cap.reserve(amount, job.request.kind, job.body)
                    job.reserved = amount
            if verdict is not Verdict.CAP:
                return verdict
            error = self.state.cap.error(job.request.kind, job.body)
        await self.ends.end(
            job, OutcomeState.NOT_SUBMITTED, error=error,
            record=lambda: self.state.journal.mark_held(job.key, type(error).__name__, str(error)),
        )  # fmt: skip
        return Verdict.CAP

    async def unreserve(self, job: RunJob) -> None:
        """The request was not charged: give its reservation back."""
        if self.state.cap is not None:
            self.state.cap.release(job.reserved, job.request.kind, job.body)
            if self.state.shared is not None:
                await self.state.shared.release(job)
        job.reserved = 0

    def settle(self, job: RunJob, credits: int | None) -> None:
        """The service answered (``credits``: the cost it said) or may have acted: the
        reservation becomes a charge."""
        self.ends.count_charge(job, credits)
        if self.state.cap is not None:
            self.state.cap.settle(job.reserved, credits, job.request.kind, job.body)
            job.reserved = 0
            self.state.wake_dispatcher.set()  # an estimate above the cost leaves room

    def hold(self, job: RunJob, exc: PixVerseError) -> None:
        """Put a request the service did not act on back at the head of the queue."""
        self.ends.give_back(job)
        if isinstance(exc, RateLimitError):
            self.state.progress.limit_answers += 1
            if self.state.shared is not None:
                self.state.shared.limit_answered()  # the account's target, shared by all workers
            else:
                # The service accepted what is in flight now; aim there, at least one.
                self.state.target = shrunk(self.state.in_flight)
        # The one retry formula (full jitter, or the service's Retry-After), counted in holds
        # in a row; the dispatcher, not a sleeping loop, sends the request again.
        self.state.hold_streak += 1
        delay = self.state.runner.hold.wait(
            self.state.hold_streak, getattr(exc, "retry_after", None)
        )
        if self.state.in_flight > 0 and isinstance(exc, RateLimitError) and exc.retry_after is None:
            # a finishing job frees a slot sooner; a Retry-After (a request-rate limit) is waited
            delay = min(delay, self.state.runner.hold.base_delay)
        job.not_before = self.state.loop.time() + delay
        self.state.queue.appendleft(job)
        self.state.wake_dispatcher.set()
        self.state.changed()

    def accepted(self) -> None:
        """The service accepted a submit: the holds in a row end, the target grows back."""
        self.state.hold_streak = 0
        if self.state.shared is not None:
            self.state.shared.submit_accepted()
        elif self.state.target < self.state.runner.concurrency:
            self.state.target = grown(self.state.target, self.state.runner.concurrency)
            self.state.wake_dispatcher.set()  # a held request may go now, not at the next end
