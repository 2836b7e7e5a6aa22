"""Completing webhook-waiting activities: from the webhook route, and by a safety net.

An :class:`ActivityCompleter` runs wherever PixVerse's deliveries arrive (every replica of
your webhook endpoint, sharing one token store): its :meth:`~ActivityCompleter.deliver` is
the route's ``on_event`` (``webhook_handler(secret, completer.deliver)``), or a
:class:`~pixverse_async.webhooks.CompletionHub`'s ``on_unclaimed`` when the same route also
ends the jobs of ``job.wait()``. A delivery telling a video's end completes the activity
waiting for it (``client.get_async_activity_handle(task_token=...)``), with the video, or
fails it with the non-retryable failure of a failed or moderated video.

Its safety net (:meth:`~ActivityCompleter.sweep`, every ``sweep_every`` seconds while it runs
as ``async with completer:``) polls the status of the videos whose delivery is overdue, on
the :class:`~pixverse_async.SafetyNet`'s schedule (by default three times the expected
generation time after the submit, then every minute), and completes those that ended: a lost
delivery costs a status request or two, never an activity. With several replicas, the store
hands each overdue video to one of them.

Completing an activity that is already complete (a delivery and a poll racing, two replicas,
a repeated delivery) is harmless: Temporal answers "not found" and the completer moves on.

Example::

    from aiohttp import web
    from pixverse_async.temporal import ActivityCompleter
    from pixverse_async.webhooks import webhook_handler

    completer = ActivityCompleter(temporal, store, client)
    app = web.Application()
    app.router.add_post("/pixverse/webhook", webhook_handler(secret, completer.deliver))
    async with completer:                 # the safety net polls while the route serves
        ...
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

import attrs
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from ..client import PixVerse
from ..jobs.polling import TRANSIENT_POLL_ERRORS, SafetyNet
from ..logs import sdk_logger
from ..models import Video
from ..webhooks.events import WebhookEvent
from .activities import next_check, video_result
from .store import PendingActivity, TokenStore

logger = sdk_logger("pixverse_async.temporal")


@attrs.define(eq=False)
class CompleterStats:
    """What a completer did: activities completed by a delivery, by a safety-net poll, the
    status requests the safety net made, and completions Temporal no longer expected."""

    by_webhook: int = 0
    by_poll: int = 0
    polls: int = 0
    already_done: int = 0


class ActivityCompleter:
    """Completes the activities of a token store from webhook events and safety-net polls.

    - ``temporal``: the ``temporalio.client.Client`` of the activities' namespace;
    - ``store``: the :class:`~.store.TokenStore` the activities record their tokens in;
    - ``client``: a :class:`~pixverse_async.PixVerse` client for the safety net's status
      requests;
    - ``safety_net``: the schedule of those requests (use the activities' one);
    - ``sweep_every``: seconds between safety-net passes while running;
    - ``keep_ends``: seconds an end with no activity waiting for it is kept (for an
      activity that records its token late); older ones are dropped.
    """

    def __init__(
        self,
        temporal: Client,
        store: TokenStore,
        client: PixVerse,
        *,
        safety_net: SafetyNet | None = None,
        sweep_every: float = 5.0,
        keep_ends: float = 3600.0,
    ) -> None:
        if not sweep_every > 0 or not keep_ends > 0:
            raise ValueError("sweep_every and keep_ends must be numbers of seconds > 0")
        self.temporal = temporal
        self.store = store
        self.client = client
        self.safety_net = safety_net or SafetyNet()
        self.sweep_every = sweep_every
        self.keep_ends = keep_ends
        self.stats = CompleterStats()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"ActivityCompleter(store={self.store!r}, stats={self.stats!r})"

    async def deliver(self, event: WebhookEvent) -> None:
        """Complete the activity waiting for ``event``'s video, if it is an end (use as the
        webhook route's ``on_event``). Raises when Temporal could not be told, so that the
        route answers 500 and PixVerse delivers again."""
        if not event.is_terminal:
            return
        pending = await self.store.ended(event.video_id, event.video_json(), now=time.time())
        if pending is not None:
            await self._complete(pending, event.to_video(), "webhook")

    async def sweep(self, *, limit: int = 100) -> int:
        """One safety-net pass: poll the overdue videos (up to ``limit``), complete those
        that ended; return how many were completed."""
        now = time.time()
        await self.store.purge(before=now - self.keep_ends)
        due = await self.store.due(now=now, check_at=next_check(self.safety_net, now), limit=limit)
        done = await asyncio.gather(*(self._check(pending) for pending in due))
        return sum(done)

    async def _check(self, pending: PendingActivity) -> bool:
        try:
            video = await self.client.videos.get(pending.video_id)
        except TRANSIENT_POLL_ERRORS as exc:
            logger.warning(
                "safety net: status of video %s failed: %s",
                pending.video_id,
                exc,
                extra={"video_id": pending.video_id},
            )
            return False
        finally:
            self.stats.polls += 1
        if not video.status.is_terminal:
            return False
        await self._complete(pending, video, "poll")
        return True

    async def _complete(self, pending: PendingActivity, video: Video, by: str) -> None:
        handle = self.temporal.get_async_activity_handle(task_token=pending.task_token)
        try:
            try:
                result = video_result(
                    video, credits=pending.credits, trace_id=pending.trace_id, by=by
                )
            except ApplicationError as failure:
                await handle.fail(failure)
            else:
                await handle.complete(result)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            self.stats.already_done += 1  # completed (or timed out) already
        else:
            if by == "webhook":
                self.stats.by_webhook += 1
            else:
                self.stats.by_poll += 1
        await self.store.forget(pending.video_id, pending.task_token)

    async def run(self) -> None:
        """Sweep every ``sweep_every`` seconds until cancelled (a failed pass is logged)."""
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("safety net: a sweep failed; trying again")
            await asyncio.sleep(self.sweep_every)

    async def __aenter__(self) -> ActivityCompleter:
        self._task = asyncio.ensure_future(self.run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            # gather, not suppress(CancelledError): that would swallow our own cancellation too
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
