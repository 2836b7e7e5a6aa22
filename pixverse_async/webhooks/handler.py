"""The aiohttp.web route that receives PixVerse's deliveries.

Example::

    from aiohttp import web
    from pixverse_async.webhooks import WebhookEvent, webhook_handler

    async def on_event(event: WebhookEvent) -> None:
        print(event.video_id, event.status, event.url)

    app = web.Application()
    app.router.add_post("/pixverse/webhook", webhook_handler("my-webhook-secret", on_event))
    # web.run_app(app, port=8080)
"""

from __future__ import annotations

import asyncio
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..constants import Webhook
from ..errors import WebhookVerificationError
from ..logs import sdk_logger
from .events import WebhookEvent
from .verify import WebhookVerifier

logger = sdk_logger("pixverse_async.webhooks")

#: What ``on_event`` may be: a function or a coroutine function taking the event.
EventCallback = Callable[[WebhookEvent], "Awaitable[object] | object"]
Handler = Callable[[web.Request], Awaitable[web.Response]]

#: Deliveries are small flat JSON objects; anything bigger is refused unread.
DEFAULT_MAX_BODY = 64 * 1024


def webhook_handler(
    secret_or_verifier: str | bytes | WebhookVerifier,
    on_event: EventCallback,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    remember: int = 100_000,
) -> Handler:
    """An ``aiohttp.web`` handler for one PixVerse webhook: verify, dedupe, ``on_event``, answer.

    - a body over ``max_body`` bytes: 413, refused from its ``Content-Length`` before it is
      read (or as soon as a chunked body passes the limit);
    - a failed check (see :class:`WebhookVerifier`): 401, or 400 when the body is not the
      documented JSON; the answer names the check, never the secret or a stack trace;
    - a status change already handled (same video id and status; the last ``remember`` are
      kept): 200 ``ok`` at once, ``on_event`` is not called again; a copy arriving while the
      first is being handled waits for its outcome;
    - otherwise ``on_event(event)`` (awaited when it returns an awaitable), then 200 ``ok``. If
      it raises, the answer is 500 (PixVerse retries the delivery later) and the error is
      logged on ``pixverse_async.webhooks``.

    Pass a :class:`~pixverse_async.webhooks.CompletionHub`'s ``deliver`` as ``on_event`` to
    finish jobs waiting in the same process.

    Example::

        app.router.add_post("/pixverse/webhook", webhook_handler(secret, hub.deliver))
    """
    if max_body < 1 or remember < 1:
        raise ValueError("max_body and remember must be at least 1")
    verifier = (
        secret_or_verifier
        if isinstance(secret_or_verifier, WebhookVerifier)
        else WebhookVerifier(secret_or_verifier)
    )
    handled: OrderedDict[tuple[int, int], None] = OrderedDict()
    running: dict[tuple[int, int], asyncio.Future[bool]] = {}

    async def run(event: WebhookEvent, key: tuple[int, int]) -> bool:
        outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        running[key] = outcome
        ok = False
        try:
            result = on_event(event)
            if inspect.isawaitable(result):
                await result
            ok = True
        except Exception:
            logger.exception(
                "webhook on_event failed for video %s (status %s)",
                event.video_id,
                event.status,
                extra={"video_id": event.video_id},
            )
        finally:
            del running[key]
            outcome.set_result(ok)
            if not ok:
                verifier.forget_nonce(event.nonce)
        if ok:
            handled[key] = None
            if len(handled) > remember:
                handled.popitem(last=False)
        return ok

    async def handle(request: web.Request) -> web.Response:
        body = await _read_capped(request, max_body)
        if body is None:
            return _answer(413, f"body over {max_body} bytes")
        try:
            event = verifier.verify(request.headers, body)
        except WebhookVerificationError as exc:
            logger.warning("webhook refused (%s): %s", exc.reason, exc)
            return _answer(400 if exc.bad_body else 401, str(exc))
        key = (event.video_id, int(event.status))
        while True:
            if key in handled:
                handled.move_to_end(key)
                return _answer(200, Webhook.ACK_BODY)
            first = running.get(key)
            if first is None:
                break
            if await asyncio.shield(first):
                return _answer(200, Webhook.ACK_BODY)
        if await run(event, key):
            return _answer(200, Webhook.ACK_BODY)
        return _answer(500, "the event could not be handled; retry later")

    return handle


def _answer(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


async def _read_capped(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it is known to be over ``limit`` bytes (unread past that)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
