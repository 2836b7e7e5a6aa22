"""One logical completion hub across processes and machines, through PostgreSQL.

``pip install 'pixverse-async[postgres]'`` (asyncpg, imported when the relay starts). Give
every process's :class:`~pixverse_async.webhooks.CompletionHub` a :class:`PostgresRelay` on
the same database and ``name``: a webhook delivery that reaches any one of them also ends the
jobs waiting for it in all the others, without a status request.

- **Publishing.** A hub that receives a delivery (``hub.deliver``, the webhook route) first
  hands it to its own watches (or, unclaimed, to its user: an event it holds for its own
  submits in flight is published once they ended), then publishes it with ``NOTIFY``; the
  delivery is answered ``ok`` only once the publish succeeded, so PixVerse retries it
  otherwise (a retry publishes again). The message is JSON of the event's public
  fields (video id, status, URL, size, has_audio, credits, trace id, timestamp, nonce, and
  the body's unknown fields): never the webhook secret. ``NOTIFY`` payloads must stay under
  8000 bytes: unknown fields that do not fit are left out; an event that would still be
  larger raises :class:`RelayError` (the delivery fails).
- **Ends found by polls.** A watched job that learns its end by a status poll instead (its
  delivery was lost or late: the hub's safety net; ``job.wait()`` or a runner) publishes
  that end too, as a ``WebhookEvent.from_video(video)`` event (``polled=True``), so the
  other processes' jobs waiting for that video end without a status request of their own.
  It is published in the background: a failed publish is logged as a warning and fails
  nothing (the others' safety nets find the end), and ``hub.aclose()`` waits for the
  publishes still running. Only terminal statuses are published, and never reach anyone's
  ``on_unclaimed``.
- **Receiving.** Every relay LISTENs on the channel ``pixverse_webhooks_<name>``; a message
  from another process feeds this hub's watches of that video exactly as a local delivery
  would, and a terminal one is retained (a watch registered later, when the submit's answer
  came after the event, is resolved at once). It is never handed to this process's
  ``on_unclaimed`` / ``unclaimed()``: only the process that received the delivery does that.
  A process's own messages come back to it and are ignored; an event delivered twice, or to
  two processes, is recognised by the hub's retained terminal events like any repeat.
- **Names.** ``LISTEN``/``NOTIFY`` channels are per database; ``name`` keeps two unrelated
  applications on one database apart (use one name per PixVerse webhook, e.g.
  ``"shop_1234"``).
- **Lost connection.** The listening connection reconnects by itself
  (:class:`~pixverse_async.pg_listen.ListeningConnection`, the journal's mechanism).
  Messages published while it was away are not replayed: the jobs waiting here then end at
  their hub's :class:`~pixverse_async.polling.SafetyNet` status poll, as when a delivery is
  lost. Publishing waits for the connection (while it reconnects) up to ``publish_timeout``
  seconds, then fails the delivery.

Example::

    import asyncio
    from pixverse_async.webhooks import CompletionHub, PostgresRelay, WebhookEvent

    URL = "postgresql://postgres@127.0.0.1:5432/test"

    async def main() -> None:
        async with CompletionHub(relay=PostgresRelay(URL, name="demo")) as receiver, \\
                CompletionHub(relay=PostgresRelay(URL, name="demo")) as waiter:
            watch = waiter.register(42)             # a job in another process
            await receiver.deliver(WebhookEvent.from_payload({"id": "42", "status": 1}))
            assert (await watch.wait(timeout=10)).video_id == 42

    asyncio.run(main())
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any, Final

import attrs

from ..errors import PixVerseError, ValidationError
from ..pg_listen import ListeningConnection
from .events import KNOWN_FIELDS, WebhookEvent

__all__ = ["CHANNEL_PREFIX", "MAX_MESSAGE", "PostgresRelay", "RelayError"]

logger = logging.getLogger("pixverse_async.webhooks")

CHANNEL_PREFIX: Final = "pixverse_webhooks_"
"""The relay's channel is this prefix and its ``name``."""
MAX_MESSAGE: Final = 7999
"""The largest ``NOTIFY`` payload PostgreSQL takes (shorter than 8000 bytes), in bytes."""
_MAX_NAME: Final = 63 - len(CHANNEL_PREFIX)  # a channel name is at most 63 bytes
_NAME = re.compile(rf"[A-Za-z0-9_]{{1,{_MAX_NAME}}}")
_VERSION: Final = 1


class RelayError(PixVerseError):
    """The relay could not publish an event (no connection, or an event too large): the
    delivery fails, so PixVerse retries it; or the relay could not start LISTENing."""


