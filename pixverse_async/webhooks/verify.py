"""Checking a delivery: headers, timestamp window, signature (constant time), replays.

Example::

    import base64, hashlib, hmac, json
    from pixverse_async.webhooks import WebhookVerifier

    secret, ts, nonce = "whsec-example", "1700000000", "N" * 32
    body = {"id": "42", "status": 1, "has_audio": False}
    content = f"{ts}\\n{nonce}\\nid=42&status=1&has_audio=false".encode()
    signature = base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha256).digest())
    headers = {"Webhook-Timestamp": ts, "Webhook-Nonce": nonce,
               "Webhook-Signature": signature.decode()}
    event = WebhookVerifier(secret).verify(headers, json.dumps(body).encode(), now=1700000001)
    assert event.video_id == 42 and event.has_audio is False
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from ..constants import Webhook
from ..errors import WebhookVerificationError
from .events import WebhookEvent
from .replay import NonceGuard
from .signing import form_payload, signed_content

_MAX_NONCE_CHARS = 128
#: How deeply a delivery's body may nest objects and arrays. PixVerse documents a flat object
#: (depth 1); the room above is for unknown fields it may add.
MAX_DEPTH = 32
_MAX_TIMESTAMP_DIGITS = 15


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict from another framework: look up case-insensitively
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _refuse(reason: str, message: str) -> WebhookVerificationError:
    return WebhookVerificationError(reason, f"webhook refused: {message}")


class WebhookVerifier:
    """Verifies PixVerse webhook deliveries signed with one webhook's secret key.

    :meth:`verify` checks, in order: the ``Webhook-Timestamp``, ``Webhook-Nonce`` and
    ``Webhook-Signature`` headers are present and well formed; the timestamp is within
    ``tolerance`` seconds of now (either way); the body is a JSON object nested at most
    :data:`MAX_DEPTH` levels; the signature matches
    (compared in constant time, with the fields in body order, then sorted); the nonce was not
    used within the window (``max_nonces`` remembered at most); the body has an ``id`` and a
    ``status``. A failed check raises :class:`~pixverse_async.WebhookVerificationError` whose
    ``reason`` names it. The secret is never shown (``repr`` included).

    One verifier per webhook secret, shared by every handler of that webhook in the process
    (the replay guard lives in it). Not thread-safe: use it from one event loop.

    Example::

        verifier = WebhookVerifier("my-webhook-secret", tolerance=300)
        event = verifier.verify(request.headers, await request.read())
    """

    __slots__ = ("_guard", "_mac", "tolerance")

    def __init__(
        self, secret: str | bytes, *, tolerance: float = 300, max_nonces: int = 100_000
    ) -> None:
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        if not key:
            raise ValueError("the webhook secret is empty")
        if tolerance <= 0:
            raise ValueError("tolerance must be more than 0 seconds")
        self.tolerance = tolerance
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._guard = NonceGuard(max_nonces)

    def __repr__(self) -> str:
        return f"WebhookVerifier(secret='***', tolerance={self.tolerance:g})"

    def verify(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> WebhookEvent:
        """Check one delivery and return its event, or raise ``WebhookVerificationError``.

        ``headers`` may be aiohttp's (case-insensitive) or any mapping; ``now`` is Unix
        seconds (default: the clock). The nonce is remembered only when every check passed.
        """
        now = time.time() if now is None else now
        raw_ts = self._required(headers, Webhook.TIMESTAMP_HEADER)
        nonce = self._required(headers, Webhook.NONCE_HEADER)
        raw_sig = self._required(headers, Webhook.SIGNATURE_HEADER)
        timestamp = _parse_timestamp(raw_ts)
        _check_nonce(nonce)
        signature = _parse_signature(raw_sig)
        age = now - timestamp
        if age > self.tolerance:
            raise _refuse(
                "stale_timestamp",
                f"{Webhook.TIMESTAMP_HEADER} is {age:.0f} s old, beyond the "
                f"{self.tolerance:g} s tolerance",
            )
        if -age > self.tolerance:
            raise _refuse(
                "future_timestamp",
                f"{Webhook.TIMESTAMP_HEADER} is {-age:.0f} s in the future, beyond the "
                f"{self.tolerance:g} s tolerance",
            )
        fields = _parse_body(body)
        if not self._matches(raw_ts, nonce, fields, signature):
            raise _refuse(
                "bad_signature",
                f"{Webhook.SIGNATURE_HEADER} does not match the body "
                "(fields in body order and sorted were both checked)",
            )
        if self._guard.seen(nonce, now):
            raise _refuse(
                "replayed_nonce",
                f"{Webhook.NONCE_HEADER} was already used within the tolerance window",
            )
        event = WebhookEvent.from_payload(
            fields,
            timestamp=timestamp,
            nonce=nonce,
            trace_id=_header(headers, Webhook.TRACE_ID_HEADER),
        )
        self._guard.add(nonce, expires=timestamp + self.tolerance, now=now)
        return event

    def forget_nonce(self, nonce: str) -> None:
        """Let a delivery with ``nonce`` in again (its processing failed; a retry may reuse it)."""
        self._guard.discard(nonce)

    def _required(self, headers: Mapping[str, str], name: str) -> str:
        value = _header(headers, name)
        if value is None or not value.strip():
            raise _refuse("missing_header", f"the {name} header is missing")
        return value.strip()

    def _matches(
        self, timestamp: str, nonce: str, fields: dict[str, object], signature: bytes
    ) -> bool:
        body_order = form_payload(fields)
        if self._digest(timestamp, nonce, body_order, signature):
            return True
        if list(fields) == sorted(fields):
            return False
        return self._digest(timestamp, nonce, form_payload(fields, sort=True), signature)

    def _digest(self, timestamp: str, nonce: str, payload: str, signature: bytes) -> bool:
        mac = self._mac.copy()
        mac.update(signed_content(timestamp, nonce, payload))
        return hmac.compare_digest(mac.digest(), signature)


def _parse_body(body: bytes) -> dict[str, object]:
    """The body's JSON object, nested at most :data:`MAX_DEPTH` levels (the signature's
    form encoding writes nested values with ``json.dumps``, which must not overflow)."""
    try:
        fields = json.loads(body)
    except RecursionError:
        fields = _TOO_DEEP
    except (ValueError, UnicodeDecodeError):
        fields = None
    openers = body.count(b"[") + body.count(b"{")  # at least the depth: most bodies need no walk
    if fields is _TOO_DEEP or (
        isinstance(fields, dict) and openers > MAX_DEPTH and _deeper_than(fields, MAX_DEPTH)
    ):
        raise _refuse("body_not_json", f"the body is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(fields, dict):
        raise _refuse("body_not_json", "the body is not a JSON object")
    return fields


_TOO_DEEP = object()


def _deeper_than(value: object, limit: int) -> bool:
    """Whether ``value`` nests objects or arrays more than ``limit`` levels (itself: 1)."""
    stack: list[tuple[dict[str, object] | list[object], int]] = []
    if isinstance(value, (dict, list)):
        stack.append((value, 1))
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _parse_timestamp(raw: str) -> int:
    if not (len(raw) <= _MAX_TIMESTAMP_DIGITS and raw.isascii() and raw.isdigit()):
        raise _refuse(
            "malformed_header", f"the {Webhook.TIMESTAMP_HEADER} header is not Unix seconds"
        )
    return int(raw)


def _check_nonce(nonce: str) -> None:
    if not (len(nonce) <= _MAX_NONCE_CHARS and nonce.isascii() and nonce.isalnum()):
        raise _refuse(
            "malformed_header",
            f"the {Webhook.NONCE_HEADER} header is not 1 to {_MAX_NONCE_CHARS} letters and digits",
        )


def _parse_signature(raw: str) -> bytes:
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != hashlib.sha256().digest_size:
        raise _refuse(
            "malformed_header",
            f"the {Webhook.SIGNATURE_HEADER} header is not a base64 HMAC-SHA256",
        )
    return decoded
