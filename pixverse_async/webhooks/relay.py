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
  the body's unknown fields) and, with OpenTelemetry on, the delivery span's W3C
  ``traceparent`` (a job ended here links to it): never the webhook secret. ``NOTIFY``
  payloads must stay under 8000 bytes: unknown fields that do not fit are left out; an
  event that would still be larger raises :class:`RelayError` (the delivery fails).
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
- **Authentication.** Any database role can ``NOTIFY`` on any channel, so every message is
  sealed (:mod:`~pixverse_async.webhooks.relay_seal`): an HMAC-SHA256 with a key the
  relay's processes share, over the channel, the send time, a random message id and the
  message. The key is derived from the webhook secret (``secret=``, the one the webhook
  route verifies with; the secret itself is never sent nor used as the key) or given
  (``key=``, at least 32 random bytes). A message that is not sealed, is sealed with
  another key, was sent more than ``window`` seconds (300) from the receiver's clock, or is
  a copy of one already received is dropped, counted in :attr:`PostgresRelay.dropped` and
  logged as a warning (the reason, never the key or the message): it never reaches a job.
  Keys of the message a receiver does not know are ignored, so a later version can carry
  more (a trace context, say) under the same seal.
  Every process of one relay name must run this format (older ones drop its messages as
  unreadable, and their jobs end at their safety-net polls).
- **Names.** ``LISTEN``/``NOTIFY`` channels are per database; ``name`` keeps two unrelated
  applications on one database apart (use one name per PixVerse webhook, e.g.
  ``"shop_1234"``).
