"""The generation and download activities: one generic path for every kind of generation.

:class:`GenerationActivities` wraps a :class:`~pixverse_async.PixVerse` client for a Temporal
worker. ``generate`` builds the request of a :class:`~.calls.GenerationCall` (any kind:
text, image, transition, extend, ...), submits it under the trace id of the activity's
identity (:func:`~.calls.trace_id_for`: every attempt sends the same one, and PixVerse
answers a reused trace id with the first generation instead of a new one), then waits for
the video in one of two ways:

- **by webhook**, given a token store (and a ``webhook_id``, the client's hub's by default):
  the submit is sent with the webhook, the activity's task token is recorded against the
  video id, and the activity returns without a result (asynchronous completion). The
  :class:`~.completer.ActivityCompleter` behind your webhook route (any replica sharing the
  store) completes it when the delivery arrives, or when its safety-net poll finds the end
  of a video whose delivery was lost. No status request is made while deliveries arrive.
  Give such activities a ``start_to_close_timeout`` longer than the longest generation you
  accept and no ``heartbeat_timeout``: nothing heartbeats while the activity waits;
- **by polling**, without a store: the activity polls the status on the client's
  :class:`~pixverse_async.PollPolicy` and heartbeats at least every ``heartbeat_every``
  seconds while it waits (set a ``heartbeat_timeout`` a few times that, so that an attempt
  whose worker died is retried soon).

Failures become :func:`~.failures.application_error`: a failed or moderated video and a
refused request are not retried, transient answers are.

Example (a worker; see ``examples/temporal_batch.py`` for a whole one)::

    from temporalio.worker import Worker
    from pixverse_async.temporal import GenerationActivities, PostgresTokenStore

    store = PostgresTokenStore("postgresql://postgres@127.0.0.1/app")
    activities = GenerationActivities(client, store=store, webhook_id="1234")
    worker = Worker(temporal, task_queue="pixverse", workflows=[MyWorkflow],
                    activities=activities.all())
"""

from __future__ import annotations

import asyncio
import os
import time

import attrs
from temporalio import activity

from ..client import PixVerse
from ..errors import JobError, JobTimeoutError, PixVerseError
from ..jobs.generation_job import GenerationJob, raise_for_terminal
from ..jobs.polling import (
    PollLearner,
    PollPolicy,
    PollSchedule,
    SafetyNet,
    learning_key,
)
from ..models import Video, from_json
from .calls import GeneratedVideo, GenerationCall, trace_id_for
from .failures import application_error
from .store import End, PendingActivity, TokenStore

#: The safety net's schedule without jitter (its timeout is the activity's own).
_NET_POLICY = PollPolicy(jitter=0.0, timeout=None)


def first_check(net: SafetyNet, submitted: float) -> float:
    """When the safety net first polls a video submitted at ``submitted`` (wall time)."""
    return net.schedule(_NET_POLICY, submitted).first_poll_at()


def next_check(net: SafetyNet, now: float) -> float:
    """When the safety net polls again a video still running at ``now``."""
    due = net.schedule(_NET_POLICY, now, first_delay=0.0).after_poll(now)
    assert due is not None  # the policy has no timeout
    return due


def video_result(video: Video, *, credits: int | None, trace_id: str, by: str) -> GeneratedVideo:
    """The activity's result for a video that ended; the failure of one that ended badly."""
    try:
        raise_for_terminal(video)
    except JobError as exc:
        raise application_error(exc, trace_id=trace_id) from None
    return GeneratedVideo(video.id, video.url, credits, trace_id, by)


def video_from_end(end: End) -> Video:
    """A stored end (a status answer's JSON) as a :class:`~pixverse_async.models.Video`."""
    return from_json(Video, dict(end))