class PostgresRelay:
    """Shares the webhook events of every hub on ``url`` and ``name``; see the module.

    - ``url``: a ``postgresql://`` URL (the password never shows in errors, logs or repr);
    - ``name``: letters, digits and ``_`` (at most 45): the hubs that share events;
    - ``connect_timeout``: per connection attempt; ``reconnect_timeout``: how long
      :meth:`start` waits for the first ``LISTEN``; ``publish_timeout``: how long a
      delivery's publish waits (for a connection that is reconnecting) before it fails.

    A relay belongs to one hub, which starts and closes it (``async with hub``).

    Example::

        hub = CompletionHub(webhook_id="1234", relay=PostgresRelay(url, name="shop_1234"))
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "default",
        connect_timeout: float = 5.0,
        reconnect_timeout: float = 30.0,
        publish_timeout: float = 10.0,
    ) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValidationError("name", f"must be 1 to {_MAX_NAME} letters, digits or _", name)
        if not publish_timeout > 0:
            raise ValidationError("publish_timeout", "must be a number of seconds > 0")
        self.name = name
        self.channel = CHANNEL_PREFIX + name
        self.publish_timeout = publish_timeout
        self.origin = uuid.uuid4().hex  # this relay's messages, recognised when they return
        self._connection = ListeningConnection(
            url,
            channel=self.channel,
            what="webhook relay",
            on_notify=self._received,
            on_reconnect=self._reconnected,
            error=RelayError,
            application_name=f"pixverse-relay {name} {self.origin[:8]}",
            connect_timeout=connect_timeout,
            reconnect_timeout=reconnect_timeout,
        )
        self._on_event: Callable[[WebhookEvent], None] | None = None
        self._started = False

    def __repr__(self) -> str:
        return f"PostgresRelay({self._connection.name!r}, name={self.name!r})"

    @property
    def application_name(self) -> str:
        """The listening connection's ``application_name`` (in ``pg_stat_activity``)."""
        return self._connection.application_name

    @property
    def reconnects(self) -> int:
        """How many times the listening connection was lost and made again."""
        return self._connection.reconnects

    @property
    def listening(self) -> bool:
        """Whether events from other processes arrive now (False while reconnecting)."""
        return self._connection.listening

    def bind(self, on_event: Callable[[WebhookEvent], None]) -> None:
        """Send what other processes publish to ``on_event`` (the hub does it; once)."""
        if self._on_event is not None:
            raise ValueError("this relay already belongs to a hub: give each hub its own")
        self._on_event = on_event

    async def start(self) -> None:
        """Connect and LISTEN; idempotent: once started, returns at once (even while the
        connection reconnects). Raises :class:`RelayError` when it cannot LISTEN."""
        if not self._started:
            await self._connection.start()
            self._started = True

    async def publish(self, event: WebhookEvent) -> None:
        """Publish ``event`` to the other processes' hubs; raise :class:`RelayError` when
        it could not be published (the caller fails the delivery)."""
        message = encode(event, self.origin)
        await self._connection.execute(
            "SELECT pg_notify($1, $2)", self.channel, message, timeout=self.publish_timeout
        )

    async def close(self) -> None:
        """Stop listening and close the connection (idempotent)."""
        await self._connection.close()

    def abandon(self) -> None:
        """Cut the connection without waiting (the hub was closed without ``await``)."""
        self._connection.abandon()

    def _received(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            if message.get("v") != _VERSION or message.get("from") == self.origin:
                return  # another version's, or this relay's own message come back
            event = decode(message)
        except (ValueError, TypeError, KeyError, AttributeError, PixVerseError) as exc:
            logger.warning("webhook relay %s: unreadable message ignored: %s", self.name, exc)
            return
        if self._on_event is not None:
            self._on_event(event)

    def _reconnected(self) -> None:
        logger.warning(
            "webhook relay %s: reconnected; events published meanwhile are found by the "
            "safety-net polls",
            self.name,
        )


def encode(event: WebhookEvent, origin: str) -> str:
    """The ``NOTIFY`` payload of ``event`` (ASCII JSON under :data:`MAX_MESSAGE` bytes).

    >>> event = WebhookEvent.from_payload({"id": "7", "status": 1, "url": "u", "new": 2})
    >>> decode(json.loads(encode(event, "me"))) == event
    True
    """
    known: dict[str, Any] = {"id": str(event.video_id), "status": int(event.status)}
    for field in ("url", "size", "has_audio", "credits"):
        value = getattr(event, field)
        if value is not None:
            known[field] = value
    head = {"v": _VERSION, "from": origin, "timestamp": event.timestamp, "nonce": event.nonce,
            "trace_id": event.trace_id}  # fmt: skip
    if event.polled:
        head["polled"] = True  # an older receiver ignores it: an end is an end
    extra = {k: v for k, v in event.payload.items() if k not in KNOWN_FIELDS}
    for body in ({**extra, **known}, known) if extra else (known,):
        text = json.dumps({**head, "body": body}, separators=(",", ":"))
        if len(text) <= MAX_MESSAGE:  # json.dumps escapes to ASCII: characters are bytes
            return text
    raise RelayError(
        f"the event of video {event.video_id} is {len(text)} bytes as JSON without its "
        f"unknown fields: over NOTIFY's limit of {MAX_MESSAGE} bytes (url, trace_id, nonce)"
    )


def decode(message: dict[str, Any]) -> WebhookEvent:
    """The event a message of :func:`encode` carries."""
    body, timestamp, nonce = message["body"], message["timestamp"], message["nonce"]
    if not isinstance(body, dict) or not isinstance(timestamp, int) or not isinstance(nonce, str):
        raise ValueError("body, timestamp or nonce of the wrong type")
    trace_id = message.get("trace_id")
    event = WebhookEvent.from_payload(
        body,
        timestamp=timestamp,
        nonce=nonce,
        trace_id=trace_id if isinstance(trace_id, str) else None,
    )
    return attrs.evolve(event, polled=True) if message.get("polled") is True else event
