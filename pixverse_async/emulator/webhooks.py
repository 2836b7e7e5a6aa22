"""The emulator's webhook deliveries, made as PixVerse makes them.

A generation submitted with a ``webhook_id`` the emulator knows (``Emulator(webhooks={"1234":
(url, secret)})``) is delivered to that URL when its status changes from generating (5) to its
final status: a JSON ``POST`` of ``id`` (a string), ``status``, ``url``, ``size``,
``has_audio`` and ``credits``, with the ``Webhook-Timestamp``, ``Webhook-Nonce``,
``Webhook-Signature`` and ``Ai-Trace-Id`` headers. Anything but HTTP 200 with the body ``ok``
is retried after 2 s, 10 s, 30 s, 1 min, 5 min, 15 min, 1 h and 4 h, times
``webhook_retry_scale`` (e.g. 0.001 in tests). Every attempt is signed afresh (new timestamp
and nonce) and recorded with its answer in ``EmulatorState.webhook_deliveries``.

The signature is written here from the spec, independently of the client's verifier:
``base64(HMAC-SHA256(secret, f"{timestamp}\\n{nonce}\\n{fields}"))``, the fields form-encoded
in body order (or sorted, with ``webhook_key_order="sorted"``).

Faults (:class:`WebhookFaults`, seeded) act per attempt, at most one each: ``drop`` (lost on
the way: nothing is sent, the attempt counts as failed and is retried), ``duplicate`` (sent
twice), ``delay`` (held ``delay_seconds``), ``reorder`` (held a random time up to
``reorder_seconds`` so later deliveries overtake it); ``lose`` loses a whole delivery, retries
included (only a status poll can find that video's end).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import random
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import aiohttp

from ..constants import Webhook
from .clock import EmulatorClock
from .state import EmulatorState, Generation, WebhookDelivery

ATTEMPT_FAULTS = ("drop", "duplicate", "delay", "reorder")
_NONCE_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class WebhookEndpoint:
    """A webhook as created in the PixVerse console: where to POST and the signing secret."""

    url: str
    secret: str = field(repr=False)


@dataclass
class WebhookFaults:
    """Rates (0..1) of delivery faults, and their parameters (see the module docstring)."""

    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    reorder: float = 0.0
    lose: float = 0.0
    delay_seconds: float = 1.0
    reorder_seconds: float = 0.5
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def draw(self) -> str | None:
        """The fault of one attempt, or None."""
        roll = self._random.random()
        for name in ATTEMPT_FAULTS:
            rate: float = getattr(self, name)
            if roll < rate:
                return name
            roll -= rate
        return None

    def loses(self) -> bool:
        """Whether a whole delivery is lost."""
        return self.lose > 0 and self._random.random() < self.lose

    def hold(self, fault: str | None) -> float:
        """Seconds an attempt with ``fault`` is held before it is sent."""
        if fault == "delay":
            return self.delay_seconds
        if fault == "reorder":
            return self._random.uniform(0, self.reorder_seconds)
        return 0.0


def endpoints_from(webhooks: Mapping[str, Any]) -> dict[str, WebhookEndpoint]:
    """``{"1234": (url, secret)}`` (or endpoints) as endpoints keyed by webhook id."""
    found: dict[str, WebhookEndpoint] = {}
    for webhook_id, value in webhooks.items():
        endpoint = value if isinstance(value, WebhookEndpoint) else WebhookEndpoint(*value)
        if not endpoint.url or not endpoint.secret:
            raise ValueError(f"webhook {webhook_id}: the URL and the secret must not be empty")
        found[str(webhook_id)] = endpoint
    return found


def parse_webhook_option(text: str) -> tuple[str, WebhookEndpoint]:
    """``ID=URL,SECRET`` (the CLI's ``--webhook``); the secret follows the last comma."""
    webhook_id, sep, rest = text.partition("=")
    url, comma, secret = rest.rpartition(",")
    if not (sep and comma and webhook_id and url and secret):
        raise ValueError("expected ID=URL,SECRET")
    return webhook_id, WebhookEndpoint(url, secret)


def sign(secret: str, timestamp: str, nonce: str, body: Mapping[str, Any], *, order: str) -> str:
    """PixVerse's signature of ``body`` (fields in body order, or ``order="sorted"``)."""
    keys = sorted(body) if order == "sorted" else list(body)
    fields = "&".join(f"{quote_plus(k)}={quote_plus(_text(body[k]))}" for k in keys)
    content = f"{timestamp}\n{nonce}\n{fields}".encode()
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class WebhookSender:
    """Schedules and makes the deliveries of one emulator; :meth:`stop` cancels what is left."""

    def __init__(
        self,
        endpoints: Mapping[str, WebhookEndpoint],
        state: EmulatorState,
        *,
        retry_scale: float = 1.0,
        faults: WebhookFaults | None = None,
        key_order: str = "body",
        timeout: float = 10.0,
        seed: int | None = None,
        clock: EmulatorClock | None = None,
    ) -> None:
        if key_order not in ("body", "sorted"):
            raise ValueError("webhook_key_order must be 'body' or 'sorted'")
        self.endpoints = dict(endpoints)
        self.state = state
        self.retry_scale = retry_scale
        self.faults = faults or WebhookFaults()
        self.key_order = key_order
        self.timeout = timeout
        self._random = random.Random(seed)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.clock = clock or EmulatorClock()

    def __repr__(self) -> str:
        return f"WebhookSender(webhooks={sorted(self.endpoints)}, pending={len(self._tasks)})"

    def schedule(self, generation: Generation, *, url: str, size: int) -> bool:
        """Deliver ``generation``'s status change if it names a known ``webhook_id``."""
        webhook_id = generation.body.get("webhook_id")
        endpoint = self.endpoints.get(str(webhook_id)) if webhook_id is not None else None
        if endpoint is None:
            return False
        task = asyncio.get_running_loop().create_task(
            self._deliver(str(webhook_id), endpoint, generation, url, size)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def drain(self) -> None:
        """Wait until every scheduled delivery is done (acknowledged, or out of retries)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel pending deliveries, wait for them, close the HTTP session."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver(
        self, webhook_id: str, endpoint: WebhookEndpoint, gen: Generation, url: str, size: int
    ) -> None:
        await self.clock.sleep_until(lambda: gen.done_at)  # finish() and advance() count
        status = gen.final_status
        ok = status == 1
        body = {
            "id": str(gen.video_id),
            "status": status,
            "url": url if ok else "",
            "size": size if ok else 0,
            "has_audio": bool(gen.body.get("generate_audio_switch")),
            "credits": gen.credits,
        }
        record = functools.partial(WebhookDelivery, webhook_id, gen.video_id, status)
        if self.faults.loses():
            self.state.webhook_deliveries.append(record(fault="lose"))
            return
        for attempt, delay in enumerate((0.0, *Webhook.RETRY_DELAYS)):
            if attempt:
                await asyncio.sleep(delay * self.retry_scale)
            fault = self.faults.draw()
            hold = self.faults.hold(fault)
            if hold:
                await asyncio.sleep(hold)
            sent = []
            for _ in range(2 if fault == "duplicate" else 1):
                delivery = record(attempt=attempt, delay=delay * self.retry_scale, fault=fault)
                self.state.webhook_deliveries.append(delivery)
                if fault != "drop":
                    await self._post(endpoint, body, gen.trace_id, delivery)
                sent.append(delivery)
            if any(d.acknowledged for d in sent):
                return

    async def _post(
        self,
        endpoint: WebhookEndpoint,
        body: dict[str, Any],
        trace_id: str | None,
        delivery: WebhookDelivery,
    ) -> None:
        timestamp = str(int(time.time()))
        nonce = "".join(self._random.choices(_NONCE_ALPHABET, k=32))
        headers = {
            "Content-Type": "application/json",
            Webhook.TIMESTAMP_HEADER: timestamp,
            Webhook.NONCE_HEADER: nonce,
            Webhook.SIGNATURE_HEADER: sign(
                endpoint.secret, timestamp, nonce, body, order=self.key_order
            ),
        }
        if trace_id:
            headers[Webhook.TRACE_ID_HEADER] = trace_id
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.post(
                endpoint.url, data=json.dumps(body).encode(), headers=headers
            ) as response:
                delivery.http_status = response.status
                delivery.answer = (await response.read())[:200].decode(errors="replace")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"[:200]
        delivery.acknowledged = (
            delivery.http_status == 200 and delivery.answer.strip() == Webhook.ACK_BODY
        )
