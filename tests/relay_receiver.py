"""A webhook receiver in a process of its own, for the relay tests.

``python -m tests.relay_receiver DSN NAME SECRET`` serves ``webhook_handler(SECRET,
hub.deliver)`` on 127.0.0.1 with a hub whose :class:`PostgresRelay` is on DSN and NAME. It
prints ``url URL`` once it serves and listens, then ``unclaimed VIDEO_ID STATUS`` for every
event no job of its own claimed, and stops (closing everything) when its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from pixverse_async.webhooks import CompletionHub, PostgresRelay, WebhookEvent, webhook_handler


def unclaimed(event: WebhookEvent) -> None:
    print("unclaimed", event.video_id, int(event.status), flush=True)


async def main(dsn: str, name: str, secret: str) -> None:
    async with CompletionHub(
        relay=PostgresRelay(dsn, name=name, secret=secret), on_unclaimed=unclaimed
    ) as hub:
        app = web.Application()
        app.router.add_post("/hook", webhook_handler(secret, hub.deliver))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            print(f"url http://127.0.0.1:{port}/hook", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
