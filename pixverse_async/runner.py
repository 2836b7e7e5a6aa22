"""The job runner: many generations at once, polled by one scheduler, none lost or paid twice.

:class:`JobRunner` takes request objects (any mix of kinds, from an iterable or an async
iterable), keeps at most ``concurrency`` generations in flight, polls them all from a single
scheduler task and hands back one :class:`Outcome` per request. Every request is journaled
(:mod:`pixverse_async.journal`) before it is sent, so a rerun with the same journal skips what
finished, resumes polling what was submitted and submits only what never was.

Example::

    import asyncio
    from pixverse_async import PixVerse, PollPolicy, TextToVideo
    from pixverse_async.emulator import Emulator

    async def main() -> None:
        async with Emulator(api_keys={"k"}) as emu:
            async with PixVerse(api_key="k", base_url=emu.base_url,
                                poll=PollPolicy(first_delay=0.1, interval=0.05)) as client:
                requests = [
                    TextToVideo(prompt=f"scene {i}", model="v5", duration=5,
                                quality="540p", aspect_ratio="16:9")
                    for i in range(20)
                ]
                runner = client.runner(concurrency=8, journal="batch.sqlite")
                async with runner.run(requests) as outcomes:
                    async for outcome in outcomes:
                        print(outcome.index, outcome.state, outcome.video_id)

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import collections
import enum
import heapq
import itertools
import logging
import os
import time
import uuid
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
)
from typing import TYPE_CHECKING, Any

import attrs

from .constants import Limits
from .costs import CostEstimator, is_refunded
from .errors import (
    AuthenticationError,
    InsufficientCreditsError,
    PixVerseError,
    RateLimitError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
    about_the_caller,
    nothing_generated,
)
from .jobs import raise_for_terminal
from .journal import Journal, JournalEntry, JournalError, JournalState, request_key
from .limit_rule import grown, shrunk
from .models import GenerationRequest, GenerationResult, Video, from_json, to_json
from .polling import (
    TRANSIENT_POLL_ERRORS,
    PollLearner,
    PollPolicy,
    PollSchedule,
    SafetyNet,
    learning_key,
)
from .retry import RetryPolicy
from .runner_coordination import SharedBatch, shared_store
from .spending import SpendingCap, Verdict

if TYPE_CHECKING:
    from .endpoints.videos import Videos
    from .webhooks.events import WebhookEvent
    from .webhooks.hub import CompletionWatch

logger = logging.getLogger("pixverse_async")

_CHUNK = 256
_UNFINISHED = frozenset((JournalState.PENDING, JournalState.SENDING, JournalState.SUBMITTED))


class OutcomeState(str, enum.Enum):
    """How a request ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Failed in this run. The journal says what a rerun does: FAILED (a generation that
    failed, a moderation refusal) is not sent again; PENDING (an answer proving nothing was
    generated: a bad key, an invalid request) is; SUBMITTED (``JobTimeoutError``: the run
    stopped waiting, the service did not) is polled."""
    UNKNOWN = "unknown"
    """Sent, but whether the service created it is unknown: never resubmitted by the runner."""
    NOT_SUBMITTED = "not_submitted"
    """Never sent, nothing charged: the spending cap was reached (``SpendingCapError``), the
    balance ran out (``InsufficientCreditsError``) or the API key was refused
    (``AuthenticationError``: nothing else is sent with it). The journal keeps it pending: a
    rerun (with a higher cap, after a top-up, with the right key) submits it."""


@attrs.frozen(kw_only=True)
class Outcome:
    """What became of one request.

    ``index`` is its position in the input; ``key`` its journal key. ``video`` is set when it
    succeeded; ``error`` when it failed or is unknown (``error_type``/``error_message`` say
    the same for outcomes read back from a journal, whose exception objects are gone).
    ``resumed`` marks requests this run did not submit: their outcome was in the journal, or
    an earlier run submitted them and this run resumed polling them. ``credits`` is what the
    service charged for it (None when not charged or not known), ``credits_refunded`` what
    it gave back (a failed or moderated generation).
    """

    index: int
    key: str
    request: Any
    state: OutcomeState
    video_id: int | None = None
    video: Video | None = None
    error: PixVerseError | None = None
    error_type: str | None = None
    error_message: str | None = None
    resumed: bool = False
    credits: int | None = None
    credits_refunded: int = 0

    @property
    def ok(self) -> bool:
        """True when the request produced its video."""
        return self.state is OutcomeState.SUCCEEDED


@attrs.define
class Progress:
    """Counts of a run, passed to ``on_progress`` after every change."""

    seen: int = 0
    queued: int = 0
    submitting: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    unknown: int = 0
    not_submitted: int = 0
    credits_charged: int = 0
    """Credits charged for this run's requests, each request's once: by this run, or by an
    earlier run or another worker (as journaled)."""
    credits_refunded: int = 0
    target_concurrency: float = 0
    status_requests: int = 0
    limit_answers: int = 0
    ends_dropped: int = 0
    """Ends that came after a job's end was decided (a status answer that was in flight when
    its webhook event ended the job, a second event): dropped, each counted here."""
    watched_after_timeout: int = 0
    """Jobs this run stopped waiting for (reported failed with ``JobTimeoutError``) that it
    still watches, holding their places, until the service ends them."""

    @property
    def done(self) -> int:
        """Requests that reached an outcome."""
        return self.succeeded + self.failed + self.unknown + self.not_submitted

    @property
    def credits_spent(self) -> int:
        """Credits charged minus credits refunded."""
        return self.credits_charged - self.credits_refunded


#: The default hold after a limit answer or a connection never made: 0.5 s doubling to 10 s
#: (full jitter), and 7 resubmits after connection failures before the request fails.
HOLD = RetryPolicy(max_retries=7, base_delay=0.5, max_delay=10.0)


@attrs.define(eq=False)
class _Job:
    index: int
    key: str
    request: Any
    body: dict[str, Any]
    video_id: int | None = None
    attempts: int = 0
    not_before: float = 0.0
    schedule: PollSchedule | None = None
    last_status: object = None
    ended: bool = False  # its end was decided (see _Run._end): what comes later is dropped
    reported: bool = False  # its outcome is in the stream
    slot: bool = False  # it holds one of the run's in-flight places
    submitting: bool = False  # counted in progress.submitting
    submitted_at: float | None = None  # loop time of its submit (an estimate if resumed)
    resumed: bool = False
    credits: int | None = None
    counted: bool = False  # its credits are in the progress
    reserved: int = 0
    watch: CompletionWatch | None = None
    trace_id: str | None = None  # the entry's, for life: every send of it goes under it
    late_resends: int = 0  # held and sent again after its outcome stayed unknown


_DONE = object()


class JobRunner:
    """Runs many generations with bounded concurrency; see the module docstring.

    - ``concurrency``: generations in flight at most (submitted and not yet finished).
    - ``journal``: a :class:`~pixverse_async.journal.Journal`, a path to one (opened and
      closed by the runner), or None for an in-memory journal (no resume across processes).
    - ``poll``: the polling policy (the client's by default); ``poll.timeout`` per job,
      counted from its submit (or, for a job resumed from the journal, from the resume).
    - ``learner``: learns each kind of job's typical generation time and polls first near it
      (:class:`~pixverse_async.polling.PollLearner`): True (default) for a learner of the
      runner's own, kept across its runs; a learner to share (``job.wait(learner=...)``);
      False to poll by the policy alone.
    - ``max_status_per_second``: a cap on status requests across all jobs.
    - ``safety_net``: how a job is watched once the run stopped waiting for it (its
      ``poll.timeout`` passed): the client hub's :class:`~pixverse_async.polling.SafetyNet`
      by default, else ``SafetyNet()``. See "One end per job" below.
    - ``on_progress``: called with a :class:`Progress` after every change.
    - ``max_credits``: a spending cap (:mod:`pixverse_async.spending`): no request is sent
      that could take the spend recorded in the journal (this run's and earlier runs'; with
      a PostgreSQL journal, every worker's of the batch: the cap is the batch's) over it;
      the requests that do not fit end :attr:`OutcomeState.NOT_SUBMITTED`.
    - ``costs``: the :class:`~pixverse_async.costs.CostEstimator` the cap estimates unknown
      costs with (PixVerse's published prices by default; give it a ``price`` function for
      the rest); it learns the costs the service answers. Under the cap a request nothing
      can price is not sent (it ends NOT_SUBMITTED saying so), unless ``allow_unpriced``:
      then one per kind is sent alone to learn its price, and may cost more than is left.

    A submit answered with insufficient balance (500090) charged nothing: that request and
    every one not yet sent end :attr:`OutcomeState.NOT_SUBMITTED`; the submitted ones are
    awaited.

    With a webhook hub on the client (``PixVerse(webhooks=hub)``), each job sent with a
    webhook ends when its event reaches the hub, and is polled only by the hub's
    :class:`~pixverse_async.polling.SafetyNet` (so a lost delivery still ends it); with a
    relay on the hub (:mod:`pixverse_async.webhooks.relay`), also when another process
    received the delivery or polled the end (an end this run's poll found is published in
    turn). A job resumed from the journal is polled once at once, then watched the same way.
    - ``batch``: with a ``postgresql://`` journal URL, the batch name that cooperating
      workers share (see :mod:`pixverse_async.runner_coordination`); with a PostgreSQL
      journal, ``concurrency`` is the account's limit shared by all its workers.

    When the service answers with its concurrency-limit or rate-limit code, the request is
    held and retried later (waits from ``hold``, a :class:`~pixverse_async.retry.RetryPolicy`;
    its ``max_retries`` bounds resubmits after connections that were never made), and the
    in-flight target shrinks to what the service accepted, growing back by one every
    ``target`` accepted submits.

    One end per job: a job can end by its poll, its webhook event (or the relay), its timeout,
    a refusal, the spending cap; the first end decided wins, the journal records it, the
    stream reports it and the job's place is given back, each once; a later one (a status
    answer that was in flight when the event ended the job) is dropped and counted
    (:attr:`Progress.ends_dropped`). A job that passes ``poll.timeout`` is reported
    :attr:`OutcomeState.FAILED` with ``JobTimeoutError`` (the run stopped waiting), but the
    service still generates it: the journal keeps it SUBMITTED until its real end, and the run
    keeps its place and watches it at the safety net's pace while it has requests left to
    send, until the service ends it (the journal then records that end, without a second
    outcome) or until it has run 10 minutes since its submit (PixVerse then releases its
    concurrency slot). A rerun with the same journal reports its recorded end (or polls it).
    An answer proving nothing was generated (a bad key, an invalid request, no balance) leaves
    the request PENDING, its error recorded: the next run sends it.
    """

    def __init__(
        self,
        videos: Videos,
        *,
        concurrency: int = 16,
        journal: Journal | str | os.PathLike[str] | None = None,
        poll: PollPolicy | None = None,
        max_status_per_second: float | None = None,
        poll_concurrency: int = 64,
        on_progress: Callable[[Progress], None] | None = None,
        hold: RetryPolicy = HOLD,
        learner: PollLearner | bool = True,
        max_credits: int | None = None,
        costs: CostEstimator | None = None,
        batch: str | None = None,
        safety_net: SafetyNet | None = None,
        allow_unpriced: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_credits is not None:
            SpendingCap(max_credits)  # checks the value now, not when the run starts
        self._videos = videos
        self.concurrency = concurrency
        self.journal = journal
        self.poll = poll or videos.poll
        self.max_status_per_second = max_status_per_second
        self.poll_concurrency = poll_concurrency
        self.on_progress = on_progress
        self.hold = hold
        self.batch = batch
        self.safety_net = safety_net
        self.learner: PollLearner | None = (
            PollLearner() if learner is True else learner if learner is not False else None
        )
        self.max_credits = max_credits
        self.costs = costs if costs is not None else CostEstimator()
        self.allow_unpriced = allow_unpriced

    def run(self, requests: Iterable[Any] | AsyncIterable[Any]) -> RunStream:
        """Outcomes in completion order, as an async iterator and async context manager."""
        return RunStream(_Run(self, requests))

    async def gather(self, requests: Iterable[Any] | AsyncIterable[Any]) -> list[Outcome]:
        """Run everything and return the outcomes in input order."""
        outcomes: list[Outcome] = []
        async with self.run(requests) as stream:
            async for outcome in stream:
                outcomes.append(outcome)
        outcomes.sort(key=lambda o: o.index)
        return outcomes


async def _wait_for_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until ``event`` is set or ``timeout`` seconds pass.

    Not ``asyncio.wait_for``: before Python 3.12 it swallows a cancellation that arrives as
    the event is set, and a cancelled run (Ctrl-C) went on polling forever.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((waiter,), timeout=timeout)
    finally:
        waiter.cancel()


class RunStream:
    """The outcomes of one run. Leaving ``async with`` (or ``aclose()``) stops the run:
    its tasks are cancelled and awaited; what was submitted stays in the journal."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def progress(self) -> Progress:
        """The run's counts so far."""
        return self._run.progress

    def __aiter__(self) -> AsyncIterator[Outcome]:
        return self

    async def __anext__(self) -> Outcome:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run.main())
        item = await self._run.results.get()
        if item is _DONE:
            await self._finish()
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            await self._finish()
            raise item
        assert isinstance(item, Outcome)
        return item

    async def _finish(self) -> None:
        if self._task is not None:
            await self._task

    async def aclose(self) -> None:
        """Stop the run: cancel and await its tasks (safe to call twice)."""
        if self._task is None:
            return
        if not self._task.done():
            self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass  # the run's own cancellation, asked for just above
        except Exception:  # already reported through __anext__
            pass

    async def __aenter__(self) -> RunStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Run:
    """The state of one run: intake, dispatcher and poll scheduler share it."""

    def __init__(self, runner: JobRunner, requests: Iterable[Any] | AsyncIterable[Any]) -> None:
        self.runner = runner
        self.videos = runner._videos
        self.requests = requests
        self.results: asyncio.Queue[Any] = asyncio.Queue()
        self.progress = Progress(target_concurrency=runner.concurrency)
        self.queue: collections.deque[_Job] = collections.deque()
        self.in_flight = 0
        self.target = float(runner.concurrency)
        self.intake_done = False
        self.wake_dispatcher = asyncio.Event()
        self.wake_poller = asyncio.Event()
        self.room_for_intake = asyncio.Event()
        self.poll_heap: list[tuple[float, int, _Job]] = []
        self.seq = itertools.count()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.hold_streak = 0  # holds in a row since the last accepted submit
        self.journal: Journal
        self.failure: BaseException | None = None
        self.watched: set[_Job] = set()  # jobs a webhook event may end (the client's hub)
        self.lingering: set[_Job] = set()  # reported timed out, still watched (see _end)
        self.loop: asyncio.AbstractEventLoop
        self.cap: SpendingCap | None = None
        # An answer that refuses every send of this run: no balance left (500090), or the
        # API key itself refused. What is queued then ends not submitted, unsent.
        self.refused_all: PixVerseError | None = None
        self.shared: SharedBatch | None = None  # a PostgreSQL journal: cooperating workers

    # Top level ------------------------------------------------------------------------------

    async def main(self) -> None:
        self.loop = asyncio.get_running_loop()
        journal = self.runner.journal
        owned: Journal | None = None
        try:
            if self.videos.webhooks is not None:
                # A relay hub LISTENs before anything is sent (its failure ends the run here).
                await self.videos.webhooks.start()
            # Opening the journal is part of the run: its failure reaches the consumer too.
            if isinstance(journal, Journal):
                self.journal = journal
            else:
                owned = await Journal.open(
                    ":memory:" if journal is None else journal, batch=self.runner.batch
                )
                self.journal = owned
            if self.runner.max_credits is not None:
                self.cap = SpendingCap(
                    self.runner.max_credits,
                    self.runner.costs,
                    allow_unpriced=self.runner.allow_unpriced,
                )
                self.cap.count_journal(await self.journal.entries())
            store = shared_store(self.journal)
            if store is not None:
                self.shared = SharedBatch(self, store)
                await self.shared.start()
            await self._supervise()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.results.put_nowait(exc)
            raise
        finally:
            await self._cancel_all()
            for job in list(self.watched):
                self._end_watch(job)
            for job in list(self.lingering):  # no longer watched: a later run resumes them
                await self._end(job, OutcomeState.FAILED)
            if self.shared is not None:
                await self.shared.stop()
            if owned is not None:
                await owned.close()
        self.results.put_nowait(_DONE)

    async def _supervise(self) -> None:
        self._spawn(self._intake())
        self._spawn(self._poll_scheduler())
        if self.shared is not None:
            self._spawn(self.shared.loop())
        await self._dispatch()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A bug or a journal failure: stop the run and tell the consumer.
            self.failure = task.exception()
            self.wake_dispatcher.set()

    async def _cancel_all(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _changed(self) -> None:
        p = self.progress
        p.running = self.in_flight - p.submitting
        p.queued = len(self.queue)
        p.target_concurrency = self.target
        if self.runner.on_progress is not None:
            self.runner.on_progress(p)

    def _emit(self, outcome: Outcome) -> None:
        if self.shared is not None and not self.shared.outcome(outcome):
            return  # a request of another worker's input, run here: not in this stream
        p = self.progress
        if outcome.state is OutcomeState.SUCCEEDED:
            p.succeeded += 1
        elif outcome.state is OutcomeState.FAILED:
            p.failed += 1
        elif outcome.state is OutcomeState.NOT_SUBMITTED:
            p.not_submitted += 1
        else:
            p.unknown += 1
        p.credits_refunded += outcome.credits_refunded
        self.results.put_nowait(outcome)
        self._changed()

    # Intake: read requests, consult the journal -----------------------------------------

    async def _intake(self) -> None:
        occurrences: collections.Counter[str] = collections.Counter()
        index = 0
        async for chunk in _chunks(self.requests, _CHUNK):
            jobs = []
            for request in chunk:
                if not isinstance(request, GenerationRequest):
                    self._reject(index, request)
                    index += 1
                    continue
                body = to_json(request)
                first = request_key(request.kind, body)
                key = request_key(request.kind, body, occurrences[first])
                occurrences[first] += 1
                jobs.append(_Job(index, key, request, body))
                index += 1
            self.progress.seen += len(jobs)
            entries = await self.journal.get_many([j.key for j in jobs])
            fresh = [(j.key, j.request.kind, j.body) for j in jobs if j.key not in entries]
            if fresh:
                await self.journal.mark_pending_many(fresh)
            for job in jobs:
                self._admit(job, entries.get(job.key))
            self.wake_dispatcher.set()
            while len(self.queue) > 4 * self.runner.concurrency + _CHUNK:
                self.room_for_intake.clear()
                await self.room_for_intake.wait()
        self.intake_done = True
        self.wake_dispatcher.set()

    def _reject(self, index: int, request: Any) -> None:
        """A request that is not a generation: reported as failed, never sent."""
        self.progress.seen += 1
        error = ValidationError(
            "request",
            f"{type(request).__name__} is not a generation request the runner can submit",
        )
        self._emit(
            Outcome(index=index, key="", request=request, state=OutcomeState.FAILED,
                    error=error, error_type="ValidationError", error_message=str(error))
        )  # fmt: skip

    def _admit(self, job: _Job, entry: JournalEntry | None) -> None:
        state = entry.state if entry is not None else JournalState.PENDING
        job.trace_id = entry.trace_id if entry is not None else None
        if self.shared is not None and state in _UNFINISHED:
            # Sent or polled once this worker claims it. SENDING too: a living worker (maybe
            # this one) is sending it; a dead worker's send becomes UNKNOWN at its take-over.
            self.shared.admit(job)
        elif state is JournalState.PENDING:
            self.queue.append(job)
        elif state is JournalState.SUBMITTED:
            assert entry is not None
            self._resume_polling(job, entry)
        else:
            assert entry is not None
            self._emit_entry(job, entry)
        self._changed()

    def _resume_polling(self, job: _Job, entry: JournalEntry) -> None:
        """Poll a request an earlier run (or another worker) submitted; with a hub that
        hears its events, watch it too (like a fresh submit: polled only by the safety net)."""
        assert entry.video_id is not None
        job.video_id = entry.video_id
        job.resumed = True
        self._count_charge(job, entry.credits)
        self.in_flight += 1
        job.slot = True
        # Poll at once (it may have ended while no run listened), time out like a fresh job.
        # A SUBMITTED entry's last change is its submit.
        now, hub = self.loop.time(), self.videos._hub_for(job.request)
        job.submitted_at = now - max(0.0, time.time() - entry.updated_at)
        if hub is None:
            job.schedule = PollSchedule.begin(self.runner.poll, now, first_delay=0.0)
        else:
            job.schedule = hub.safety_net.schedule(self.runner.poll, now, first_delay=0.0)
            watch = hub.register(entry.video_id)
            self._watch(job, watch)
            if watch.done():
                return  # the hub had its end already: resolved without a poll
        self._schedule_poll(job, job.schedule.first_poll_at())

    def _count_charge(self, job: _Job, credits: int | None) -> None:
        """The one place a request's charge is counted: ``credits`` (None: not known here) is
        what the service charged for it; a request of this run's input is counted in the
        progress once, whoever submitted it (this run, an earlier one, another worker)."""
        if job.credits is None:
            job.credits = credits
        if job.credits is not None and job.index >= 0 and not job.counted:
            job.counted = True
            self.progress.credits_charged += job.credits

    def _emit_entry(self, job: _Job, entry: JournalEntry) -> None:
        """Report a request whose outcome the journal holds (SUCCEEDED, FAILED, UNKNOWN; or
        PENDING, ended not submitted by another worker's run)."""
        state = entry.state
        self._count_charge(job, entry.credits if state is not JournalState.PENDING else None)
        if state is JournalState.PENDING:
            self._emit(
                Outcome(index=job.index, key=job.key, request=job.request,
                        state=OutcomeState.NOT_SUBMITTED, error_type=entry.error_type,
                        error_message=entry.error_message, resumed=True)
            )  # fmt: skip
        elif state is JournalState.SUCCEEDED:
            video = from_json(Video, entry.result) if entry.result else None
            self._emit(
                Outcome(index=job.index, key=job.key, request=job.request,
                        state=OutcomeState.SUCCEEDED, video_id=entry.video_id, video=video,
                        resumed=True, credits=job.credits)
            )  # fmt: skip
        else:
            outcome_state = (
                OutcomeState.FAILED if state is JournalState.FAILED else OutcomeState.UNKNOWN
            )
            self._emit(
                Outcome(index=job.index, key=job.key, request=job.request, state=outcome_state,
                        video_id=entry.video_id, error_type=entry.error_type,
                        error_message=entry.error_message, resumed=True, credits=job.credits,
                        credits_refunded=_refund(job.credits, outcome_state, entry.error_type))
            )  # fmt: skip

    # Dispatcher: submit while there is room -----------------------------------------------

    async def _dispatch(self) -> None:
        while True:
            # Cleared before looking, not before waiting: a wake-up that arrives while this
            # pass awaits (the spending cap asks the journal) is not lost.
            self.wake_dispatcher.clear()
            if self.failure is not None:
                raise self.failure
            now = self.loop.time()
            wait_for: float | None = None
            while self.queue and (
                self.refused_all is not None  # ended unsent, whatever the room
                or (
                    self.in_flight < max(1, int(self.target))
                    and (self.shared is None or self.shared.may_send())
                )
            ):
                job = self.queue[0]
                if job.not_before > now and self.refused_all is None:
                    wait_for = job.not_before - now
                    break
                self.queue.popleft()  # before any await: the queue's head may change meanwhile
                # A late resend keeps its reservation: it may have been charged already.
                if self.refused_all is not None or (not job.late_resends and self.cap is not None):
                    verdict = await self._afford(job)
                    if verdict is Verdict.WAIT:
                        self.queue.appendleft(job)
                        break
                    if verdict is Verdict.CAP:
                        continue
                self.in_flight += 1
                self.progress.submitting += 1
                job.slot = job.submitting = True
                if self.shared is not None:
                    self.shared.spend()
                self._spawn(self._submit(job))
            if len(self.queue) <= 4 * self.runner.concurrency:
                self.room_for_intake.set()
            if self.shared is not None and len(self.queue) <= self.runner.concurrency // 2:
                self.shared.poke()  # claim more
            if (
                self.intake_done
                and not self.queue
                and self.in_flight == len(self.lingering)  # nothing left to send for them
                and (self.shared is None or self.shared.idle)
            ):
                return
            if wait_for is None:
                await self.wake_dispatcher.wait()
            else:
                await _wait_for_event(self.wake_dispatcher, wait_for)

    def _release(self) -> None:
        self.in_flight -= 1
        self.wake_dispatcher.set()

    async def _afford(self, job: _Job) -> Verdict:
        """Whether the request taken off the queue's head may be sent; one ended for lack of
        credits (CAP) is reported here, one to send (SEND) keeps its reservation. With a
        PostgreSQL journal the cap is the batch's, shared by its workers (the decision and
        the reservation are made against the journal's record: ``SharedBatch.reserve``)."""
        if self.refused_all is not None:
            error: PixVerseError = self.refused_all
        else:
            assert self.cap is not None
            if self.shared is not None:
                verdict = await self.shared.reserve(job, self.cap)
            else:
                verdict, amount = self.cap.decide(
                    job.request.kind, job.body, in_flight=self.in_flight
                )
                if verdict is Verdict.SEND:
                    self.cap.reserve(amount, job.request.kind, job.body)
                    job.reserved = amount
            if verdict is not Verdict.CAP:
                return verdict
            error = self.cap.error(job.request.kind, job.body)
        await self._end(
            job, OutcomeState.NOT_SUBMITTED, error=error,
            record=lambda: self.journal.mark_held(job.key, type(error).__name__, str(error)),
        )  # fmt: skip
        return Verdict.CAP

    async def _unreserve(self, job: _Job) -> None:
        """The request was not charged: give its reservation back."""
        if self.cap is not None:
            self.cap.release(job.reserved, job.request.kind, job.body)
            if self.shared is not None:
                await self.shared.release(job)
        job.reserved = 0

    async def _submit(self, job: _Job) -> None:
        # Generated once, at the first send; a later send (a hold, a requeued UNKNOWN entry)
        # is a resend under it, which PixVerse answers with the first result if there was one.
        trace_id = job.trace_id = job.trace_id or str(uuid.uuid4())
        job.attempts += 1
        if self.shared is None:
            entry = await self.journal.mark_sending(job.key, trace_id)
            trace_id = job.trace_id = entry.trace_id or trace_id
        elif await self.shared.mark_sending(job, trace_id):
            trace_id = job.trace_id or trace_id
        else:
            # The account's shared limit is full: back to the queue until something finishes.
            await self._unreserve(job)
            job.attempts -= 1
            self._give_back(job)
            self.queue.appendleft(job)
            self._changed()
            return
        try:
            resp, watch = await self.videos._submit_watched(
                job.request,
                max_retries=0,
                trace_id=trace_id,
                on_resend=lambda: self.journal.mark_resent(job.key),
            )
        except JournalError:  # recording a resend failed: stop the run, the entry stays SENDING
            raise
        except RateLimitError as exc:  # the service did not act: hold and try later
            await self._unreserve(job)
            await self.journal.mark_not_sent(job.key, type(exc).__name__, str(exc))
            self._hold(job, exc)
            return
        except InsufficientCreditsError as exc:  # nothing charged; nor will the rest be sent
            await self._unreserve(job)
            self.refused_all = exc
            await self._end(
                job, OutcomeState.NOT_SUBMITTED, error=exc, record=self._not_sent(job, exc)
            )
            return
        except SubmissionUnknownError as exc:
            if self._may_resend_later(job):
                # Recorded, then pending again under its trace id: the next send is a resend
                # that PixVerse answers with the first result (a run stopped meanwhile leaves
                # it pending, and the next run resends it).
                await self.journal.mark_unknown(job.key, exc.trace_id, str(exc))
                await self.journal.requeue(job.key)
                job.late_resends += 1
                self._hold(job, exc)
                return
            self._settle(job, None)
            record = self._unknown(job, exc.trace_id, exc)
            await self._end(job, OutcomeState.UNKNOWN, error=exc, record=record)
            return
        except TransportError as exc:  # the connection was never made
            await self._unreserve(job)
            await self._not_sent(job, exc)()
            if job.attempts <= self.runner.hold.max_retries:
                self._hold(job, exc)
                return
            self._leave_unfinished(job)  # PENDING: the next run sends it
            await self._end(job, OutcomeState.FAILED, error=exc)
            return
        except PixVerseError as exc:
            await self._unreserve(job)
            if isinstance(exc, AuthenticationError):  # the key: no other send would do better
                self.refused_all = self.refused_all or exc
            if nothing_generated(exc):  # PENDING, its error kept: the next run sends it
                self._leave_unfinished(job)
                await self._end(
                    job, OutcomeState.FAILED, error=exc, record=self._not_sent(job, exc)
                )
            else:
                await self._end(job, OutcomeState.FAILED, error=exc, record=self._failed(job, exc))
            return
        try:
            result = from_json(GenerationResult, resp)
        except PixVerseError as exc:  # accepted, but no id we can read: ambiguous
            self._settle(job, None)
            if watch is not None:
                watch.close()
            record = self._unknown(job, trace_id, exc)
            await self._end(job, OutcomeState.UNKNOWN, error=exc, record=record)
            return
        job.video_id = result.video_id
        job.submitted_at = self.loop.time()
        self._settle(job, result.credits)
        await self.journal.mark_submitted(job.key, result.video_id, result.credits)
        if self.shared is not None and self.cap is not None and result.credits is not None:
            await self.shared.release(job)  # the journal has its cost now
        job.submitting = False
        self.progress.submitting -= 1
        self.hold_streak = 0
        if self.shared is not None:
            self.shared.submit_accepted()
        elif self.target < self.runner.concurrency:
            self.target = grown(self.target, self.runner.concurrency)
        learner = self.runner.learner
        key = learning_key(job.request) if learner is not None else None
        hub = self.videos.webhooks
        if watch is not None and hub is not None:
            job.schedule = hub.safety_net.schedule(
                self.runner.poll, self.loop.time(), learner=learner, key=key
            )
            self._watch(job, watch)
        else:
            job.schedule = PollSchedule.begin(
                self.runner.poll, self.loop.time(), learner=learner, key=key
            )
        self._schedule_poll(job, job.schedule.first_poll_at())
        self._changed()

    def _may_resend_later(self, job: _Job) -> bool:
        """Whether a submit whose outcome stayed unknown through the session's resends is
        held and resent later in this run (the network may have recovered by then): with
        resends on, up to ``hold.max_retries`` times; not on a PostgreSQL batch, whose
        other workers could claim the requeued entry meanwhile."""
        return (
            self.shared is None
            and self.videos._session.retry.resends > 0
            and job.late_resends < self.runner.hold.max_retries
        )

    def _settle(self, job: _Job, credits: int | None) -> None:
        """The service answered (``credits``: the cost it said) or may have acted: the
        reservation becomes a charge."""
        self._count_charge(job, credits)
        if self.cap is not None:
            self.cap.settle(job.reserved, credits, job.request.kind, job.body)
            job.reserved = 0
            self.wake_dispatcher.set()  # an estimate above the cost leaves room

    # Webhook events: the hub ends a watched job; its safety-net poll then finds it ended --

    def _watch(self, job: _Job, watch: CompletionWatch) -> None:
        job.watch = watch
        self.watched.add(job)
        watch.add_done_callback(lambda event: self._spawn(self._resolve_event(job, event)))

    async def _resolve_event(self, job: _Job, event: WebhookEvent) -> None:
        if self._late(job):
            return
        if job.schedule is not None:
            job.schedule.finished(self.loop.time(), exact=True)
        await self._resolve(job, event.to_video(), event.video_json())

    def _end_watch(self, job: _Job, video: Video | None = None) -> None:
        if job.watch is not None:
            if video is None:
                job.watch.close()
            else:
                job.watch.settle(video)
            self.watched.discard(job)

    def _hold(self, job: _Job, exc: PixVerseError) -> None:
        """Put a request the service did not act on back at the head of the queue."""
        self._give_back(job)
        if isinstance(exc, RateLimitError):
            self.progress.limit_answers += 1
            if self.shared is not None:
                self.shared.limit_answered()  # the account's target, shared by all workers
            else:
                # The service accepted what is in flight now; aim there, at least one.
                self.target = shrunk(self.in_flight)
        # The one retry formula (full jitter, or the service's Retry-After), counted in holds
        # in a row; the dispatcher, not a sleeping loop, sends the request again.
        self.hold_streak += 1
        delay = self.runner.hold.wait(self.hold_streak, getattr(exc, "retry_after", None))
        if self.in_flight > 0 and isinstance(exc, RateLimitError) and exc.retry_after is None:
            # a finishing job frees a slot sooner; a Retry-After (a request-rate limit) is waited
            delay = min(delay, self.runner.hold.base_delay)
        job.not_before = self.loop.time() + delay
        self.queue.appendleft(job)
        self.wake_dispatcher.set()
        self._changed()

    # The end of a job: one step, whoever ends it ----------------------------------------

    async def _end(
        self, job: _Job, state: OutcomeState, *, error: PixVerseError | None = None,
        video: Video | None = None, record: Callable[[], Awaitable[object]] | None = None,
    ) -> None:  # fmt: skip
        """End ``job``: the one step every end goes through (a poll, a webhook event or the
        relay, a refusal, the spending cap; a take-over's or another worker's end comes from
        the journal, already recorded).

        The first end decided wins: a later one is dropped and counted (:meth:`_late`). The
        winner's journal transition (``record``) is made here, then the job's place is given
        back and its outcome emitted, each once. A job reported timed out already (see
        :meth:`_stop_waiting`) ends without a second outcome: the journal records its real
        end (``record``), or, when the service no longer counts it, keeps it SUBMITTED.
        """
        if self._late(job):
            return
        job.ended = True
        self._end_watch(job, video)
        if record is not None:
            await record()
        self._give_back(job)
        if job in self.lingering:
            self.lingering.discard(job)
            self.progress.watched_after_timeout -= 1
            self._changed()
        elif not job.reported:
            job.reported = True
            self._emit(self._outcome(job, state, error=error, video=video))

    def _late(self, job: _Job) -> bool:
        """Whether ``job``'s end was decided already; what arrived now is then dropped (and
        counted)."""
        if job.ended:
            self.progress.ends_dropped += 1
        return job.ended

    def _give_back(self, job: _Job) -> None:
        """Give back what ``job`` holds: its place among the submitting, its in-flight slot."""
        if job.submitting:
            job.submitting = False
            self.progress.submitting -= 1
        if job.slot:
            job.slot = False
            self._release()

    async def _stop_waiting(self, job: _Job, error: PixVerseError) -> None:
        """``job`` passed its timeout: report it failed (``error``, a JobTimeoutError), but
        keep its place and watch it at the safety net's pace: the service is still generating
        it. Its real end is then recorded by :meth:`_end`; or, 10 minutes after its submit
        (when PixVerse stops counting it against the account's limit), it is let go."""
        job.reported = True
        self.lingering.add(job)
        self.progress.watched_after_timeout += 1
        self._leave_unfinished(job)
        self._emit(self._outcome(job, OutcomeState.FAILED, error=error))
        now = self.loop.time()
        hub = self.videos.webhooks
        net = self.runner.safety_net or (hub.safety_net if hub is not None else SafetyNet())
        submitted = now if job.submitted_at is None else job.submitted_at
        released = submitted + Limits.SLOT_RELEASE_SECONDS - now
        if released <= 0:  # PixVerse no longer counts it: nothing to watch for
            await self._end(job, OutcomeState.FAILED)
            return
        policy = attrs.evolve(self.runner.poll, timeout=released)
        job.schedule = net.schedule(policy, now, first_delay=net.interval)
        self._schedule_poll(job, job.schedule.first_poll_at())
        self.wake_dispatcher.set()  # only watched jobs may be left: the run may be over

    def _leave_unfinished(self, job: _Job) -> None:
        """``job`` is reported, its journal entry left PENDING or SUBMITTED: on PostgreSQL it
        is given back to the batch when the run ends (another worker or run takes it)."""
        if self.shared is not None:
            self.shared.left.add(job.key)

    def _not_sent(self, job: _Job, exc: PixVerseError) -> Callable[[], Awaitable[object]]:
        return lambda: self.journal.mark_not_sent(job.key, type(exc).__name__, str(exc))

    def _failed(self, job: _Job, exc: PixVerseError) -> Callable[[], Awaitable[object]]:
        return lambda: self.journal.mark_failed(job.key, type(exc).__name__, str(exc))

    def _unknown(
        self, job: _Job, trace_id: str | None, exc: PixVerseError
    ) -> Callable[[], Awaitable[object]]:
        return lambda: self.journal.mark_unknown(job.key, trace_id, str(exc))

    def _outcome(
        self, job: _Job, state: OutcomeState, *, error: PixVerseError | None = None,
        video: Video | None = None,
    ) -> Outcome:  # fmt: skip
        """The outcome of a job this run handled; a refund it carries is counted by the cap."""
        error_type = type(error).__name__ if error is not None else None
        refunded = _refund(job.credits, state, error_type)
        if refunded and self.cap is not None:
            self.cap.refund(refunded)
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

    # Poll scheduler: one task polls whatever is due ----------------------------------------

    def _schedule_poll(self, job: _Job, at: float) -> None:
        heapq.heappush(self.poll_heap, (at, next(self.seq), job))
        self.wake_poller.set()

    async def _poll_scheduler(self) -> None:
        slots = asyncio.Semaphore(self.runner.poll_concurrency)
        rate = self.runner.max_status_per_second
        spacing = 1.0 / rate if rate else 0.0
        next_allowed = 0.0
        while True:
            now = self.loop.time()
            while self.poll_heap and self.poll_heap[0][0] <= now:
                if spacing and next_allowed > now:
                    break
                _, _, job = heapq.heappop(self.poll_heap)
                await slots.acquire()
                self._spawn(self._poll(job, slots))
                if spacing:
                    next_allowed = max(next_allowed, now) + spacing
                now = self.loop.time()
            if self.poll_heap:
                wait = max(self.poll_heap[0][0], next_allowed) - self.loop.time()
            else:
                wait = None
            self.wake_poller.clear()
            if wait is None:
                await self.wake_poller.wait()
            elif wait > 0:
                await _wait_for_event(self.wake_poller, wait)

    async def _poll(self, job: _Job, slots: asyncio.Semaphore) -> None:
        try:
            await self._poll_once(job)
        finally:
            slots.release()

    async def _poll_once(self, job: _Job) -> None:
        assert job.video_id is not None
        if job.ended:
            return
        self.progress.status_requests += 1
        try:
            video, raw = await self.videos._status_raw(job.video_id)
        except TRANSIENT_POLL_ERRORS as exc:
            if self._late(job):
                return
            logger.debug("status of video %s failed, polling on: %s", job.video_id, exc)
            await self._poll_again(job, getattr(exc, "retry_after", None) or 0.0)
            return
        except PixVerseError as exc:
            if self._late(job):
                return
            if about_the_caller(exc):
                # A wrong key, say: the generation may be running or done, as the right key
                # would see. Reported failed; the journal keeps it SUBMITTED for the next run.
                if isinstance(exc, AuthenticationError):
                    self.refused_all = self.refused_all or exc
                    self.wake_dispatcher.set()
                self._leave_unfinished(job)
                await self._end(job, OutcomeState.FAILED, error=exc)
                return
            await self._end(job, OutcomeState.FAILED, error=exc, record=self._failed(job, exc))
            return
        if self._late(job):  # ended while this answer was on its way (its webhook event)
            return
        job.last_status = video.status
        if not video.status.is_terminal:
            await self._poll_again(job)
            return
        assert job.schedule is not None
        job.schedule.finished(self.loop.time())
        await self._resolve(job, video, raw)

    async def _resolve(self, job: _Job, video: Video, raw: dict[str, Any]) -> None:
        """End a submitted job with its terminal status (``raw``: the status answer's JSON),
        whoever learnt it (its poll, its webhook event), through :meth:`_end`."""
        try:
            raise_for_terminal(video)
        except PixVerseError as exc:
            await self._end(
                job, OutcomeState.FAILED, error=exc, video=video, record=self._failed(job, exc)
            )
            return
        await self._end(
            job, OutcomeState.SUCCEEDED, video=video,
            record=lambda: self.journal.mark_succeeded(job.key, raw),
        )  # fmt: skip

    async def _poll_again(self, job: _Job, retry_after: float = 0.0) -> None:
        """Schedule the next poll, no sooner than ``retry_after`` (a rate limit's ask)."""
        assert job.schedule is not None and job.video_id is not None
        now = self.loop.time()
        due = job.schedule.after_poll(now)
        if due is not None:
            self._schedule_poll(job, max(due, now + retry_after))
        elif job.reported:  # 10 minutes since its submit: the service no longer counts it
            logger.info("video %s still generating after 10 minutes: no longer watched",
                        job.video_id)  # fmt: skip
            await self._end(job, OutcomeState.FAILED)  # the journal keeps it SUBMITTED
        else:
            timeout = job.schedule.timeout_error(job.video_id, job.last_status, now)
            await self._stop_waiting(job, timeout)


def _refund(credits: int | None, state: OutcomeState, error_type: str | None) -> int:
    """The credits given back for a request that ended so (failed or moderated: all)."""
    if credits is not None and state is OutcomeState.FAILED and is_refunded(error_type):
        return credits
    return 0


async def _chunks(
    requests: Iterable[Any] | AsyncIterable[Any], size: int
) -> AsyncIterator[list[Any]]:
    chunk: list[Any] = []
    if isinstance(requests, AsyncIterable):
        async for item in requests:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    else:
        for item in requests:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
                await asyncio.sleep(0)
    if chunk:
        yield chunk
