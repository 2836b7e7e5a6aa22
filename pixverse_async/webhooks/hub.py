"""The completion hub: webhook events meet the jobs waiting for them, in one process or many.

Three parties share one :class:`CompletionHub`:

- the webhook handler feeds it: ``webhook_handler(secret, hub.deliver)``;
- whoever submits a generation marks the submit with ``hub.submitting()`` and then
  ``hub.register(video_id)``, getting a :class:`CompletionWatch`;
- whoever waits for the job awaits ``watch.wait(timeout)``: the terminal event, or ``None``
  when ``timeout`` passed first (time for a safety-net status poll).

An event for a video no watch has registered is not dropped. If submits are in flight when it
arrives, it is held (its delivery stays unanswered) until each of those submits has ended:
one of them may be about to register that video (the submit's answer and the event raced).
Then, still unclaimed, it goes to the user: ``on_unclaimed(event)`` (sync or async), or else a
bounded queue read with ``async for event in hub.unclaimed()``. The delivery is answered
``ok`` only once that succeeded, so PixVerse retries what the user did not take.

The last ``retain`` terminal events are kept by video id: a watch registered after its video
ended (a job resumed from a journal, say) is resolved at once, and a late or repeated event
for a video that already ended is recognised as such and not handed to the user again.

With a relay (``CompletionHub(relay=PostgresRelay(url, name=..., secret=...))``, see
:mod:`~pixverse_async.webhooks.relay`) the hubs of several processes act as one: a delivery
received by any of them is published through PostgreSQL and ends the jobs waiting for it in
every other one (``job.wait()``, runners); only the receiving process hands it to its user
when no job there claimed it. An end a watched job found by a status poll instead
(:meth:`CompletionWatch.settle`) is shared the same way: the other watches of that video end,
here and in the other processes, and a delivery of it arriving later anywhere is a repeat.
Use the hub as ``async with hub:`` (or ``await hub.start()`` and ``await hub.aclose()``) so
its relay connects and closes.

Example::

    import asyncio
    from pixverse_async.webhooks import CompletionHub, WebhookEvent

    async def main() -> None:
        hub = CompletionHub()
        with hub.submitting():                  # around the submit call
            video_id = 42                       # = (await client.videos.submit(...)).video_id
            watch = hub.register(video_id)
        with watch:
            event = WebhookEvent.from_payload({"id": "42", "status": 1})
            await hub.deliver(event)            # what the webhook handler does
            assert (await watch.wait(timeout=5)) is event

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType

import attrs

from ..errors import PixVerseError, ValidationError
from ..jobs.polling import SafetyNet
from ..logs import sdk_logger
from ..models import Video
from ..telemetry.deliveries import delivery_span
from .events import WebhookEvent
from .relay import PostgresRelay

UnclaimedCallback = Callable[[WebhookEvent], "Awaitable[object] | object"]

logger = sdk_logger("pixverse_async.webhooks")


class HubClosedError(PixVerseError):
    """The hub was closed; a delivery it refuses is answered with an error and retried."""


class UnclaimedOverflowError(PixVerseError):
    """The unclaimed-event queue is full (nobody reads ``hub.unclaimed()``); retried later."""


@attrs.frozen
class HubStats:
    """What a :class:`CompletionHub` holds now, and how many events went to its user.

    ``watching``: watches waiting for their video's end (a job closed, dropped or whose
    wait was cancelled is not among them); ``held``: unclaimed events waiting for submits in
    flight; ``submits_in_flight``; ``retained``: terminal events kept by video id (at most
    ``retain``); ``unclaimed``: events handed to ``on_unclaimed`` or ``unclaimed()`` so far.
    """

    watching: int
    held: int
    submits_in_flight: int
    retained: int
    unclaimed: int


class CompletionWatch:
    """Interest in one video's end, from :meth:`CompletionHub.register`.

    ``latest`` is the newest event seen for the video (any status). The hub forgets it by
    itself once its terminal event arrived (the watch keeps the event); close it (or use it
    as a context manager) when the job no longer waits before that, so the hub forgets it
    and hands the event, when it comes, to its user as unclaimed.
    """

    __slots__ = ("_future", "_hub", "_open", "latest", "video_id")

    def __init__(self, hub: CompletionHub, video_id: int) -> None:
        self._hub = hub
        self._open = True
        self.video_id = video_id
        self.latest: WebhookEvent | None = None
        self._future: asyncio.Future[WebhookEvent] = asyncio.get_running_loop().create_future()

    def __repr__(self) -> str:
        return f"CompletionWatch(video_id={self.video_id}, done={self.done()})"

    def done(self) -> bool:
        """Whether the terminal event arrived."""
        return self._future.done()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or :meth:`settle`) was called."""
        return not self._open

    def result(self) -> WebhookEvent:
        """The terminal event; raises ``asyncio.InvalidStateError`` before it arrived."""
        return self._future.result()

    async def wait(self, timeout: float | None = None) -> WebhookEvent | None:
        """The terminal event, or None if ``timeout`` seconds passed first (None: no limit).

        Cancelling the caller does not cancel the watch; waiting again is fine.
        """
        if not self._future.done():
            await asyncio.wait((self._future,), timeout=timeout)
        return self._future.result() if self._future.done() else None

    def add_done_callback(self, callback: Callable[[WebhookEvent], object]) -> None:
        """Call ``callback(event)`` (from the event loop) once the terminal event arrived.

        For callers driven by timers rather than one task per job (a runner): at once (soon)
        if it already arrived; never if the watch is closed first.
        """

        def done(future: asyncio.Future[WebhookEvent]) -> None:
            if not future.cancelled() and self._open:
                callback(future.result())

        self._future.add_done_callback(done)

    def close(self) -> None:
        """Stop watching (idempotent)."""
        self._open = False
        self._hub._unregister(self)

    def settle(self, video: Video) -> None:
        """Stop watching: the job is over (``video``: its status as last seen).

        When ``video`` ended and this watch had not heard it (a status poll found the end),
        that end becomes a :meth:`WebhookEvent.from_video` event (``polled``) for the other
        watches of the video, in this process and, with a relay, published (in the
        background) to the other processes; a later delivery of it is then a repeat, not a
        user's unclaimed event. A publish that fails is logged, never raised.
        """
        self.close()
        if not self._future.done() and video.status.is_terminal:
            self._hub._found(WebhookEvent.from_video(video))

    def __enter__(self) -> CompletionWatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _feed(self, event: WebhookEvent) -> None:
        if self._future.done():
            return
        self.latest = event
        if event.is_terminal:
            self._future.set_result(event)