- **Lost connection.** The listening connection reconnects by itself
  (:class:`~pixverse_async.journal.pg_listen.ListeningConnection`, the journal's mechanism).
  Messages published while it was away are not replayed: the jobs waiting here then end at
  their hub's :class:`~pixverse_async.jobs.polling.SafetyNet` status poll, as when a delivery is
  lost. Publishing waits for the connection (while it reconnects) up to ``publish_timeout``
  seconds, then fails the delivery.

Example::

    import asyncio
    from pixverse_async.webhooks import CompletionHub, PostgresRelay, WebhookEvent

    URL = "postgresql://postgres@127.0.0.1:5432/test"

    def hub() -> CompletionHub:
        return CompletionHub(relay=PostgresRelay(URL, name="demo", secret="my-webhook-secret"))

    async def main() -> None:
        async with hub() as receiver, hub() as waiter:
            watch = waiter.register(42)             # a job in another process
            await receiver.deliver(WebhookEvent.from_payload({"id": "42", "status": 1}))
            assert (await watch.wait(timeout=10)).video_id == 42

    asyncio.run(main())
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import attrs

from ..errors import PixVerseError, ValidationError
from ..journal.pg_listen import ListeningConnection
from ..logs import sdk_logger
from ..telemetry.deliveries import from_traceparent, traceparent
from .events import KNOWN_FIELDS, WebhookEvent
from .relay_seal import MIN_KEY_BYTES, OVERHEAD, RelayMessageRejected, RelaySeal, relay_key

__all__ = ["CHANNEL_PREFIX", "MAX_MESSAGE", "PostgresRelay", "RelayError"]

logger = sdk_logger("pixverse_async.webhooks")

CHANNEL_PREFIX: Final = "pixverse_webhooks_"
"""The relay's channel is this prefix and its ``name``."""
MAX_MESSAGE: Final = 7999
"""The largest ``NOTIFY`` payload PostgreSQL takes (shorter than 8000 bytes), in bytes."""
_MAX_NAME: Final = 63 - len(CHANNEL_PREFIX)  # a channel name is at most 63 bytes
_NAME = re.compile(rf"[A-Za-z0-9_]{{1,{_MAX_NAME}}}")


class RelayError(PixVerseError):
    """The relay could not publish an event (no connection, or an event too large): the
    delivery fails, so PixVerse retries it; or the relay could not start LISTENing."""


class PostgresRelay:
    """Shares the webhook events of every hub on ``url`` and ``name``; see the module.

    - ``url``: a ``postgresql://`` URL (the password never shows in errors, logs or repr);
    - ``name``: letters, digits and ``_`` (at most 45): the hubs that share events;
    - ``secret``: the webhook secret, from which the relay key is derived; or ``key``: the
      relay key itself (at least 32 bytes); one of the two, the same in every process;
      ``window``: seconds a message's send time may differ from the receiver's clock;
    - ``connect_timeout``: per connection attempt; ``reconnect_timeout``: how long
      :meth:`start` waits for the first ``LISTEN``; ``publish_timeout``: how long a
      delivery's publish waits (for a connection that is reconnecting) before it fails.

    A relay belongs to one hub, which starts and closes it (``async with hub``).

    Example::

        relay = PostgresRelay(url, name="shop_1234", secret=os.environ["PIXVERSE_WEBHOOK_SECRET"])
        hub = CompletionHub(webhook_id="1234", relay=relay)
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "default",
        secret: str | bytes | None = None,
        key: bytes | None = None,
        window: float = 300.0,
        connect_timeout: float = 5.0,
        reconnect_timeout: float = 30.0,
        publish_timeout: float = 10.0,
    ) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValidationError("name", f"must be 1 to {_MAX_NAME} letters, digits or _", name)
        if (secret is None) == (key is None):
            raise ValidationError(
                "secret",
                "give the webhook secret (secret=...) or a relay key (key=...), not both: "
                "every process of the relay authenticates its messages with it",
            )
        if secret is not None and not secret:
            raise ValidationError("secret", "must not be empty")
        if key is not None and (not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES):
            raise ValidationError(
                "key", f"must be at least {MIN_KEY_BYTES} bytes, e.g. secrets.token_bytes(32)"
            )
        if not window > 0:
            raise ValidationError("window", "must be a number of seconds > 0")
        if not publish_timeout > 0:
            raise ValidationError("publish_timeout", "must be a number of seconds > 0")
        self.name = name
        self.channel = CHANNEL_PREFIX + name
        self._seal = RelaySeal(
            key if key is not None else relay_key(secret or b""), self.channel, window=window
        )
        #: Messages received and dropped, by reason (``malformed``, ``bad_mac``, ``stale``,
        #: ``future``, ``replayed``, ``unreadable``): none of them reached a job.
        self.dropped: Counter[str] = Counter()
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
        message = self._seal.seal(encode(event, self.origin))
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
            message = json.loads(self._seal.open(payload))
            if message.get("from") == self.origin:
                return  # this relay's own message come back
            event = decode(message)
        except RelayMessageRejected as exc:
            self._drop(exc.reason, str(exc))
            return
        except (ValueError, TypeError, KeyError, AttributeError, PixVerseError) as exc:
            self._drop("unreadable", str(exc))
            return
        if self._on_event is not None:
            self._on_event(event)

    def _drop(self, reason: str, why: str) -> None:
        self.dropped[reason] += 1
        logger.warning("webhook relay %s: message dropped (%s): %s", self.name, reason, why)

    def _reconnected(self) -> None:
        logger.warning(
            "webhook relay %s: reconnected; events published meanwhile are found by the "
            "safety-net polls",
            self.name,
        )


def encode(event: WebhookEvent, origin: str) -> str:
    """The message of ``event``: ASCII JSON that fits :data:`MAX_MESSAGE` bytes once sealed
    (sealed, it is the ``NOTIFY`` payload). Keys a receiver does not know are ignored: room
    for more (a trace context, say), covered by the seal like the rest.

    >>> event = WebhookEvent.from_payload({"id": "7", "status": 1, "url": "u", "new": 2})
    >>> decode(json.loads(encode(event, "me"))) == event
    True
    """
    known: dict[str, Any] = {"id": str(event.video_id), "status": int(event.status)}
    for field in ("url", "size", "has_audio", "credits"):
        value = getattr(event, field)
        if value is not None:
            known[field] = value
    head = {"from": origin, "timestamp": event.timestamp, "nonce": event.nonce,
            "trace_id": event.trace_id}  # fmt: skip
    if event.polled:
        head["polled"] = True  # an older receiver ignores it: an end is an end
    if event.span_context is not None:
        head["traceparent"] = traceparent(event.span_context)  # the delivery's span
    extra = {k: v for k, v in event.payload.items() if k not in KNOWN_FIELDS}
    for body in ({**extra, **known}, known) if extra else (known,):
        text = json.dumps({**head, "body": body}, separators=(",", ":"))
        if len(text) <= MAX_MESSAGE - OVERHEAD:  # json.dumps writes ASCII: characters are bytes
            return text
    raise RelayError(
        f"the event of video {event.video_id} is {len(text)} bytes as JSON without its "
        f"unknown fields: over NOTIFY's limit of {MAX_MESSAGE} bytes with the {OVERHEAD} of "
        "the seal (url, trace_id, nonce)"
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
    return attrs.evolve(
        event,
        polled=message.get("polled") is True or event.polled,
        relayed=True,
        span_context=from_traceparent(message.get("traceparent")),
    )
