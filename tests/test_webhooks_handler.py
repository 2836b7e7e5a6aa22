"""webhook_handler over loopback: the emulator delivers, the handler verifies, dedupes, answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pixverse_async import PixVerse
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.webhooks import WebhookFaults
from pixverse_async.models import VideoStatus
from pixverse_async.webhooks import CompletionHub, WebhookEvent, WebhookVerifier, webhook_handler

from .conftest import API_KEY, FAST_RETRY
from .webhook_signing import delivery

SECRET = "whsec-handler-SECRET-9"
FIELDS = {"prompt": "a kite", "model": "v5", "duration": 5, "quality": "540p",
          "aspect_ratio": "16:9"}  # fmt: skip


@contextlib.asynccontextmanager
async def serving(handler: Any, path: str = "/hook") -> AsyncIterator[str]:
    """A real aiohttp server on 127.0.0.1 with ``handler`` at ``path``; yields its URL."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def emulated(url: str, **config: Any) -> AsyncIterator[tuple[Emulator, PixVerse]]:
    config.setdefault("generation_seconds", 0.01)
    config.setdefault("webhook_retry_scale", 0.001)
    async with Emulator(api_keys={API_KEY}, webhooks={"1234": (url, SECRET)}, **config) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            yield emu, client


async def submit(client: PixVerse, **extra: Any) -> int:
    body = {**FIELDS, "webhook_id": "1234", **extra}
    resp = await client.session.request("POST", Paths.TEXT_TO_VIDEO, json_body=body, paid=True)
    return int(resp["video_id"])


async def test_verified_events_reach_on_event_and_are_acknowledged() -> None:
    events: list[WebhookEvent] = []
    async with serving(webhook_handler(SECRET, events.append)) as url:
        async with emulated(url) as (emu, client):
            ok_id = await submit(client)
            failed_id = await submit(client, prompt="a kite #fail")
            await emu.webhooks.drain()
    by_id = {e.video_id: e for e in events}
    assert set(by_id) == {ok_id, failed_id} and len(events) == 2
    assert by_id[ok_id].status is VideoStatus.SUCCESSFUL and by_id[ok_id].url
    assert by_id[failed_id].status is VideoStatus.FAILED
    assert by_id[ok_id].trace_id == emu.state.generations[ok_id].trace_id
    records = emu.state.webhook_deliveries
    assert [(r.http_status, r.answer, r.acknowledged) for r in records] == [(200, "ok", True)] * 2


async def test_an_async_on_event_that_fails_gets_500_and_the_retry_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def on_event(event: WebhookEvent) -> None:
        calls.append(event.video_id)
        await asyncio.sleep(0)
        if len(calls) == 1:
            raise RuntimeError("database down: Traceback leak?")

    with caplog.at_level(logging.ERROR, logger="pixverse_async.webhooks"):
        async with serving(webhook_handler(SECRET, on_event)) as url:
            async with emulated(url) as (emu, client):
                video_id = await submit(client)
                await emu.webhooks.drain()
    assert calls == [video_id, video_id]
    first, second = emu.state.deliveries_for(video_id)
    assert (first.http_status, second.http_status, second.answer) == (500, 200, "ok")
    assert "Traceback" not in first.answer and "database" not in first.answer
    assert "on_event failed" in caplog.text and SECRET not in caplog.text


async def test_a_wrong_secret_is_401_every_time_and_on_event_never_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[WebhookEvent] = []
    handler = webhook_handler("whsec-some-other-secret", events.append)
    with caplog.at_level(logging.WARNING, logger="pixverse_async.webhooks"):
        async with serving(handler) as url:
            async with emulated(url, webhook_retry_scale=0.00001) as (emu, client):
                await submit(client)
                await emu.webhooks.drain()
    assert events == []
    records = emu.state.webhook_deliveries
    assert len(records) == 9 and {r.http_status for r in records} == {401}
    assert all("bad_signature" in r.answer or "does not match" in r.answer for r in records)
    assert all(SECRET not in r.answer for r in records)
    assert "bad_signature" in caplog.text and SECRET not in caplog.text