class _Held:
    """An unclaimed event waiting for the submits that were in flight when it arrived."""

    __slots__ = ("claimed", "event", "waiting_on")

    def __init__(self, event: WebhookEvent, waiting_on: set[int]) -> None:
        self.event = event
        self.waiting_on = waiting_on
        self.claimed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()


class CompletionHub:
    """Routes verified webhook events to the jobs of this process waiting for them.

    Shared by the client (``PixVerse(webhooks=hub)``), its runners and the webhook handler
    (``webhook_handler(secret, hub.deliver)``). ``webhook_id``: the console webhook whose
    deliveries reach this hub; the client sends it with every generation that does not name
    its own. ``safety_net``: how jobs waiting for an event are still polled, so a lost delivery
    never loses a job (:class:`~pixverse_async.jobs.polling.SafetyNet`).

    ``on_unclaimed``: called (and awaited when async) with each event no job claimed; without
    it such events go to a queue of ``max_unclaimed`` read by :meth:`unclaimed` (a full queue
    makes the delivery fail, so PixVerse retries it). ``retain``: terminal events kept by
    video id. ``relay``: a :class:`~pixverse_async.webhooks.relay.PostgresRelay` sharing the
    events with the hubs of other processes (it needs the webhook secret or a relay key, so
    a URL alone is refused). See the module docstring for the rules.
    """

    def __init__(
        self,
        *,
        webhook_id: str | None = None,
        safety_net: SafetyNet | None = None,
        on_unclaimed: UnclaimedCallback | None = None,
        max_unclaimed: int = 1000,
        retain: int = 10_000,
        relay: PostgresRelay | None = None,
    ) -> None:
        if max_unclaimed < 1 or retain < 1:
            raise ValueError("max_unclaimed and retain must be at least 1")
        if webhook_id is not None and (not isinstance(webhook_id, str) or not webhook_id):
            raise ValidationError("webhook_id", 'must be a non-empty string, e.g. "1234"')
        self.webhook_id = webhook_id
        self.safety_net = safety_net or SafetyNet()
        self._on_unclaimed = on_unclaimed
        self._queue: asyncio.Queue[WebhookEvent | None] | None = None
        self._max_unclaimed = max_unclaimed
        self._retain = retain
        self._watches: dict[int, list[CompletionWatch]] = {}
        self._ended: OrderedDict[int, WebhookEvent] = OrderedDict()
        self._held: dict[int, list[_Held]] = {}
        self._submits: set[int] = set()
        self._tokens = itertools.count()
        self._unclaimed = 0  # events handed to the user
        self._closed = False
        self._publishing: set[asyncio.Task[None]] = set()  # ends found by polls, being published
        #: Shares this hub's events with the hubs of other processes (None: this one only).
        if isinstance(relay, str):
            raise ValidationError(
                "relay",
                "a URL alone cannot authenticate the relay's messages: pass "
                "PostgresRelay(url, name=..., secret=webhook_secret)",
            )
        self.relay = relay
        if self.relay is not None:
            self.relay.bind(self._relayed)

    def __repr__(self) -> str:
        stats = self.stats()
        return (
            f"CompletionHub(webhook_id={self.webhook_id!r}, watching={stats.watching}, "
            f"submits_in_flight={stats.submits_in_flight}, held={stats.held})"
        )

    def stats(self) -> HubStats:
        """What the hub holds now (watches, held and retained events) and has handed out.

        >>> CompletionHub().stats()
        HubStats(watching=0, held=0, submits_in_flight=0, retained=0, unclaimed=0)
        """
        return HubStats(
            watching=sum(map(len, self._watches.values())),
            held=sum(map(len, self._held.values())),
            submits_in_flight=len(self._submits),
            retained=len(self._ended),
            unclaimed=self._unclaimed,
        )

    # Lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the relay (connect and LISTEN), if there is one (else nothing); idempotent.

        The client calls it before each watched submit, so a job never waits for an event
        this hub cannot hear yet; call it (or ``async with hub``) to hear other processes'
        events from the start. Raises :class:`~pixverse_async.webhooks.relay.RelayError`
        when the relay cannot LISTEN, :class:`HubClosedError` after :meth:`close`.
        """
        if self.relay is None:
            return
        if self._closed:
            raise HubClosedError("the completion hub is closed")
        await self.relay.start()

    async def aclose(self) -> None:
        """:meth:`close`, then close the relay's connection once the ends found by polls
        that are being published are (each waits up to the relay's ``publish_timeout``)."""
        self._shut()
        if self._publishing:
            await asyncio.wait(set(self._publishing))
        if self.relay is not None:
            await self.relay.close()

    async def __aenter__(self) -> CompletionHub:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # The submitting side ------------------------------------------------------------------

    @contextlib.contextmanager
    def submitting(self) -> Iterator[None]:
        """Mark a submit in flight: unclaimed events arriving meanwhile wait for it to end.

        Register the video inside the block, as soon as the submit answered.
        """
        token = next(self._tokens)
        self._submits.add(token)
        try:
            yield
        finally:
            self._submits.discard(token)
            self._submit_ended(token)

    def register(self, video_id: int) -> CompletionWatch:
        """Watch ``video_id``; an event already held or retained for it is applied at once
        (a watch ended that way, or later by its event, is the caller's alone: the hub lets
        go of it)."""
        watch = CompletionWatch(self, video_id)
        ended = self._ended.get(video_id)
        if ended is not None:
            watch._feed(ended)
        for held in self._held.pop(video_id, ()):
            watch._feed(held.event)
            if not held.claimed.done():
                held.claimed.set_result(True)
        if not watch.done():  # an ended watch is kept by its job alone
            self._watches.setdefault(video_id, []).append(watch)
        return watch

    def _unregister(self, watch: CompletionWatch) -> None:
        watches = self._watches.get(watch.video_id)
        if watches and watch in watches:
            watches.remove(watch)
            if not watches:
                del self._watches[watch.video_id]

    # The delivering side ------------------------------------------------------------------

    async def deliver(self, event: WebhookEvent) -> None:
        """Hand one verified event to its watches, or (unclaimed) to the user.

        Returns once the event is safely taken; raises :class:`HubClosedError` or
        :class:`UnclaimedOverflowError` when it could not be (the delivery should fail so
        PixVerse retries it). Use as ``webhook_handler``'s ``on_event``.

        With a relay, the event is then published to the other processes' hubs, and a
        failed publish raises :class:`~pixverse_async.webhooks.relay.RelayError` (a repeat
        is published again, in case its first publish failed).
        """
        if self._closed:
            raise HubClosedError("the completion hub is closed")
        with delivery_span(event.video_id, int(event.status)) as context:
            if context is not None:
                event = attrs.evolve(event, span_context=context)
            await self._take(event)
            if self.relay is not None:
                await self.relay.publish(event)

    async def _take(self, event: WebhookEvent) -> None:
        video_id = event.video_id
        if self._watches.get(video_id):
            self._apply(event)
            return
        if video_id in self._ended:
            return  # a repeat, or an older status arriving late: the video already ended
        if self._submits:
            held = _Held(event, set(self._submits))
            self._held.setdefault(video_id, []).append(held)
            try:
                if await held.claimed:
                    return
            finally:
                self._drop_held(video_id, held)
        await self._hand_to_user(event)
        self._remember(event)

    async def unclaimed(self) -> AsyncIterator[WebhookEvent]:
        """Events no job claimed, as they come (without ``on_unclaimed``); ends at close."""
        if self._on_unclaimed is not None:
            raise RuntimeError("this hub hands unclaimed events to on_unclaimed")
        queue = self._unclaimed_queue()
        while (event := await queue.get()) is not None:
            yield event

    def close(self) -> None:
        """Refuse further deliveries, fail held ones (PixVerse retries them), end iterators.

        A relay's connection is cut without waiting: prefer ``await hub.aclose()``.
        """
        self._shut()
        for task in self._publishing:
            task.cancel()
        if self.relay is not None:
            self.relay.abandon()

    def _shut(self) -> None:
        self._closed = True
        for helds in self._held.values():
            for held in helds:
                if not held.claimed.done():
                    held.claimed.set_exception(HubClosedError("the completion hub is closed"))
        if self._queue is not None:
            self._queue.put_nowait(None)

    # Internals ----------------------------------------------------------------------------

    def _relayed(self, event: WebhookEvent) -> None:
        """An event another process's hub received (or an end its poll found): for the
        watches here, never the user."""
        if not self._closed:
            self._apply(event)

    def _apply(self, event: WebhookEvent) -> None:
        """Feed ``event`` to the watches of its video; if terminal, forget them (each keeps
        the event) and retain it (a watch registered later ends at once; a repeat is
        known)."""
        if event.is_terminal:
            watches = self._watches.pop(event.video_id, [])
        else:
            watches = list(self._watches.get(event.video_id, ()))
        for watch in watches:
            watch._feed(event)
        self._remember(event)

    def _found(self, event: WebhookEvent) -> None:
        """A terminal end a job here found by a status poll: for the other watches here,
        then published to the other processes' hubs (in the background), never a user's."""
        self._apply(event)
        if self.relay is None or self._closed:
            return
        task = asyncio.ensure_future(self._publish_found(self.relay, event))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish_found(self, relay: PostgresRelay, event: WebhookEvent) -> None:
        try:
            await relay.publish(event)
        except Exception as exc:  # RelayError (no connection in time), or any other: logged
            logger.warning(
                "webhook relay %s: the end of video %s found by a status poll was not "
                "published (%s); the other processes' safety-net polls will find it",
                relay.name,
                event.video_id,
                exc,
                extra={"video_id": event.video_id},
            )

    def _unclaimed_queue(self) -> asyncio.Queue[WebhookEvent | None]:
        if self._queue is None:
            # one extra place for the end-of-stream marker close() puts
            self._queue = asyncio.Queue(self._max_unclaimed + 1)
        return self._queue

    async def _hand_to_user(self, event: WebhookEvent) -> None:
        if self._on_unclaimed is not None:
            result = self._on_unclaimed(event)
            if inspect.isawaitable(result):
                await result
        else:
            queue = self._unclaimed_queue()
            if queue.qsize() >= self._max_unclaimed:
                raise UnclaimedOverflowError(
                    f"{self._max_unclaimed} unclaimed webhook events are waiting to be read"
                )
            queue.put_nowait(event)
        self._unclaimed += 1

    def _remember(self, event: WebhookEvent) -> None:
        if not event.is_terminal:
            return
        self._ended[event.video_id] = event
        self._ended.move_to_end(event.video_id)
        if len(self._ended) > self._retain:
            self._ended.popitem(last=False)

    def _submit_ended(self, token: int) -> None:
        for helds in self._held.values():
            for held in helds:
                held.waiting_on.discard(token)
                if not held.waiting_on and not held.claimed.done():
                    held.claimed.set_result(False)

    def _drop_held(self, video_id: int, held: _Held) -> None:
        helds = self._held.get(video_id)
        if helds and held in helds:
            helds.remove(held)
            if not helds:
                del self._held[video_id]
