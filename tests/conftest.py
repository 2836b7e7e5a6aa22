"""Shared fixtures: the emulator and a scripted server, both real servers on 127.0.0.1."""

from __future__ import annotations

import os

# Every event loop of the suite runs in asyncio debug mode (un-awaited coroutines, callbacks
# from other threads and unclosed transports are reported); set before any loop exists.
os.environ.setdefault("PYTHONASYNCIODEBUG", "1")

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from pixverse_async import PixVerse, PollPolicy, RetryPolicy
from pixverse_async.emulator import Emulator

from .pg import pg_schema, postgres_dsn  # noqa: F401  (PostgreSQL fixtures for every test)
from .temporal_server import temporal_address  # noqa: F401  (a Temporal server, per session)

# A user's project, run by test_pytest_plugin.py in its own pytest process.
collect_ignore = ["user_project"]

API_KEY = "test-key-5f3a9c"
FAST_POLL = PollPolicy(
    first_delay=0.02, interval=0.01, factor=1.5, max_delay=0.05, jitter=0.0, timeout=10
)
FAST_RETRY = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.05) as emu:
        yield emu


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[PixVerse]:
    async with PixVerse(
        api_key=API_KEY, base_url=emulator.base_url, retry=FAST_RETRY, poll=FAST_POLL
    ) as c:
        yield c


Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ScriptedServer:
    """A real HTTP server that answers with scripted replies, in order, and records requests.

    For answers the emulator has no reason to give (every error shape, odd bodies).
    """

    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    default: Reply | None = None

    def add(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        async def reply(request: web.Request) -> web.StreamResponse:
            return web.json_response(body, status=status, headers=headers)

        self.add(reply)

    def raw(self, body: bytes, status: int = 200, content_type: str = "text/html") -> None:
        async def reply(request: web.Request) -> web.StreamResponse:
            return web.Response(body=body, status=status, content_type=content_type)

        self.add(reply)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        if self.replies:
            return await self.replies.pop(0)(request)
        if self.default is not None:
            return await self.default(request)
        return web.json_response({"ErrCode": 0, "ErrMsg": "success", "Resp": {}})


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def scripted_client(scripted: ScriptedServer) -> AsyncIterator[PixVerse]:
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY) as c:
        yield c


async def never_answers(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(30)
    return web.Response()


async def settled(leftovers: Callable[[], set[Any]], timeout: float = 5.0) -> set[Any]:
    """What ``leftovers`` still finds once it finds nothing, or when ``timeout`` runs out
    (the server notices closed connections a few loop turns after the client closed)."""
    deadline = time.monotonic() + timeout
    while (found := leftovers()) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return found


async def answers_held_until_sent(emu: Emulator) -> None:
    """Wait until every answer a "slow" fault held has been sent."""
    held = await settled(lambda: {id(r) for r in emu.state.requests if r.fault == "slow"
                                  and not r.status}, timeout=30)  # fmt: skip
    assert held == set()
