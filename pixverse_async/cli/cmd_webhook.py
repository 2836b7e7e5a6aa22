"""``pixverse webhook listen``: receive PixVerse webhooks and print each verified event.

The secret comes from ``--secret`` or ``$PIXVERSE_WEBHOOK_SECRET`` (better: it stays out of the
process list and the shell history) and is never printed. Refused deliveries are reported on
stderr with the failed check; events go to stdout, one line each (JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ..constants import WEBHOOK_SECRET_ENV
from ..webhooks import WebhookEvent, WebhookVerifier
from ..webhooks.handler import webhook_handler
from .errors import EXIT_OK, UsageError
from .output import dumps, wants_json


def event_record(event: WebhookEvent) -> dict[str, Any]:
    """An event as plain data (``status`` by name, e.g. ``successful``)."""
    return {
        "video_id": event.video_id,
        "status": event.status.name.lower(),
        "status_code": int(event.status),
        "url": event.url or None,
        "size": event.size,
        "has_audio": event.has_audio,
        "credits": event.credits,
        "trace_id": event.trace_id,
        **({"extra": event.extra} if event.extra else {}),
    }


def _line(record: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v}" for k, v in record.items() if v is not None)


@contextlib.contextmanager
def _refusals_on_stderr() -> Iterator[None]:
    logger = logging.getLogger("pixverse_async.webhooks")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pixverse: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


async def run_listen(args: argparse.Namespace) -> int:
    """Serve the webhook route until SIGINT or SIGTERM."""
    secret = args.secret or os.environ.get(WEBHOOK_SECRET_ENV)
    if not secret:
        raise UsageError(f"no webhook secret: pass --secret or set ${WEBHOOK_SECRET_ENV}")
    as_json = wants_json(args)

    def on_event(event: WebhookEvent) -> None:
        record = event_record(event)
        print(dumps(record) if as_json else _line(record), flush=True)

    app = web.Application()
    handler = webhook_handler(WebhookVerifier(secret, tolerance=args.tolerance), on_event)
    app.router.add_post(args.path, handler)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else args.port
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"listening for webhooks on http://{host}:{port}{args.path}", file=sys.stderr)
        sys.stderr.flush()
        with _refusals_on_stderr():
            await stop.wait()
    finally:
        await runner.cleanup()
    return EXIT_OK


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add ``webhook listen``."""
    webhook = commands.add_parser(
        "webhook", help="receive PixVerse webhooks", description="Receive PixVerse webhooks."
    )
    actions = webhook.add_subparsers(dest="webhook_command", metavar="ACTION", required=True)
    listen = actions.add_parser(
        "listen",
        parents=[common],
        help="print verified webhook events",
        description="Serve a webhook URL and print each verified event (refusals on stderr). "
        "Create the webhook in the PixVerse console with this URL, reachable from the "
        "internet, and send its webhook_id with your generations.",
    )
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    listen.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any)")
    listen.add_argument("--path", default="/webhook", help="URL path (default /webhook)")
    listen.add_argument(
        "--secret",
        metavar="SECRET",
        default=None,
        help=f"the webhook's secret key (default: ${WEBHOOK_SECRET_ENV}, which keeps it out "
        "of the process list)",
    )
    listen.add_argument(
        "--tolerance",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="accepted clock difference of a delivery's timestamp (default 300)",
    )
    listen.set_defaults(run=run_listen)
