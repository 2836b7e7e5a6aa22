"""What the collaborators of one run share: the settings, the queue, the counts, the tasks.

A run (:mod:`.run`) is its intake, admission, dispatcher, poller and ends; each holds this
state and changes the part that is its job. Nothing here decides anything: it counts, wakes
and spawns.

Example::

    from pixverse_async.batch.run_state import wait_for_event

    async def nap(event):
        await wait_for_event(event, 0.5)  # at most half a second, cancellable
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from ..jobs.polling import SafetyNet
from .outcomes import Progress
from .run_job import RunJob

if TYPE_CHECKING:
    import os

    from ..endpoints.videos import Videos
    from ..errors import PixVerseError
    from ..jobs.polling import PollLearner, PollPolicy
    from ..journal import Journal
    from ..retry import RetryPolicy
    from .coordination import SharedBatch
    from .costs import CostEstimator
    from .spending import SpendingCap

__all__ = ["RunSettings", "RunState", "wait_for_event"]


class RunSettings(Protocol):
    """What a run reads of its :class:`~pixverse_async.batch.runner.JobRunner`."""

    @property
    def concurrency(self) -> int: ...
    @property
    def journal(self) -> Journal | str | os.PathLike[str] | None: ...
    @property
    def batch(self) -> str | None: ...
    @property
    def poll(self) -> PollPolicy: ...
    @property
    def poll_concurrency(self) -> int: ...
    @property
    def max_status_per_second(self) -> float | None: ...
    @property
    def on_progress(self) -> Callable[[Progress], None] | None: ...
    @property
    def hold(self) -> RetryPolicy: ...
    @property
    def learner(self) -> PollLearner | None: ...
    @property
    def safety_net(self) -> SafetyNet | None: ...
    @property
    def max_credits(self) -> int | None: ...
    @property
    def costs(self) -> CostEstimator: ...
    @property
    def allow_unpriced(self) -> bool: ...
    @property
    def report(self) -> str: ...


class RunState:
    """The state of one run, shared by its collaborators."""

    def __init__(self, runner: RunSettings, videos: Videos) -> None:
        self.runner = runner
        self.videos = videos
        hub = videos.webhooks
        #: How a job nobody waits for is watched (one timed out; another batch's generation):
        #: the runner's net, else the client hub's, else the default one.
        self.watch_net: SafetyNet = runner.safety_net or (
            hub.safety_net if hub is not None else SafetyNet()
        )
        self.results: asyncio.Queue[Any] = asyncio.Queue()
        self.progress = Progress(target_concurrency=runner.concurrency)
        self.queue: collections.deque[RunJob] = collections.deque()
        self.in_flight = 0
        #: Sends (in ``in_flight``) asking the account's shared limit for a place (PostgreSQL):
        #: neither running nor submitting in the progress, as long as nothing was sent.
        self.asking = 0
        self.target = float(runner.concurrency)
        self.intake_done = False
        self.wake_dispatcher = asyncio.Event()
        self.wake_poller = asyncio.Event()
        self.room_for_intake = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.hold_streak = 0  # holds in a row since the last accepted submit
        self.journal: Journal
        self.failure: BaseException | None = None
        self.watched: set[RunJob] = set()  # jobs a webhook event may end (the client's hub)
        self.lingering: set[RunJob] = set()  # reported timed out, still watched (see Ends.end)
        self.spanned: set[RunJob] = set()  # jobs whose OpenTelemetry span is not ended yet
        self.loop: asyncio.AbstractEventLoop
        self.cap: SpendingCap | None = None
        # An answer that refuses every send of this run: no balance left (500090), or the
        # API key itself refused. What is queued then ends not submitted, unsent.
        self.refused_all: PixVerseError | None = None
        self.shared: SharedBatch | None = None  # a PostgreSQL journal: cooperating workers

    def changed(self) -> None:
        p = self.progress
        p.running = self.in_flight - p.submitting - self.asking
        p.queued = len(self.queue)
        p.target_concurrency = self.target
        if self.runner.on_progress is not None:
            self.runner.on_progress(p)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
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

    def release(self) -> None:
        self.in_flight -= 1
        self.wake_dispatcher.set()


async def wait_for_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until ``event`` is set or ``timeout`` seconds pass.

    Not ``asyncio.wait_for``: before Python 3.12 it swallows a cancellation that arrives as
    the event is set, and a cancelled run (Ctrl-C) went on polling forever.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((waiter,), timeout=timeout)
    finally:
        waiter.cancel()