async def test_duplicated_deliveries_call_on_event_once_per_status() -> None:
    events: list[WebhookEvent] = []
    faults = WebhookFaults(duplicate=1.0, seed=1)
    async with serving(webhook_handler(SECRET, events.append)) as url:
        async with emulated(url, webhook_faults=faults) as (emu, client):
            ids = [await submit(client) for _ in range(5)]
            await emu.webhooks.drain()
    assert sorted(e.video_id for e in events) == sorted(ids)
    assert len(emu.state.webhook_deliveries) == 10
    assert all(r.acknowledged for r in emu.state.webhook_deliveries)


async def test_a_copy_arriving_while_the_first_is_handled_waits_for_its_outcome() -> None:
    release = asyncio.Event()
    started = asyncio.Event()
    arrived: list[int] = []
    second_arrived = asyncio.Event()
    calls: list[WebhookEvent] = []

    async def on_event(event: WebhookEvent) -> None:
        calls.append(event)
        started.set()
        await release.wait()

    inner = webhook_handler(SECRET, on_event)

    async def counted(request: web.Request) -> web.Response:
        arrived.append(1)
        if len(arrived) == 2:
            second_arrived.set()
        return await inner(request)

    body = {"id": "77", "status": 1}
    async with serving(counted) as url, aiohttp.ClientSession() as http:

        async def post(nonce: str) -> tuple[int, str]:
            headers, raw = delivery(SECRET, body, timestamp=now(), nonce=nonce)
            async with http.post(url, data=raw, headers=headers) as resp:
                return resp.status, await resp.text()

        first = asyncio.ensure_future(post("a" * 32))
        await started.wait()
        second = asyncio.ensure_future(post("b" * 32))
        await second_arrived.wait()
        assert not second.done()  # it cannot be answered before the first is
        release.set()
        assert await first == (200, "ok") and await second == (200, "ok")
        assert len(calls) == 1
        assert await post("c" * 32) == (200, "ok")  # a later repeat: answered from memory
        assert len(calls) == 1


async def posting(url: str, headers: dict[str, str], raw: bytes) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=raw, headers=headers) as resp:
            return resp.status, await resp.text()


def now() -> int:
    return int(time.time())


async def test_bad_requests_get_400_or_401_without_a_stack_trace() -> None:
    events: list[WebhookEvent] = []
    async with serving(webhook_handler(WebhookVerifier(SECRET), events.append)) as url:
        headers, raw = delivery(SECRET, {"id": "1", "status": 1}, timestamp=now(), nonce="n1")
        status, text = await posting(url, headers, b"not json")
        assert status == 400 and "not a JSON object" in text
        status, text = await posting(url, {}, raw)
        assert status == 401 and "missing" in text
        stale, raw = delivery(SECRET, {"id": "1", "status": 1}, timestamp=now() - 3600, nonce="n2")
        status, text = await posting(url, stale, raw)
        assert status == 401 and "old" in text
        headers, raw = delivery(SECRET, {"id": "x", "status": 1}, timestamp=now(), nonce="n3")
        status, text = await posting(url, headers, raw)
        assert status == 400 and "field id" in text
        headers, raw = delivery(SECRET, {"id": "2", "status": 1}, timestamp=now(), nonce="n4")
        assert await posting(url, headers, raw) == (200, "ok")
        status, text = await posting(url, headers, raw)
        assert status == 401 and "already used" in text
    assert [e.video_id for e in events] == [2]


