"""Polling a run's submitted jobs: one scheduler task polls whatever is due.

Each submitted job gets a poll schedule (the runner's policy, its learner, or the webhook
hub's safety net when an event is expected); the scheduler pops due jobs off one heap, polls
them at most ``poll_concurrency`` at a time (and ``max_status_per_second``), and hands a
terminal status, or a webhook event, to :meth:`Ends.end <.ends.Ends.end>`.

Example (what the dispatcher does once the service accepted a job)::

    poller.begin(job, watch)  # its schedule, its webhook watch, its first poll
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import TYPE_CHECKING, Any

import attrs

from ..constants import Limits
from ..errors import AuthenticationError, PixVerseError, about_the_caller
from ..jobs.generation_job import raise_for_terminal
from ..jobs.polling import TRANSIENT_POLL_ERRORS, PollSchedule, learning_key
from ..journal import JournalEntry
from ..logs import sdk_logger
from ..models import Video
from ..telemetry.jobs import active
from .ends import Ends
from .outcomes import OutcomeState
from .run_job import RunJob
from .run_state import RunState, wait_for_event

if TYPE_CHECKING:
    from ..webhooks.events import WebhookEvent
    from ..webhooks.hub import CompletionWatch

__all__ = ["Poller"]

logger = sdk_logger("pixverse_async")


class Poller:
    """Schedules, sends and reads the status requests of a run; watches webhook events."""

    def __init__(self, state: RunState, ends: Ends) -> None:
        self.state = state
        self.ends = ends
        self.heap: list[tuple[float, int, RunJob]] = []
        self.seq = itertools.count()

    def begin(self, job: RunJob, watch: CompletionWatch | None) -> None:
        """Start polling a job the service just accepted (``watch``: its webhook watch)."""
        learner = self.state.runner.learner
        key = learning_key(job.request) if learner is not None else None
        hub = self.state.videos.webhooks
        if watch is not None and hub is not None:
            job.schedule = hub.safety_net.schedule(
                self.state.runner.poll, self.state.loop.time(), learner=learner, key=key
            )
            self.watch(job, watch)
        else:
            job.schedule = PollSchedule.begin(
                self.state.runner.poll, self.state.loop.time(), learner=learner, key=key
            )
        self.schedule(job, job.schedule.first_poll_at())

    def schedule(self, job: RunJob, at: float) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), job))
        self.state.wake_poller.set()

    async def run(self) -> None:
        slots = asyncio.Semaphore(self.state.runner.poll_concurrency)
        rate = self.state.runner.max_status_per_second
        spacing = 1.0 / rate if rate else 0.0
        next_allowed = 0.0
        while True:
            now = self.state.loop.time()
            while self.heap and self.heap[0][0] <= now:
                if spacing and next_allowed > now:
                    break
                _, _, job = heapq.heappop(self.heap)
                await slots.acquire()
                self.state.spawn(self._poll(job, slots))
                if spacing:
                    next_allowed = max(next_allowed, now) + spacing
                now = self.state.loop.time()
            if self.heap:
                wait = max(self.heap[0][0], next_allowed) - self.state.loop.time()
            else:
                wait = None
            self.state.wake_poller.clear()
            if wait is None:
                await self.state.wake_poller.wait()
            elif wait > 0:
                await wait_for_event(self.state.wake_poller, wait)

    async def _poll(self, job: RunJob, slots: asyncio.Semaphore) -> None:
        try:
            await self._poll_once(job)
        finally:
            slots.release()

    async def _poll_once(self, job: RunJob) -> None:
        assert job.video_id is not None
        if job.ended:
            return
        self.state.progress.status_requests += 1
        if job.span is not None:
            job.span.polls += 1
        try:
            with active(job.span):
                video, raw = await self.state.videos._status_raw(job.video_id)
        except TRANSIENT_POLL_ERRORS as exc:
            if self.ends.late(job):
                return
            logger.debug(
                "status of video %s failed, polling on: %s",
                job.video_id,
                exc,
                extra={"video_id": job.video_id, "trace_id": getattr(exc, "trace_id", None)},
            )
            await self._poll_again(job, getattr(exc, "retry_after", None) or 0.0)
            return
        except PixVerseError as exc:
            if self.ends.late(job):
                return
            if about_the_caller(exc):
                # A wrong key, say: the generation may be running or done, as the right key
                # would see. Reported failed; the journal keeps it SUBMITTED for the next run.
                if isinstance(exc, AuthenticationError):
                    self.state.refused_all = self.state.refused_all or exc
                    self.state.wake_dispatcher.set()
                self.ends.leave_unfinished(job)
                await self.ends.end(job, OutcomeState.FAILED, error=exc)
                return
            await self.ends.end(
                job, OutcomeState.FAILED, error=exc, record=self.ends.failed(job, exc)
            )
            return
        if self.ends.late(job):  # ended while this answer was on its way (its webhook event)
            return
        job.last_status = video.status
        if not video.status.is_terminal:
            await self._poll_again(job)
            return
        assert job.schedule is not None
        job.schedule.finished(self.state.loop.time())
        await self.resolve(job, video, raw)

    async def resolve(self, job: RunJob, video: Video, raw: dict[str, Any]) -> None:
        """End a submitted job with its terminal status (``raw``: the status answer's JSON),
        whoever learnt it (its poll, its webhook event), through :meth:`.ends.Ends.end`."""
        try:
            raise_for_terminal(video)
        except PixVerseError as exc:
            await self.ends.end(
                job, OutcomeState.FAILED, error=exc, video=video, record=self.ends.failed(job, exc)
            )
            return
        await self.ends.end(
            job, OutcomeState.SUCCEEDED, video=video,
            record=lambda: self.state.journal.mark_succeeded(job.key, raw),
        )  # fmt: skip

    async def _resolve_event(self, job: RunJob, event: WebhookEvent) -> None:
        if self.ends.late(job):
            return
        if job.schedule is not None:
            job.schedule.finished(self.state.loop.time(), exact=True)
        job.ended_by = "relay" if event.relayed else "webhook"
        job.end_link = event.span_context
        await self.resolve(job, event.to_video(), event.video_json())

    async def _poll_again(self, job: RunJob, retry_after: float = 0.0) -> None:
        """Schedule the next poll, no sooner than ``retry_after`` (a rate limit's ask)."""
        assert job.schedule is not None and job.video_id is not None
        now = self.state.loop.time()
        due = job.schedule.after_poll(now)
        if due is not None:
            self.schedule(job, max(due, now + retry_after))
        elif job.reported:  # 10 minutes since its submit: the service no longer counts it
            logger.info(
                "video %s still generating after 10 minutes: no longer watched",
                job.video_id,
                extra={"video_id": job.video_id, "trace_id": job.trace_id},
            )
            await self.ends.end(job, OutcomeState.FAILED)  # the journal keeps it SUBMITTED
        else:
            timeout = job.schedule.timeout_error(job.video_id, job.last_status, now)
            await self.stop_waiting(job, timeout)

    async def stop_waiting(self, job: RunJob, error: PixVerseError) -> None:
        """``job`` passed its timeout: report it failed (``error``, a JobTimeoutError), but
        keep its place and watch it at the safety net's pace: the service is still generating
        it. Its real end is then recorded by :meth:`.ends.Ends.end`; or, 10 minutes after its submit
        (when PixVerse stops counting it against the account's limit), it is let go."""
        job.reported = True
        self.state.lingering.add(job)
        self.state.progress.watched_after_timeout += 1
        self.ends.leave_unfinished(job)
        self.ends.emit(self.ends.outcome(job, OutcomeState.FAILED, error=error))
        now = self.state.loop.time()
        net = self.state.watch_net
        submitted = now if job.submitted_at is None else job.submitted_at
        released = submitted + Limits.SLOT_RELEASE_SECONDS - now
        if released <= 0:  # PixVerse no longer counts it: nothing to watch for
            await self.ends.end(job, OutcomeState.FAILED)
            return
        policy = attrs.evolve(self.state.runner.poll, timeout=released)
        job.schedule = net.schedule(policy, now, first_delay=net.interval)
        self.schedule(job, job.schedule.first_poll_at())
        self.state.wake_dispatcher.set()  # only watched jobs may be left: the run may be over

    def resume(self, job: RunJob, entry: JournalEntry) -> None:
        """Poll a request an earlier run (or another worker) submitted; with a hub that
        hears its events, watch it too (like a fresh submit: polled only by the safety net)."""
        assert entry.video_id is not None
        job.video_id = entry.video_id
        job.resumed = True
        self.ends.count_charge(job, entry.credits)
        self.state.in_flight += 1
        job.slot = True
        # Poll at once (it may have ended while no run listened), time out like a fresh job.
        # A SUBMITTED entry's last change is its submit.
        now, hub = self.state.loop.time(), self.state.videos._hub_for(job.request)
        job.submitted_at = now - max(0.0, time.time() - entry.updated_at)
        if hub is None:
            job.schedule = PollSchedule.begin(self.state.runner.poll, now, first_delay=0.0)
        else:
            job.schedule = hub.safety_net.schedule(self.state.runner.poll, now, first_delay=0.0)
            watch = hub.register(entry.video_id)
            self.watch(job, watch)
            if watch.done():
                return  # the hub had its end already: resolved without a poll
        self.schedule(job, job.schedule.first_poll_at())

    def watch(self, job: RunJob, watch: CompletionWatch) -> None:
        job.watch = watch
        self.state.watched.add(job)
        watch.add_done_callback(lambda event: self.state.spawn(self._resolve_event(job, event)))
