"""PixVerse webhooks: verify signed deliveries, receive them in aiohttp, finish jobs with them.

PixVerse POSTs a signed JSON notification to your URL on every status change of a video
submitted with a ``webhook_id`` (created with its secret in the PixVerse console).

- :class:`WebhookVerifier` checks a delivery (headers, timestamp window, HMAC-SHA256 in
  constant time, replays) and returns a :class:`WebhookEvent`, or raises
  :class:`~pixverse_async.WebhookVerificationError` naming the failed check;
- :func:`webhook_handler` is the ``aiohttp.web`` route: verify, dedupe, your callback, ``ok``;
- :class:`CompletionHub` hands events to the jobs of this process waiting for them;
- :class:`PostgresRelay` makes the hubs of several processes one (PostgreSQL ``NOTIFY``).

Example::

    from aiohttp import web
    from pixverse_async.webhooks import CompletionHub, webhook_handler

    hub = CompletionHub(on_unclaimed=print)       # events for videos no job here waits for
    app = web.Application()
    app.router.add_post("/pixverse/webhook", webhook_handler("my-webhook-secret", hub.deliver))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import WebhookVerificationError
from .events import WebhookEvent
from .hub import (
    CompletionHub,
    CompletionWatch,
    HubClosedError,
    HubStats,
    UnclaimedOverflowError,
)
from .relay import PostgresRelay, RelayError
from .verify import WebhookVerifier

if TYPE_CHECKING:
    from .handler import webhook_handler

__all__ = [
    "CompletionHub",
    "CompletionWatch",
    "HubClosedError",
    "HubStats",
    "PostgresRelay",
    "RelayError",
    "UnclaimedOverflowError",
    "WebhookEvent",
    "WebhookVerificationError",
    "WebhookVerifier",
    "webhook_handler",
]


def __getattr__(name: str) -> Any:
    # the handler needs aiohttp.web (about 20 ms to import): loaded when first asked for
    if name == "webhook_handler":
        from .handler import webhook_handler

        return webhook_handler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