class GenerationActivities:
    """The activities of a worker: ``generate`` and ``download`` (see the module docstring).

    - ``client``: the :class:`~pixverse_async.PixVerse` client the activities call with;
    - ``store``: where task tokens wait for webhooks (None: the activities poll);
    - ``webhook_id``: the console webhook generations are sent with (default: the client's
      hub's); a request naming its own keeps it;
    - ``safety_net``: when the completer first polls a video whose delivery has not come
      (default :class:`~pixverse_async.SafetyNet`); use the completer's;
    - ``heartbeat_every``: the longest pause between heartbeats of a polling activity;
    - ``learner``: for polling activities, learns each kind's typical generation time and
      polls first near it, as the job runner does (True: one of this object's own; a
      :class:`~pixverse_async.PollLearner` to share; False: the policy's times only).
    """

    def __init__(
        self,
        client: PixVerse,
        *,
        store: TokenStore | None = None,
        webhook_id: str | None = None,
        safety_net: SafetyNet | None = None,
        heartbeat_every: float = 10.0,
        learner: PollLearner | bool = True,
    ) -> None:
        if not heartbeat_every > 0:
            raise ValueError("heartbeat_every must be a number of seconds > 0")
        self.client = client
        self.store = store
        hub = client.webhooks
        self.webhook_id = webhook_id or (hub.webhook_id if hub is not None else None)
        self.safety_net = safety_net or (hub.safety_net if hub is not None else SafetyNet())
        self.heartbeat_every = heartbeat_every
        self.learner: PollLearner | None = (
            PollLearner() if learner is True else learner if learner is not False else None
        )

    def __repr__(self) -> str:
        mode = "webhook" if self.store is not None else "poll"
        return f"GenerationActivities({self.client!r}, mode={mode!r})"

    def all(self) -> list[object]:
        """The activity functions, for ``Worker(activities=...)``."""
        return [self.generate, self.download]

    @activity.defn(name="pixverse.generate")
    async def generate(self, call: GenerationCall) -> GeneratedVideo:
        """Submit ``call`` once for the activity (whatever its attempt), then finish with the
        video: at once, or later through the completer (by webhook), or by polling."""
        info = activity.info()
        trace_id = trace_id_for(info.workflow_namespace, info.workflow_id, info.activity_id)
        try:
            request = call.build()
            webhook_id = request.webhook_id or self.webhook_id
            by_webhook = self.store is not None and webhook_id is not None
            if by_webhook and request.webhook_id is None:
                request = attrs.evolve(request, webhook_id=webhook_id)
            job = await self.client.videos.submit(request, trace_id=trace_id)
        except PixVerseError as exc:
            raise application_error(exc, trace_id=trace_id) from exc
        if self.store is None or not by_webhook:
            return await self._poll(job, trace_id)
        pending = PendingActivity(
            video_id=job.video_id, task_token=info.task_token, trace_id=trace_id,
            credits=job.credits,
        )  # fmt: skip
        now = time.time()
        # A retried attempt may follow a lost end: the safety net looks at it at once.
        check_at = now if info.attempt > 1 else first_check(self.safety_net, now)
        try:
            end = await self.store.record(pending, check_at=check_at)
        except BaseException as exc:
            job._end_span("error", error=exc)
            raise
        if end is None:
            job._hand_off()  # the completer ends it: the job's span ends here
            activity.raise_complete_async()
        await self.store.forget(job.video_id, info.task_token)
        # The delivery came before the token was recorded (on this replica or another).
        try:
            video = job._ended(video_from_end(end), by="webhook")
        except JobError as exc:
            raise application_error(exc, trace_id=trace_id) from None
        return GeneratedVideo(video.id, video.url, job.credits, trace_id, "webhook")

    async def _poll(self, job: GenerationJob, trace_id: str) -> GeneratedVideo:
        loop = asyncio.get_running_loop()
        key = learning_key(job.request) if self.learner is not None else None
        schedule = PollSchedule.begin(
            self.client.videos.poll, loop.time(), learner=self.learner, key=key
        )
        try:
            video = await job._follow(schedule, news=self._pause)
        except PixVerseError as exc:  # the video failed, or the wait did
            ended = isinstance(exc, JobError) and not isinstance(exc, JobTimeoutError)
            raise application_error(exc, trace_id=trace_id) from (None if ended else exc)
        return GeneratedVideo(video.id, video.url, job.credits, trace_id, "poll")

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` between polls, heartbeating (so a cancel reaches the activity)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            activity.heartbeat()
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, self.heartbeat_every))

    @activity.defn(name="pixverse.download")
    async def download(self, video: GeneratedVideo, folder: str) -> str:
        """Download a finished video to ``<folder>/<video_id>.mp4`` (resuming a partial file,
        so a retried attempt continues); return the path written."""
        source: Video | int = video.video_id
        if video.url:
            source = from_json(Video, {"id": video.video_id, "status": 1, "url": video.url})
        try:
            path = await self.client.videos.download(source, os.path.join(folder, ""))
        except PixVerseError as exc:
            raise application_error(exc, trace_id=video.trace_id) from exc
        return str(path)
