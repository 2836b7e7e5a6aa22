"""One run of a :class:`~.runner.JobRunner`: its collaborators, wired and supervised.

- :class:`~.intake.Intake` reads the requests and consults the journal;
- :class:`~.admission.Admission` decides whether a request may be sent (the spending cap, the
  balance, the in-flight target);
- :class:`~.dispatch.Dispatcher` sends and reads each answer;
- :class:`~.poller.Poller` polls what was submitted and watches webhook events;
- :class:`~.ends.Ends` is the one place a job ends and its outcome is reported.

They share a :class:`~.run_state.RunState`; with a PostgreSQL journal, a
:class:`~.coordination.SharedBatch` coordinates the run with the batch's other workers (it
sees the run through :class:`~.coordination.RunHooks`).

Example (what :meth:`JobRunner.run <.runner.JobRunner.run>` does)::

    run = Run(runner, client.videos, requests)
    task = asyncio.ensure_future(run.main())  # outcomes arrive on run.state.results
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from ..journal import Journal, JournalEntry
from ..telemetry.runs import run_span
from .admission import Admission
from .coordination import SharedBatch, shared_store
from .dispatch import Dispatcher
from .ends import Ends
from .intake import Intake
from .outcomes import Outcome, OutcomeState, Progress
from .poller import Poller
from .run_job import RunJob
from .run_state import RunSettings, RunState
from .spending import SpendingCap

if TYPE_CHECKING:
    from ..endpoints.videos import Videos
    from ..jobs.polling import SafetyNet

__all__ = ["DONE", "Run"]

#: Put on the results queue after the last outcome.
DONE = object()


class Run:
    """Wires the collaborators of one run, runs them, and ends what is left when it stops."""

    def __init__(
        self, runner: RunSettings, videos: Videos, requests: Iterable[Any] | AsyncIterable[Any]
    ) -> None:
        self.state = state = RunState(runner, videos)
        self.ends = Ends(state)
        self.poller = Poller(state, self.ends)
        self.admission = Admission(state, self.ends)
        self.dispatcher = Dispatcher(state, self.ends, self.admission, self.poller)
        self.intake = Intake(state, self.ends, self.poller, requests)

    async def main(self) -> None:
        with run_span(self.state.runner.concurrency) as span:
            try:
                await self._main()
            finally:
                if span is not None:
                    span.counts = _counts(self.state.progress)

    async def _main(self) -> None:
        state = self.state
        state.loop = asyncio.get_running_loop()
        journal = state.runner.journal
        owned: Journal | None = None
        stopped_by: BaseException | None = None
        try:
            if state.videos.webhooks is not None:
                # A relay hub LISTENs before anything is sent (its failure ends the run here).
                await state.videos.webhooks.start()
            # Opening the journal is part of the run: its failure reaches the consumer too.
            if isinstance(journal, Journal):
                state.journal = journal
            else:
                owned = await Journal.open(
                    ":memory:" if journal is None else journal, batch=state.runner.batch
                )
                state.journal = owned
            if state.runner.max_credits is not None:
                state.cap = SpendingCap(
                    state.runner.max_credits,
                    state.runner.costs,
                    allow_unpriced=state.runner.allow_unpriced,
                )
                state.cap.count_journal(await state.journal.entries())
            store = shared_store(state.journal)
            if store is not None:
                state.shared = SharedBatch(self, store, own=state.runner.report == "own")
                await state.shared.start()
            await self._supervise()
        except BaseException as exc:
            stopped_by = exc
            if not isinstance(exc, asyncio.CancelledError):
                state.results.put_nowait(exc)
            raise
        finally:
            await self._cancel_all()
            for job in list(state.watched):
                self.ends.end_watch(job)
            for job in list(state.lingering):  # no longer watched: a later run resumes them
                await self.ends.end(job, OutcomeState.FAILED)
            self.ends.end_spans(stopped_by)  # held, submitting or generating: left unended
            if state.shared is not None:
                await state.shared.stop()
            if owned is not None:
                await owned.close()
        state.results.put_nowait(DONE)

    async def _supervise(self) -> None:
        self.state.spawn(self.intake.run())
        self.state.spawn(self.poller.run())
        if self.state.shared is not None:
            self.state.spawn(self.state.shared.loop())
        await self.dispatcher.run()

    async def _cancel_all(self) -> None:
        tasks = list(self.state.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # What the batch's coordination uses (coordination.RunHooks) ---------------------------

    @property
    def concurrency(self) -> int:
        return self.state.runner.concurrency

    @property
    def in_flight(self) -> int:
        return self.state.in_flight

    @property
    def watch_net(self) -> SafetyNet:
        return self.state.watch_net

    @property
    def videos(self) -> Videos:
        return self.state.videos

    @property
    def intake_done(self) -> bool:
        return self.state.intake_done

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self.state.loop

    @property
    def queue(self) -> collections.deque[RunJob]:
        return self.state.queue

    @property
    def progress(self) -> Progress:
        return self.state.progress

    @property
    def wake_dispatcher(self) -> asyncio.Event:
        return self.state.wake_dispatcher

    def changed(self) -> None:
        self.state.changed()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return self.state.spawn(coro)

    def count_charge(self, job: RunJob, credits: int | None) -> None:
        self.ends.count_charge(job, credits)

    def emit(self, outcome: Outcome) -> None:
        self.ends.emit(outcome)

    def emit_entry(self, job: RunJob, entry: JournalEntry) -> None:
        self.ends.emit_entry(job, entry)

    def elsewhere(self, job: RunJob) -> None:
        self.ends.elsewhere(job)

    def resume_polling(self, job: RunJob, entry: JournalEntry) -> None:
        self.poller.resume(job, entry)


def _counts(progress: Progress) -> dict[str, int]:
    """What the run span reports: the outcomes by state and the spend."""
    return {
        "succeeded": progress.succeeded,
        "failed": progress.failed,
        "unknown": progress.unknown,
        "not_submitted": progress.not_submitted,
        "credits_charged": progress.credits_charged,
        "credits_refunded": progress.credits_refunded,
        "credits_spent": progress.credits_spent,
        "status_requests": progress.status_requests,
    }
