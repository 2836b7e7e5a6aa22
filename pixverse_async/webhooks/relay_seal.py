"""Authenticating the relay's messages: only a process holding the relay key can end a job.

Any database role may ``LISTEN`` and ``NOTIFY`` on any channel, so a relay message proves
nothing by where it came from. Each one is sealed with a key the hub's processes share:

- **The key.** By default derived from the webhook secret,
  ``HMAC-SHA256(secret, "pixverse-async webhook relay key v1")`` (:func:`relay_key`): the
  secret itself never leaves the process, and the relay key cannot sign a delivery; or given
  explicitly (at least 32 random bytes, e.g. ``secrets.token_bytes(32)``).
- **The seal.** A payload is ``2.<sent>.<id>.<mac>.<message>``: the format's version, the
  Unix second it was sent, a random message id (32 hex digits), then
  ``base64url(HMAC-SHA256(key, "<channel>\\n<sent>\\n<id>\\n<message>"))`` without padding,
  then the message itself (the relay's JSON). The channel is signed too, so a message of
  another relay name sharing the key does not count here.
- **Opening.** A payload that is not of this form, whose MAC does not match (compared with
  :func:`hmac.compare_digest`: unauthenticated, tampered with, or sealed with another key),
  whose ``sent`` is more than ``window`` seconds from now either way, or whose id was already
  opened within the window (a copy of a genuine message sent again) raises
  :class:`RelayMessageRejected` naming the reason; the MAC is checked before anything of
  the message is parsed.

Example::

    from pixverse_async.webhooks.relay_seal import RelaySeal, relay_key

    seal = RelaySeal(relay_key("my-webhook-secret"), "pixverse_webhooks_shop")
    payload = seal.seal('{"body":{"id":"7","status":1}}', now=1_700_000_000)
    receiver = RelaySeal(relay_key("my-webhook-secret"), "pixverse_webhooks_shop")
    assert receiver.open(payload, now=1_700_000_010) == '{"body":{"id":"7","status":1}}'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from typing import Final

from .replay import NonceGuard

__all__ = ["KEY_LABEL", "MIN_KEY_BYTES", "OVERHEAD", "RelayMessageRejected", "RelaySeal",
           "relay_key"]  # fmt: skip

#: The label that makes the relay key from the webhook secret (domain separation).
KEY_LABEL: Final = b"pixverse-async webhook relay key v1"
#: The shortest relay key accepted when it is given explicitly.
MIN_KEY_BYTES: Final = 32
_VERSION: Final = "2"
_MAC_CHARS: Final = 43  # 32 bytes in base64url without padding
_SENT_DIGITS: Final = 12
#: The most a seal adds to a message, in bytes.
OVERHEAD: Final = len(_VERSION) + 1 + _SENT_DIGITS + 1 + 32 + 1 + _MAC_CHARS + 1
_SEALED = re.compile(
    rf"{_VERSION}\.([0-9]{{1,{_SENT_DIGITS}}})\.([0-9a-f]{{32}})\.([A-Za-z0-9_-]{{{_MAC_CHARS}}})\."
)


def relay_key(secret: str | bytes) -> bytes:
    """The relay key of the hubs sharing one webhook ``secret`` (never the secret itself).

    >>> relay_key("s") == relay_key(b"s") != relay_key("t")
    True
    """
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(raw, KEY_LABEL, hashlib.sha256).digest()


class RelayMessageRejected(Exception):
    """A payload that is not a genuine, fresh, first-seen message; ``reason`` is one of
    ``malformed``, ``bad_mac``, ``stale``, ``future`` or ``replayed``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class RelaySeal:
    """Seals and opens the messages of one relay channel with one key; see the module.

    ``window``: how far (seconds, either way) a message's send time may be from the
    receiver's clock; ``max_ids``: message ids remembered within the window at most. The key
    never shows (``repr`` included). Use it from one event loop.
    """

    __slots__ = ("_guard", "_mac", "channel", "window")

    def __init__(
        self, key: bytes, channel: str, *, window: float = 300.0, max_ids: int = 100_000
    ) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a relay key has at least {MIN_KEY_BYTES} bytes")
        if not window > 0:
            raise ValueError("window must be more than 0 seconds")
        self.channel = channel
        self.window = window
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._guard = NonceGuard(max_ids)

    def __repr__(self) -> str:
        return f"RelaySeal(key='***', channel={self.channel!r}, window={self.window:g})"

    def seal(self, message: str, *, now: float | None = None) -> str:
        """``message`` sealed for this channel (sent ``now``, default the clock)."""
        sent = str(int(time.time() if now is None else now))
        message_id = secrets.token_hex(16)
        return f"{_VERSION}.{sent}.{message_id}.{self._sign(sent, message_id, message)}.{message}"

    def open(self, payload: str, *, now: float | None = None) -> str:
        """The message a genuine, fresh payload seen for the first time carries; else raise
        :class:`RelayMessageRejected`."""
        now = time.time() if now is None else now
        head = _SEALED.match(payload)
        if head is None:
            raise RelayMessageRejected("malformed", "not a sealed relay message")
        raw_sent, message_id, mac = head.groups()
        message = payload[head.end() :]
        if not hmac.compare_digest(self._sign(raw_sent, message_id, message), mac):
            raise RelayMessageRejected(
                "bad_mac", "its MAC does not match (not sealed with this relay's key)"
            )
        age = now - int(raw_sent)
        if age > self.window:
            raise RelayMessageRejected("stale", f"sent {age:.0f} s ago, beyond the window")
        if -age > self.window:
            raise RelayMessageRejected("future", f"sent {-age:.0f} s ahead, beyond the window")
        if not self._guard.add(message_id, expires=int(raw_sent) + self.window, now=now):
            raise RelayMessageRejected("replayed", "a copy of a message already received")
        return message

    def _sign(self, sent: str, message_id: str, message: str) -> str:
        mac = self._mac.copy()
        try:
            content = f"{self.channel}\n{sent}\n{message_id}\n{message}".encode()
        except UnicodeEncodeError:  # a lone surrogate: cannot have been sealed
            return ""
        mac.update(content)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
