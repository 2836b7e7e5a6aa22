"""Hooks on every attempt, raw responses and the user's aiohttp trace configs, over loopback."""

from __future__ import annotations

import types

import aiohttp
import pytest

from pixverse_async import PixVerse, ValidationError
from pixverse_async.emulator import Emulator
from pixverse_async.hooks import RequestEvent, ResponseEvent
from pixverse_async.jobs.generation_job import GenerationJob

from .conftest import API_KEY, FAST_RETRY, ScriptedServer

OK = {"ErrCode": 0, "ErrMsg": "success", "Resp": {"account_id": 7, "credit_monthly": 90}}


async def test_sync_and_async_hooks_see_every_attempt_without_the_key(
    scripted: ScriptedServer,
) -> None:
    scripted.raw(b"<html>502</html>", status=502)
    scripted.json(OK, headers={"X-Seen": "yes"})
    sent: list[RequestEvent] = []
    answered: list[ResponseEvent] = []

    async def on_response(event: ResponseEvent) -> None:
        answered.append(event)

    async with PixVerse(
        api_key=API_KEY,
        base_url=scripted.base_url,
        retry=FAST_RETRY,
        on_request=sent.append,
        on_response=on_response,
    ) as client:
        balance = await client.account.balance()

    assert balance.account_id == 7
    assert [e.attempt for e in sent] == [1, 2]
    assert sent[0].trace_id == sent[1].trace_id == scripted.requests[0]["headers"]["Ai-trace-id"]
    assert sent[0].url == scripted.base_url + "/openapi/v2/account/balance"
    assert [e.status for e in answered] == [502, 200]
    assert answered[1].headers["X-Seen"] == "yes"
    assert answered[1].request is sent[1]
    assert all(e.elapsed >= 0 and e.error_type is None for e in answered)
    for event in [*sent, *answered]:
        assert API_KEY not in repr(event)
    assert all("API-KEY" not in e.headers and API_KEY not in e.headers.values() for e in sent)


async def test_a_failed_attempt_reaches_on_response_with_status_0_and_the_error_type() -> None:
    answered: list[ResponseEvent] = []
    async with Emulator(api_keys={API_KEY}) as emu:
        url = emu.base_url
    # the emulator is gone: nothing listens on its port any more
    async with PixVerse(
        api_key=API_KEY, base_url=url, max_retries=0, on_response=answered.append
    ) as client:
        with pytest.raises(Exception, match="Connect"):
            await client.account.balance()
    assert [(e.status, e.error_type) for e in answered] == [(0, "ClientConnectorError")]


async def test_a_hook_that_raises_stops_the_call_before_it_is_sent(
    scripted: ScriptedServer,
) -> None:
    def refuse(event: RequestEvent) -> None:
        raise RuntimeError("not now")

    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, on_request=refuse) as c:
        with pytest.raises(RuntimeError, match="not now"):
            await c.account.balance()
    assert scripted.requests == []


async def test_raw_response_gives_status_headers_and_the_typed_result(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.json(OK, headers={"X-RateLimit-Remaining": "41"})
    raw = await scripted_client.with_raw_response(scripted_client.account.balance)(timeout=5)
    assert raw.status == 200
    assert raw.headers["X-RateLimit-Remaining"] == "41"
    assert raw.parsed.credit_monthly == 90
    assert raw.trace_id == scripted.requests[0]["headers"]["Ai-trace-id"]


async def test_raw_response_of_a_submit_holds_its_job(client: PixVerse) -> None:
    raw = await client.with_raw_response(client.videos.text_to_video)(
        prompt="a kite", model="v5", duration=5, quality="540p", aspect_ratio="16:9"
    )
    assert isinstance(raw.parsed, GenerationJob)
    assert raw.status == 200
    assert raw.headers["Content-Type"].startswith("application/json")


async def test_raw_response_of_a_call_that_sent_nothing_is_an_error() -> None:
    async def nothing() -> int:
        return 1

    with pytest.raises(Exception, match="made no HTTP request"):
        await PixVerse.with_raw_response(nothing)()


async def test_the_users_trace_configs_see_the_sdks_requests(emulator: Emulator) -> None:
    seen: list[str] = []

    async def on_start(
        session: aiohttp.ClientSession,
        context: types.SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        seen.append(params.url.path)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_start)
    async with PixVerse(
        api_key=API_KEY, base_url=emulator.base_url, trace_configs=[config]
    ) as client:
        await client.account.balance()
    assert seen == ["/openapi/v2/account/balance"]


async def test_trace_configs_with_a_borrowed_session_are_refused() -> None:
    async with aiohttp.ClientSession() as own:
        with pytest.raises(ValidationError, match="trace_configs"):
            PixVerse(api_key=API_KEY, session=own, trace_configs=[aiohttp.TraceConfig()])
