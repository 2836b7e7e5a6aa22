"""Waiting for generations: the job handle (its poll schedule is :mod:`.polling`).

Example::

    from pixverse_async import PollPolicy

    policy = PollPolicy(first_delay=10.0, interval=1.0, factor=2.0, max_delay=5.0, jitter=0.0)
    assert [policy.delay(n) for n in range(5)] == [10.0, 1.0, 2.0, 4.0, 5.0]
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..batch.costs import is_refunded
from ..errors import (
    PixVerseError,
    VideoDeletedError,
    VideoFailedError,
    VideoModeratedError,
)
from ..logs import log_context
from ..models import Video, VideoStatus
from ..telemetry.jobs import waiting
from .polling import (
    TRANSIENT_POLL_ERRORS,
    PollLearner,
    PollPolicy,
    PollSchedule,
    learning_key,
    poll_until_done,
)

if TYPE_CHECKING:
    from ..telemetry.jobs import JobSpan
    from .sources import EventWatch, VideoSource

__all__ = ["TRANSIENT_POLL_ERRORS", "GenerationJob", "PollPolicy", "raise_for_terminal"]


def raise_for_terminal(video: Video) -> Video:
    """Return a successful video; raise the typed error of a failed, moderated or deleted one."""
    status = video.status
    if status == VideoStatus.SUCCESSFUL:
        return video
    if status == VideoStatus.FAILED:
        raise VideoFailedError(
            f"video {video.id} failed to generate", video_id=video.id, status=status
        )
    if status == VideoStatus.MODERATION_FAILED:
        raise VideoModeratedError(
            f"video {video.id} failed content moderation", video_id=video.id, status=status
        )
    if status == VideoStatus.DELETED:
        raise VideoDeletedError(f"video {video.id} was deleted", video_id=video.id, status=status)
    raise ValueError(f"status {status!r} is not terminal")


class GenerationJob:
    """A submitted generation: its ``video_id`` and ``credits``, and a way to wait for it.

    Example::

        job = await client.videos.text_to_video(prompt="a fox", model="v5", duration=5,
                                                quality="540p", aspect_ratio="16:9")
        video = await job.wait()          # raises VideoFailedError, VideoModeratedError, ...
    """

    __slots__ = (
        "__weakref__", "_ended_by", "_span", "_unwatch", "_videos", "_watch", "credits",
        "last_video", "request", "submitted_at", "video_id", "webhook_id",
    )  # fmt: skip

    def __init__(
        self,
        videos: VideoSource,
        video_id: int,
        *,
        credits: int | None = None,
        request: Any = None,
        webhook_id: str | None = None,
        watch: EventWatch | None = None,
        span: JobSpan | None = None,
    ) -> None:
        self._videos = videos
        #: The job's OpenTelemetry span (None: telemetry off), ended with the job.
        self._span = span
        self._ended_by: tuple[str, Any] = ("poll", None)
        self.video_id = video_id
        self.credits = credits
        self.request = request
        #: The webhook PixVerse notifies about this generation (None: sent without one).
        self.webhook_id = webhook_id
        self._watch: EventWatch | None = None
        self._unwatch: weakref.finalize[[], GenerationJob] | None = None
        self.watch = watch
        self.last_video: Video | None = None
        self.submitted_at = time.monotonic()

    @property
    def watch(self) -> EventWatch | None:
        """The client's hub watching for this video's event (None: ``wait`` polls).

        Closed (and forgotten by the hub) when the job object is dropped, so that a job nobody
        waits for holds nothing and its event goes to the hub's user as unclaimed.
        """
        return self._watch

    @watch.setter
    def watch(self, watch: EventWatch | None) -> None:
        if self._unwatch is not None:
            self._unwatch.detach()
            self._unwatch = None
        self._watch = watch
        if watch is not None:
            self._unwatch = weakref.finalize(self, watch.close)
            self._unwatch.atexit = False

    def __del__(self) -> None:
        # A job dropped unwaited: its span ends (``dropped``), its in-flight count with it.
        span = getattr(self, "_span", None)
        if span is not None:
            span.dropped()

    def __repr__(self) -> str:
        return (
            f"GenerationJob(video_id={self.video_id}, credits={self.credits}, "
            f"webhook_id={self.webhook_id!r})"
        )

    async def status(self) -> Video:
        """Fetch the current status once."""
        self.last_video = await self._videos.get(self.video_id)
        return self.last_video

    async def wait(
        self, policy: PollPolicy | None = None, *, learner: PollLearner | None = None
    ) -> Video:
        """Poll until the generation ends; return the video or raise its typed error.

        Raises :class:`~pixverse_async.errors.JobTimeoutError` (carrying the last seen status)
        when ``policy.timeout`` passes, counted from this call; the generation keeps running
        and ``wait`` may be called again. With a :class:`~pixverse_async.jobs.polling.PollLearner`
        (e.g. a runner's ``learner``), the first poll comes when similar jobs are typically
        done, and this job teaches it too. Cancelling the awaiting task stops polling at once.

        A job submitted through a client with a webhook hub (``PixVerse(webhooks=hub)``, and
        a ``webhook_id``) ends as soon as its event arrives, without a status request; until
        then it is polled only by the hub's :class:`~pixverse_async.jobs.polling.SafetyNet`, so a
        lost delivery still ends it. The video then carries what the event said (id, status,
        URL; ``size`` unset: see :class:`~pixverse_async.webhooks.WebhookEvent`). An end the
        safety net's poll found is handed on to the hub's other watches of the video (with a
        relay, in every process), so they end without a status request of their own. A wait
        cancelled before the event closes the watch: the event, when it comes, goes to the
        hub's ``on_unclaimed`` / ``unclaimed()``; waiting again watches anew (an event the
        hub retained ends it at once).
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        submitted = now - (time.monotonic() - self.submitted_at)
        key = learning_key(self.request) if learner is not None else None
        watch, hub = self.watch, self._videos.webhooks
        if watch is not None and hub is not None and watch.closed and not watch.done():
            watch = self.watch = hub.register(self.video_id)  # its earlier wait was cancelled
        if watch is not None and hub is not None:
            # The event ends the wait; polls are only the hub's safety net.
            schedule = hub.safety_net.schedule(
                policy or self._videos.poll, now, submitted=submitted, learner=learner, key=key
            )
        else:
            schedule = PollSchedule.begin(
                policy or self._videos.poll, now, submitted=submitted, learner=learner, key=key
            )
        try:
            with log_context(video_id=self.video_id):
                video = await self._until_end(schedule, news=None if watch is None else self._news)
        except asyncio.CancelledError:
            if watch is not None and not watch.done():
                watch.close()  # nobody waits for the event now: it is the hub user's
            raise
        if watch is not None:
            watch.settle(video)  # a later event for it is a repeat, not the user's
        return self._ended(video)

    async def _follow(
        self,
        schedule: PollSchedule,
        *,
        news: Callable[[float], Awaitable[Video | None]] | None = None,
    ) -> Video:
        """:meth:`wait` on a schedule the caller began, ``news`` awaited between polls in
        place of a sleep (the Temporal activity's, which heartbeats); no webhook watch."""
        return self._ended(await self._until_end(schedule, news=news))

    async def _until_end(
        self,
        schedule: PollSchedule,
        *,
        news: Callable[[float], Awaitable[Video | None]] | None,
    ) -> Video:
        """The terminal video; a wait cancelled, timed out or failed ends the span so."""
        with waiting(self._span):
            return await poll_until_done(
                self.status if self._span is None else self._traced_status,
                schedule,
                is_done=lambda video: video.status.is_terminal,
                job_id=self.video_id,
                status_of=lambda video: video.status,
                news=news,
            )

    def _ended(self, video: Video, by: str | None = None) -> Video:
        """``video`` (terminal) if successful, else its typed error; the span ends with it
        (``by``: how its end was learned, when not by this job's poll or event)."""
        if by is not None:
            self._ended_by = (by, None)
        self.last_video = video
        try:
            ended = raise_for_terminal(video)
        except PixVerseError as exc:
            self._end_span(status=video.status.name, error=exc)
            raise
        self._end_span(status=video.status.name)
        return ended

    def _hand_off(self) -> None:
        """The job's end is learned elsewhere (the Temporal completer): its span ends here,
        ``handed_off``, still generating."""
        self._end_span("handed_off", status="GENERATING")

    async def _traced_status(self) -> Video:
        assert self._span is not None
        self._ended_by = ("poll", None)
        return await self._span.poll(self.status)

    def _end_span(
        self, ended_by: str | None = None, *, status: str | None = None, error: Any = None
    ) -> None:
        if self._span is None:
            return
        how, link = self._ended_by
        refunded = self.credits if is_refunded(type(error).__name__) else None
        self._span.end(ended_by or how, status=status, error=error, refunded=refunded, link=link)

    async def _news(self, seconds: float) -> Video | None:
        """The video the webhook event tells of, if it arrives within ``seconds``."""
        assert self.watch is not None
        event = await self.watch.wait(seconds)
        if event is None:
            return None
        if self._span is not None:
            how = "relay" if getattr(event, "relayed", False) else "webhook"
            self._ended_by = (how, getattr(event, "span_context", None))
        return event.to_video()