async def raw_exchange(url: str, head: bytes, body: bytes) -> bytes:
    """Send ``head`` and part of a body over a raw socket; read the answer (no more body)."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_an_oversized_body_is_refused_from_its_length_before_it_is_read() -> None:
    events: list[WebhookEvent] = []
    async with serving(webhook_handler(SECRET, events.append, max_body=1024)) as url:
        head = (
            b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        # only 10 bytes of the announced 50 MB are ever sent: an answer proves nothing waited
        answer = await raw_exchange(url, head, b'{"id": "1"')
        assert answer.startswith(b"HTTP/1.1 413")
        chunked = (
            b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 2000
        answer = await raw_exchange(url, chunked, b"%x\r\n%s\r\n" % (len(chunk), chunk))
        assert answer.startswith(b"HTTP/1.1 413")
    assert events == []


async def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        webhook_handler(SECRET, print, max_body=0)


async def test_jobs_finish_through_the_hub_despite_delivery_faults() -> None:
    """1,000 generations, 20 % of attempts dropped, 20 % duplicated, reordered: every watch ends
    once, with the status the emulator decided, and nothing reaches the user."""
    unclaimed: list[WebhookEvent] = []
    hub = CompletionHub(on_unclaimed=unclaimed.append)
    faults = WebhookFaults(drop=0.2, duplicate=0.2, reorder=0.2, reorder_seconds=0.05, seed=11)
    prompts = ["ok", "ok", "ok #fail", "ok #moderated"]
    async with serving(webhook_handler(SECRET, hub.deliver)) as url:
        async with emulated(
            url,
            webhook_faults=faults,
            webhook_retry_scale=0.001,
            max_concurrent_generations=10_000,
        ) as (emu, client):

            async def job(i: int) -> tuple[int, WebhookEvent | None]:
                with hub.submitting():
                    video_id = await submit(client, prompt=prompts[i % 4])
                    watch = hub.register(video_id)
                with watch:
                    return video_id, await watch.wait(timeout=30)

            results = await asyncio.gather(*(job(i) for i in range(1000)))
            await emu.webhooks.drain()
    assert len({video_id for video_id, _ in results}) == 1000
    for video_id, event in results:
        assert event is not None and event.video_id == video_id
        assert int(event.status) == emu.state.generations[video_id].final_status
    assert unclaimed == []
    faults_seen = {r.fault for r in emu.state.webhook_deliveries}
    assert {"drop", "duplicate", "reorder"} <= faults_seen


def test_the_module_needs_aiohttp_web_only_for_the_handler() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pixverse_async.webhooks.hub, pixverse_async.webhooks as w;"
        "assert 'aiohttp.web' not in sys.modules; w.webhook_handler;"
        "assert 'aiohttp.web' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_the_emulator_command_delivers_to_the_handler() -> None:
    """``pixverse emulator --webhook ID=URL,SECRET`` as a process, the handler in this one."""
    import sys

    got = asyncio.Event()
    events: list[WebhookEvent] = []

    def on_event(event: WebhookEvent) -> None:
        events.append(event)
        got.set()

    async with serving(webhook_handler(SECRET, on_event)) as url:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pixverse_async", "emulator", "--port", "0",
            "--generation-seconds", "0.01", "--api-key", API_KEY,
            "--webhook", f"1234={url},{SECRET}", "--webhook-retry-scale", "0.001",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            base_url = line.rsplit(" ", 1)[-1].strip()
            async with PixVerse(api_key=API_KEY, base_url=base_url, retry=FAST_RETRY) as client:
                video_id = await submit(client)
            await asyncio.wait_for(got.wait(), 30)
        finally:
            proc.terminate()
            await proc.communicate()
    [event] = events
    assert event.video_id == video_id and event.status is VideoStatus.SUCCESSFUL


async def test_a_deeply_nested_unsigned_body_is_400_not_a_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """About 2 KB of ``[[[...]]]`` at depth ~980: ``json.loads`` takes it, and the signature's
    form encoding (``json.dumps`` of the nested value) used to overflow the stack: a 500
    and a logged traceback for a request nobody signed. Where exactly ``loads`` stops and
    ``dumps`` overflows depends on the stack already in use, so every depth around it is
    sent."""
    events: list[WebhookEvent] = []
    caplog.set_level(logging.WARNING)
    answers: dict[int, tuple[int, str]] = {}
    async with serving(webhook_handler(SECRET, events.append)) as url:
        for depth in range(900, 1001):
            raw = b'{"id": "1", "status": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"
            headers = {
                "Webhook-Timestamp": str(now()),
                "Webhook-Nonce": f"deep{depth}",
                "Webhook-Signature": "A" * 43 + "=",  # well formed, signed by nobody
            }
            answers[depth] = await posting(url, headers, raw)
    assert len(answers[980][1]) < 200
    assert {status for status, _ in answers.values()} == {400}, answers
    assert all("nested deeper than 32 levels" in text for _, text in answers.values())
    assert events == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
