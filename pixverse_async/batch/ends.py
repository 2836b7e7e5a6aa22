"""The one place a job of a run ends, whoever ends it; and what is reported of it.

A job ends by its poll, its webhook event (or the relay), its timeout, a refusal, the
spending cap: every one of those calls :meth:`Ends.end`. The first end decided wins; the
journal records it, the job's place is given back and its outcome emitted, each once; a
later end is dropped and counted (``Progress.ends_dropped``).

Example (how the other collaborators end a job)::

    await ends.end(job, OutcomeState.FAILED, error=exc, record=ends.failed(job, exc))
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..errors import JobTimeoutError, PixVerseError
from ..journal import JournalEntry, JournalState
from ..models import Video, from_json
from .outcomes import Outcome, OutcomeState, refund
from .run_job import RunJob
from .run_state import RunState

__all__ = ["Ends"]


class Ends:
    """Ends jobs and reports outcomes: the stream, the progress counts, the charges."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def emit(self, outcome: Outcome) -> None:
        if self.state.shared is not None and not self.state.shared.outcome(outcome):
            return  # a request of another worker's input, run here: not in this stream
        p = self.state.progress
        if outcome.state is OutcomeState.SUCCEEDED:
            p.succeeded += 1
        elif outcome.state is OutcomeState.FAILED:
            p.failed += 1
        elif outcome.state is OutcomeState.NOT_SUBMITTED:
            p.not_submitted += 1
        else:
            p.unknown += 1
        p.credits_refunded += outcome.credits_refunded
        self.state.results.put_nowait(outcome)
        self.state.room_for_intake.set()  # a request left the waiting list (PostgreSQL)
        self.state.changed()

    def elsewhere(self, job: RunJob) -> None:
        """A request of the input that another worker ended, or an earlier run: not this
        run's to report (``report="own"``), only counted."""
        self.state.progress.elsewhere += 1
        self.state.room_for_intake.set()  # it left the waiting list
        self.state.changed()

    def emit_entry(self, job: RunJob, entry: JournalEntry) -> None:
        """Report a request whose outcome the journal holds (SUCCEEDED, FAILED, UNKNOWN; or
        PENDING, ended not submitted by another worker's run)."""
        state = entry.state
        self.count_charge(job, entry.credits if state is not JournalState.PENDING else None)
        if state is JournalState.PENDING:
            self.emit(
                Outcome(index=job.index, key=job.key, request=job.request,
                        state=OutcomeState.NOT_SUBMITTED, error_type=entry.error_type,
                        error_message=entry.error_message, resumed=True)
            )  # fmt: skip
        elif state is JournalState.SUCCEEDED:
            video = from_json(Video, entry.result) if entry.result else None
            self.emit(
                Outcome(index=job.index, key=job.key, request=job.request,
                        state=OutcomeState.SUCCEEDED, video_id=entry.video_id, video=video,
                        resumed=True, credits=job.credits)
            )  # fmt: skip
        else:
            outcome_state = (
                OutcomeState.FAILED if state is JournalState.FAILED else OutcomeState.UNKNOWN
            )
            self.emit(
                Outcome(index=job.index, key=job.key, request=job.request, state=outcome_state,
                        video_id=entry.video_id, error_type=entry.error_type,
                        error_message=entry.error_message, resumed=True, credits=job.credits,
                        credits_refunded=refund(job.credits, outcome_state, entry.error_type))
            )  # fmt: skip

    def count_charge(self, job: RunJob, credits: int | None) -> None:
        """The one place a request's charge is counted: ``credits`` (None: not known here) is
        what the service charged for it; a request of this run's input is counted in the
        progress once, whoever submitted it (this run, an earlier one, another worker)."""
        if job.credits is None:
            job.credits = credits
        if job.credits is not None and job.index >= 0 and not job.counted:
            job.counted = True
            self.state.progress.credits_charged += job.credits

    async def end(
        self, job: RunJob, state: OutcomeState, *, error: PixVerseError | None = None,
        video: Video | None = None, record: Callable[[], Awaitable[object]] | None = None,
    ) -> None:  # fmt: skip
        """End ``job``: the one step every end goes through (a poll, a webhook event or the
        relay, a refusal, the spending cap; a take-over's or another worker's end comes from
        the journal, already recorded).

        The first end decided wins: a later one is dropped and counted (:meth:`late`). The
        winner's journal transition (``record``) is made here, then the job's place is given
        back and its outcome emitted, each once. A job reported timed out already (see
        :meth:`.poller.Poller.stop_waiting`) ends without a second outcome: the journal
        records its real end (``record``), or, when the service no longer counts it, keeps it
        SUBMITTED.
        """
        if self.late(job):
            return
        job.ended = True
        if job.span is not None:
            self.end_span(job, state, error, video)
        self.end_watch(job, video)
        if record is not None:
            await record()
        self.give_back(job)
        if job in self.state.lingering:
            self.state.lingering.discard(job)
            self.state.progress.watched_after_timeout -= 1
            self.state.changed()
        elif not job.reported:
            job.reported = True
            self.emit(self.outcome(job, state, error=error, video=video))

    def end_span(
        self, job: RunJob, state: OutcomeState, error: PixVerseError | None, video: Video | None
    ) -> None:
        assert job.span is not None
        how = job.ended_by if job.video_id is not None else "error"
        if isinstance(error, JobTimeoutError):
            how = "timeout"
        error_type = type(error).__name__ if error is not None else None
        job.span.end(
            how,
            status=video.status.name if video is not None else state.name,
            error=error,
            refunded=refund(job.credits, state, error_type),
            link=job.end_link,
        )
        self.state.spanned.discard(job)

    def end_spans(self, stopped_by: BaseException | None) -> None:
        """End the span of every job the run leaves behind unended, once each: held after a
        500044 or an unknown outcome and not sent again, being submitted, or generating, when
        the run was cancelled (``cancelled``) or stopped by a failure (``stopped``, with the
        failure). ``pixverse.status`` says what the job was doing: ``HELD``, ``SUBMITTING``
        or ``GENERATING``."""
        how = "cancelled" if isinstance(stopped_by, asyncio.CancelledError) else "stopped"
        for job in list(self.state.spanned):
            self.state.spanned.discard(job)
            if job.span is None:
                continue
            if job.video_id is not None:
                doing = "GENERATING"
            elif job.submitting:
                doing = "SUBMITTING"
            else:
                doing = "HELD"
            job.span.end(how, status=doing, error=stopped_by)

    def late(self, job: RunJob) -> bool:
        """Whether ``job``'s end was decided already; what arrived now is then dropped (and
        counted)."""
        if job.ended:
            self.state.progress.ends_dropped += 1
        return job.ended

    def give_back(self, job: RunJob) -> None:
        """Give back what ``job`` holds: its place among the submitting, its in-flight slot."""
        if job.submitting:
            job.submitting = False
            self.state.progress.submitting -= 1
        if job.slot:
            job.slot = False
            self.state.release()

    def leave_unfinished(self, job: RunJob) -> None:
        """``job`` is reported, its journal entry left PENDING or SUBMITTED: on PostgreSQL it
        is given back to the batch when the run ends (another worker or run takes it)."""
        if self.state.shared is not None:
            self.state.shared.left.add(job.key)

    def not_sent(self, job: RunJob, exc: PixVerseError) -> Callable[[], Awaitable[object]]:
        return lambda: self.state.journal.mark_not_sent(job.key, type(exc).__name__, str(exc))

    def failed(self, job: RunJob, exc: PixVerseError) -> Callable[[], Awaitable[object]]:
        return lambda: self.state.journal.mark_failed(job.key, type(exc).__name__, str(exc))

    def unknown(
        self, job: RunJob, trace_id: str | None, exc: PixVerseError
    ) -> Callable[[], Awaitable[object]]:
        return lambda: self.state.journal.mark_unknown(job.key, trace_id, str(exc))

    def outcome(
        self, job: RunJob, state: OutcomeState, *, error: PixVerseError | None = None,
        video: Video | None = None,
    ) -> Outcome:  # fmt: skip
        """The outcome of a job this run handled; a refund it carries is counted by the cap."""
        error_type = type(error).__name__ if error is not None else None
        refunded = refund(job.credits, state, error_type)
        if refunded and self.state.cap is not None:
            self.state.cap.refund(refunded)
        return Outcome(
            index=job.index,
            key=job.key,
            request=job.request,
            state=state,
            video_id=job.video_id,
            video=video,
            error=error,
            error_type=error_type,
            error_message=str(error) if error is not None else None,
            resumed=job.resumed,
            credits=job.credits,
            credits_refunded=refunded,
        )

    def end_watch(self, job: RunJob, video: Video | None = None) -> None:
        if job.watch is not None:
            if video is None:
                job.watch.close()
            else:
                job.watch.settle(video)
            self.state.watched.discard(job)
