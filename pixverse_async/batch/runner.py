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
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..jobs.polling import PollLearner, PollPolicy, SafetyNet
from ..journal import Journal
from ..retry import RetryPolicy
from .costs import CostEstimator
from .outcomes import Outcome, OutcomeState, Progress
from .run import DONE, Run
from .spending import SpendingCap

if TYPE_CHECKING:
    from ..endpoints.videos import Videos

__all__ = ["HOLD", "REPORTS", "JobRunner", "Outcome", "OutcomeState", "Progress", "RunStream"]


#: The values of ``JobRunner(report=...)``.
REPORTS = frozenset(("all", "own"))

#: The default hold after a limit answer or a connection never made: 0.5 s doubling to 10 s
#: (full jitter), and 7 resubmits after connection failures before the request fails.
HOLD = RetryPolicy(max_retries=7, base_delay=0.5, max_delay=10.0)


class JobRunner:
    """Runs many generations with bounded concurrency; see the module docstring.

    - ``concurrency``: generations in flight at most (submitted and not yet finished).
    - ``journal``: a :class:`~pixverse_async.journal.Journal`, a path to one (opened and
      closed by the runner), or None for an in-memory journal (no resume across processes).
    - ``poll``: the polling policy (the client's by default); ``poll.timeout`` per job,
      counted from its submit (or, for a job resumed from the journal, from the resume).
    - ``learner``: learns each kind of job's typical generation time and polls first near it
      (:class:`~pixverse_async.jobs.polling.PollLearner`): True (default) for a learner of the
      runner's own, kept across its runs; a learner to share (``job.wait(learner=...)``);
      False to poll by the policy alone.
    - ``max_status_per_second``: a cap on status requests across all jobs.
    - ``safety_net``: how a job is watched once the run stopped waiting for it (its
      ``poll.timeout`` passed): the client hub's :class:`~pixverse_async.jobs.polling.SafetyNet`
      by default, else ``SafetyNet()``. See "One end per job" below.
    - ``on_progress``: called with a :class:`Progress` after every change.
    - ``max_credits``: a spending cap (:mod:`pixverse_async.batch.spending`): no request is sent
      that could take the spend recorded in the journal (this run's and earlier runs'; with
      a PostgreSQL journal, every worker's of the batch: the cap is the batch's) over it;
      the requests that do not fit end :attr:`OutcomeState.NOT_SUBMITTED`.
    - ``costs``: the :class:`~pixverse_async.batch.costs.CostEstimator` the cap estimates unknown
      costs with (PixVerse's published prices by default; give it a ``price`` function for
      the rest); it learns the costs the service answers. Under the cap a request nothing
      can price is not sent (it ends NOT_SUBMITTED saying so), unless ``allow_unpriced``:
      then one per kind is sent alone to learn its price, and may cost more than is left.

    A submit answered with insufficient balance (500090) charged nothing: that request and
    every one not yet sent end :attr:`OutcomeState.NOT_SUBMITTED`; the submitted ones are
    awaited.

    With a webhook hub on the client (``PixVerse(webhooks=hub)``), each job sent with a
    webhook ends when its event reaches the hub, and is polled only by the hub's
    :class:`~pixverse_async.jobs.polling.SafetyNet` (so a lost delivery still ends it); with a
    relay on the hub (:mod:`pixverse_async.webhooks.relay`), also when another process
    received the delivery or polled the end (an end this run's poll found is published in
    turn). A job resumed from the journal is polled once at once, then watched the same way.
    - ``batch``: with a ``postgresql://`` journal URL, the batch name that cooperating
      workers share (see :mod:`pixverse_async.batch.coordination`); with a PostgreSQL
      journal, ``concurrency`` is the account's limit shared by all its workers.
    - ``report``: with a PostgreSQL journal, ``"all"`` (default) reports one outcome per
      request of the input, whoever ran it; ``"own"`` reports only the outcomes this worker
      produced (what another worker ran, or an earlier run finished, is counted in
      :attr:`Progress.elsewhere` and not read back from the journal), so a worker's cost
      does not grow with the number of workers. Across the workers of a batch each request
      is then reported once; ``pixverse journal status`` shows the batch as a whole.

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
        report: str = "all",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if report not in REPORTS:
            raise ValueError(f"report must be one of {sorted(REPORTS)}, got {report!r}")
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
        self.report = report

    def run(self, requests: Iterable[Any] | AsyncIterable[Any]) -> RunStream:
        """Outcomes in completion order, as an async iterator and async context manager."""
        return RunStream(Run(self, self._videos, requests))

    async def gather(self, requests: Iterable[Any] | AsyncIterable[Any]) -> list[Outcome]:
        """Run everything and return the outcomes in input order."""
        outcomes: list[Outcome] = []
        async with self.run(requests) as stream:
            async for outcome in stream:
                outcomes.append(outcome)
        outcomes.sort(key=lambda o: o.index)
        return outcomes


class RunStream:
    """The outcomes of one run. Leaving ``async with`` (or ``aclose()``) stops the run:
    its tasks are cancelled and awaited; what was submitted stays in the journal."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def progress(self) -> Progress:
        """The run's counts so far."""
        return self._run.state.progress

    def __aiter__(self) -> AsyncIterator[Outcome]:
        return self

    async def __anext__(self) -> Outcome:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run.main())
        item = await self._run.state.results.get()
        self._run.state.room_for_intake.set()  # the intake waits for a slow consumer
        if item is DONE:
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
