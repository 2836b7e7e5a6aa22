"""The dispatcher: sends the queued requests while there is room, and reads each answer.

One loop takes requests off the queue's head while fewer than the target are in flight (and,
on PostgreSQL, the account's shared limit has room), asks :class:`~.admission.Admission`
whether each may be sent, and submits it in a task of its own. The answer decides: accepted
(polled from then on, :class:`~.poller.Poller`), held and sent again later, or ended
(:class:`~.ends.Ends`). The loop returns when nothing is left to send.

Example (how a run drives it)::

    await dispatcher.run()  # until the input is read and every request was sent or ended
"""

from __future__ import annotations

import uuid

from ..errors import (
    AuthenticationError,
    InsufficientCreditsError,
    PixVerseError,
    RateLimitError,
    SubmissionUnknownError,
    TransportError,
    nothing_generated,
)
from ..journal import JournalError
from ..models import GenerationResult, from_json
from ..telemetry.jobs import active, start_job
from .admission import Admission
from .ends import Ends
from .outcomes import OutcomeState
from .poller import Poller
from .run_job import RunJob
from .run_state import RunState, wait_for_event
from .spending import Verdict

__all__ = ["Dispatcher"]


class Dispatcher:
    """Submits a run's requests."""

    def __init__(self, state: RunState, ends: Ends, admission: Admission, poller: Poller) -> None:
        self.state = state
        self.ends = ends
        self.admission = admission
        self.poller = poller

    async def run(self) -> None:
        while True:
            # Cleared before looking, not before waiting: a wake-up that arrives while this
            # pass awaits (the spending cap asks the journal) is not lost.
            self.state.wake_dispatcher.clear()
            if self.state.failure is not None:
                raise self.state.failure
            now = self.state.loop.time()
            wait_for: float | None = None
            while self.state.queue and (
                self.state.refused_all is not None  # ended unsent, whatever the room
                or (
                    self.state.in_flight < max(1, int(self.state.target))
                    and (self.state.shared is None or self.state.shared.may_send())
                )
            ):
                job = self.state.queue[0]
                if job.not_before > now and self.state.refused_all is None:
                    wait_for = job.not_before - now
                    break
                # taken before any await: the queue's head may change meanwhile
                self.state.queue.popleft()
                # A late resend keeps its reservation: it may have been charged already.
                if self.state.refused_all is not None or (
                    not job.late_resends and self.state.cap is not None
                ):
                    verdict = await self.admission.afford(job)
                    if verdict is Verdict.WAIT:
                        self.state.queue.appendleft(job)
                        break
                    if verdict is Verdict.CAP:
                        continue
                self.state.in_flight += 1
                job.slot = True
                if self.state.shared is None:
                    self._submitting(job)
                else:  # submitting once the account's shared limit gives it a place
                    self.state.asking += 1
                    self.state.shared.spend()
                self.state.spawn(self._submit(job))
            if len(self.state.queue) <= 4 * self.state.runner.concurrency:
                self.state.room_for_intake.set()
            if (
                self.state.shared is not None
                and len(self.state.queue) <= self.state.runner.concurrency // 2
            ):
                self.state.shared.poke()  # claim more
            if (
                self.state.intake_done
                and not self.state.queue
                and self.state.in_flight
                == len(self.state.lingering)  # nothing left to send for them
                and (self.state.shared is None or self.state.shared.idle)
            ):
                return
            if wait_for is None:
                await self.state.wake_dispatcher.wait()
            else:
                await wait_for_event(self.state.wake_dispatcher, wait_for)

    async def _submit(self, job: RunJob) -> None:
        # Generated once, at the first send; a later send (a hold, a requeued UNKNOWN entry)
        # is a resend under it, which PixVerse answers with the first result if there was one.
        trace_id = job.trace_id = job.trace_id or str(uuid.uuid4())
        job.attempts += 1
        if self.state.shared is None:
            entry = await self.state.journal.mark_sending(job.key, trace_id)
            trace_id = job.trace_id = entry.trace_id or trace_id
        else:
            try:
                placed = await self.state.shared.mark_sending(job, trace_id)
            finally:
                self.state.asking -= 1
            if not placed:
                # The account's shared limit is full: back to the queue until a place is
                # freed. Never counted as submitting: nothing was sent.
                await self.admission.unreserve(job)
                job.attempts -= 1
                self.ends.give_back(job)
                self.state.queue.appendleft(job)
                self.state.changed()
                return
            self._submitting(job)
            trace_id = job.trace_id or trace_id
        if job.span is None:
            job.span = start_job(job.body.get("model"), job.body.get("quality"))
            if job.span is not None:
                self.state.spanned.add(job)  # ended once: by Ends.end, else when the run ends
        try:
            with active(job.span):
                resp, watch = await self.state.videos._submit_watched(
                    job.request,
                    max_retries=0,
                    trace_id=trace_id,
                    on_resend=lambda: self.state.journal.mark_resent(job.key),
                )
        except JournalError:  # recording a resend failed: stop the run, the entry stays SENDING
            raise
        except RateLimitError as exc:  # the service did not act: hold and try later
            await self.admission.unreserve(job)
            await self.state.journal.mark_not_sent(job.key, type(exc).__name__, str(exc))
            self.admission.hold(job, exc)
            return
        except InsufficientCreditsError as exc:  # nothing charged; nor will the rest be sent
            await self.admission.unreserve(job)
            self.state.refused_all = exc
            await self.ends.end(
                job, OutcomeState.NOT_SUBMITTED, error=exc, record=self.ends.not_sent(job, exc)
            )
            return
        except SubmissionUnknownError as exc:
            if self._may_resend_later(job):
                # Recorded, then pending again under its trace id: the next send is a resend
                # that PixVerse answers with the first result (a run stopped meanwhile leaves
                # it pending, and the next run resends it).
                await self.state.journal.mark_unknown(job.key, exc.trace_id, str(exc))
                await self.state.journal.requeue(job.key)
                job.late_resends += 1
                self.admission.hold(job, exc)
                return
            self.admission.settle(job, None)
            record = self.ends.unknown(job, exc.trace_id, exc)
            await self.ends.end(job, OutcomeState.UNKNOWN, error=exc, record=record)
            return
        except TransportError as exc:  # the connection was never made
            await self.admission.unreserve(job)
            await self.ends.not_sent(job, exc)()
            if job.attempts <= self.state.runner.hold.max_retries:
                self.admission.hold(job, exc)
                return
            self.ends.leave_unfinished(job)  # PENDING: the next run sends it
            await self.ends.end(job, OutcomeState.FAILED, error=exc)
            return
        except PixVerseError as exc:
            await self.admission.unreserve(job)
            if isinstance(exc, AuthenticationError):  # the key: no other send would do better
                self.state.refused_all = self.state.refused_all or exc
            if nothing_generated(exc):  # PENDING, its error kept: the next run sends it
                self.ends.leave_unfinished(job)
                await self.ends.end(
                    job, OutcomeState.FAILED, error=exc, record=self.ends.not_sent(job, exc)
                )
            else:
                await self.ends.end(
                    job, OutcomeState.FAILED, error=exc, record=self.ends.failed(job, exc)
                )
            return
        try:
            result = from_json(GenerationResult, resp)
        except PixVerseError as exc:  # accepted, but no id we can read: ambiguous
            self.admission.settle(job, None)
            if watch is not None:
                watch.close()
            record = self.ends.unknown(job, trace_id, exc)
            await self.ends.end(job, OutcomeState.UNKNOWN, error=exc, record=record)
            return
        job.video_id = result.video_id
        if job.span is not None:
            job.span.submitted(result.video_id, result.credits)
        job.submitted_at = self.state.loop.time()
        self.admission.settle(job, result.credits)
        await self.state.journal.mark_submitted(job.key, result.video_id, result.credits)
        if (
            self.state.shared is not None
            and self.state.cap is not None
            and result.credits is not None
        ):
            await self.state.shared.release(job)  # the journal has its cost now
        job.submitting = False
        self.state.progress.submitting -= 1
        self.admission.accepted()
        self.poller.begin(job, watch)
        self.state.changed()

    def _submitting(self, job: RunJob) -> None:
        """``job`` is being sent (in the progress until the service answers)."""
        job.submitting = True
        self.state.progress.submitting += 1

    def _may_resend_later(self, job: RunJob) -> bool:
        """Whether a submit whose outcome stayed unknown through the session's resends is
        held and resent later in this run (the network may have recovered by then): with
        resends on, up to ``hold.max_retries`` times; not on a PostgreSQL batch, whose
        other workers could claim the requeued entry meanwhile."""
        return (
            self.state.shared is None
            and self.state.videos._session.retry.resends > 0
            and job.late_resends < self.state.runner.hold.max_retries
        )
