"""The session layer over real sockets: headers, envelopes, retries, timeouts, lifecycle."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import uuid

import aiohttp
import pytest
from aiohttp import web

from pixverse_async import (
    APIError,
    AuthenticationError,
    ConcurrencyLimitError,
    ContentModerationError,
    InvalidParameterError,
    PixVerse,
    PixVerseError,
    RateLimitError,
    ResponseDecodingError,
    RetryPolicy,
    ServerError,
    SubmissionUnknownError,
    TextToVideo,
    TransportError,
)
from pixverse_async.constants import Paths
from pixverse_async.options import RequestOptions

from .conftest import API_KEY, FAST_POLL, FAST_RETRY, ScriptedServer, never_answers

BALANCE = Paths.BALANCE
GENERATE = Paths.TEXT_TO_VIDEO
BODY = {"prompt": "a cat", "model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
OK = {"ErrCode": 0, "ErrMsg": "success", "Resp": {"account_id": 1}}


async def get(client: PixVerse, **kwargs: object) -> object:
    return await client.session.request("GET", BALANCE, **kwargs)  # type: ignore[arg-type]


async def post(client: PixVerse, **kwargs: object) -> object:
    return await client.session.request(
        "POST",
        GENERATE,
        json_body=BODY,
        paid=True,
        **kwargs,  # type: ignore[arg-type]
    )


# Headers ------------------------------------------------------------------------------------


async def test_every_call_sends_the_key_a_fresh_uuid4_trace_id_and_user_agent(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    for _ in range(5):
        await get(scripted_client)
    await post(scripted_client)
    traces = [r["headers"]["Ai-trace-id"] for r in scripted.requests]
    assert all(r["headers"]["API-KEY"] == API_KEY for r in scripted.requests)
    assert all(uuid.UUID(t).version == 4 for t in traces)
    assert len(set(traces)) == 6
    assert scripted.requests[0]["headers"]["User-Agent"].startswith("pixverse-async/")
    assert scripted.requests[-1]["headers"]["Content-Type"] == "application/json"


async def test_retries_of_one_call_share_its_trace_id(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.raw(b"<html>502</html>", status=502)
    scripted.json(OK)
    await get(scripted_client)
    assert len(scripted.requests) == 2
    assert (
        scripted.requests[0]["headers"]["Ai-trace-id"]
        == scripted.requests[1]["headers"]["Ai-trace-id"]
    )


def test_missing_key_is_an_authentication_error_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PIXVERSE_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="PIXVERSE_API_KEY"):
        PixVerse()


async def test_key_and_base_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, scripted: ScriptedServer
) -> None:
    monkeypatch.setenv("PIXVERSE_API_KEY", "env-key")
    monkeypatch.setenv("PIXVERSE_BASE_URL", scripted.base_url)
    async with PixVerse() as client:
        await get(client)
    assert scripted.requests[0]["headers"]["API-KEY"] == "env-key"


def test_default_base_url_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIXVERSE_BASE_URL", raising=False)
    assert PixVerse(api_key="k").base_url == "https://app-api.pixverse.ai"


def test_repr_hides_the_key() -> None:
    client = PixVerse(api_key="secret-key-123")
    assert "secret-key-123" not in repr(client)
    assert "secret-key-123" not in repr(client.session)


# Envelopes and error shapes -----------------------------------------------------------------


async def test_success_envelope_returns_resp(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.json(OK)
    assert await get(scripted_client) == {"account_id": 1}


async def test_http_200_with_nonzero_errcode_is_an_error(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.json({"ErrCode": 400017, "ErrMsg": "bad model", "Resp": None})
    with pytest.raises(InvalidParameterError) as info:
        await post(scripted_client)
    err = info.value
    assert (err.err_code, err.http_status, err.err_msg) == (400017, 200, "bad model")
    assert err.trace_id == scripted.requests[0]["headers"]["Ai-trace-id"]
    assert len(scripted.requests) == 1


async def test_lowercase_500_envelope_is_decoded_and_not_retried(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.json({"err_code": 500052, "err_msg": "sensitive", "resp": ""}, status=500)
    with pytest.raises(ContentModerationError) as info:
        await get(scripted_client)
    assert (info.value.err_code, info.value.http_status) == (500052, 500)
    assert len(scripted.requests) == 1


async def test_errcode_as_a_string_is_understood(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.json({"ErrCode": "500043", "ErrMsg": "no credits"})
    with pytest.raises(APIError) as info:
        await post(scripted_client)
    assert info.value.err_code == 500043


@pytest.mark.parametrize("status", [200, 201])
async def test_success_status_with_a_non_json_body_is_a_decoding_error(
    scripted: ScriptedServer, scripted_client: PixVerse, status: int
) -> None:
    for _ in range(3):
        scripted.raw(b"<html>oops</html>", status=status)
    with pytest.raises(ResponseDecodingError, match="not a PixVerse envelope"):
        await get(scripted_client)
    assert len(scripted.requests) == 3  # a read is retried


@pytest.mark.parametrize("body", [b"", b"<html><h1>502 Bad Gateway</h1></html>", b"{trunc"])
async def test_5xx_without_envelope_on_a_read_is_retried_then_a_server_error(
    scripted: ScriptedServer, scripted_client: PixVerse, body: bytes
) -> None:
    for _ in range(3):
        scripted.raw(body, status=502)
    with pytest.raises(ServerError) as info:
        await get(scripted_client)
    assert info.value.http_status == 502 and info.value.err_code is None
    assert len(scripted.requests) == 3


async def test_4xx_without_envelope_is_a_definite_error(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.raw(b"not found", status=404, content_type="text/plain")
    with pytest.raises(APIError) as info:
        await post(scripted_client)
    assert info.value.http_status == 404
    assert len(scripted.requests) == 1


async def test_every_table_code_end_to_end_raises_its_class(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    from .test_errors import EXPECTED

    for code, cls in EXPECTED.items():
        scripted.requests.clear()
        scripted.replies.clear()
        scripted.default = None
        for _ in range(3):
            scripted.json({"ErrCode": code, "ErrMsg": f"code {code}", "Resp": None})
        with pytest.raises(cls) as info:
            await post(scripted_client)
        assert info.value.err_code == code
        expected_attempts = 3 if issubclass(cls, RateLimitError) else 1
        assert len(scripted.requests) == expected_attempts, code


# Retries ------------------------------------------------------------------------------------


async def test_reads_retry_5xx_up_to_max_retries(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.default = lambda r: _json_async({"ErrCode": 500041, "ErrMsg": "x"}, 500)
    with pytest.raises(ServerError):
        await get(scripted_client)
    assert len(scripted.requests) == 3


async def test_max_retries_per_call_and_per_client(scripted: ScriptedServer) -> None:
    scripted.default = lambda r: _json_async({"ErrCode": 500041, "ErrMsg": "x"}, 500)
    policy = RetryPolicy(max_retries=4, base_delay=0.001, max_delay=0.002)
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, retry=policy) as client:
        with pytest.raises(ServerError):
            await get(client)
        assert len(scripted.requests) == 5
        scripted.requests.clear()
        with pytest.raises(ServerError):
            await get(client, max_retries=0)
        assert len(scripted.requests) == 1
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, max_retries=1) as client:
        assert client.session.retry.max_retries == 1


async def test_paid_call_retries_429_and_concurrency_limit(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.json({"ErrCode": 500069, "ErrMsg": "busy"}, status=429)
    scripted.json({"ErrCode": 500044, "ErrMsg": "limit"})
    scripted.json({"ErrCode": 0, "ErrMsg": "ok", "Resp": {"video_id": 7}})
    assert await post(scripted_client) == {"video_id": 7}
    assert len(scripted.requests) == 3


async def test_paid_call_never_retries_a_5xx_envelope(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.default = lambda r: _json_async({"err_code": 500041, "err_msg": "x"}, 500)
    with pytest.raises(ServerError):
        await post(scripted_client)
    assert len(scripted.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_paid_call_with_5xx_without_envelope_is_submission_unknown(
    scripted: ScriptedServer, scripted_client: PixVerse, status: int
) -> None:
    scripted.default = lambda r: _raw_async(b"<html>gateway</html>", status)
    with pytest.raises(SubmissionUnknownError) as info:
        await post(scripted_client)
    err = info.value
    assert len(scripted.requests) == 1
    assert err.trace_id == scripted.requests[0]["headers"]["Ai-trace-id"]
    assert err.request == BODY
    assert "check for it before submitting again" in str(err)


async def test_paid_call_read_timeout_is_submission_unknown(scripted: ScriptedServer) -> None:
    scripted.default = never_answers
    timeout = aiohttp.ClientTimeout(total=None, sock_read=0.2)
    async with PixVerse(
        api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY, timeout=timeout
    ) as client:
        with pytest.raises(SubmissionUnknownError, match="Timeout"):
            await post(client)
    assert len(scripted.requests) == 1


async def test_read_timeout_on_a_read_is_retried_then_transport_error(
    scripted: ScriptedServer,
) -> None:
    scripted.default = never_answers
    timeout = aiohttp.ClientTimeout(total=None, sock_read=0.2)
    async with PixVerse(
        api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY, timeout=timeout
    ) as client:
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            await get(client)
        assert time.monotonic() - started < 3
    assert len(scripted.requests) == 3
    assert info.value.trace_id


async def test_per_call_timeout_overrides_the_client_timeout(scripted: ScriptedServer) -> None:
    scripted.default = never_answers
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY) as client:
        with pytest.raises(TransportError):
            await get(
                client,
                options=RequestOptions(timeout=aiohttp.ClientTimeout(total=0.2), max_retries=0),
            )


async def test_refused_connection_is_retried_even_for_paid_calls(unused_tcp_port: int) -> None:
    async with PixVerse(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{unused_tcp_port}", retry=FAST_RETRY
    ) as client:
        with pytest.raises(TransportError) as info:
            await post(client)
    assert not isinstance(info.value, SubmissionUnknownError)
    assert "ClientConnectorError" in str(info.value)
    assert info.value.attempts == 3 and "attempts=3" in str(info.value)


async def test_retry_after_seconds_is_honoured(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.json(
        {"ErrCode": 500069, "ErrMsg": "slow down"}, status=429, headers={"Retry-After": "1"}
    )
    scripted.json(OK)
    started = time.monotonic()
    await get(scripted_client)
    assert time.monotonic() - started >= 0.95


async def test_retry_after_http_date_is_honoured(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    scripted.json(
        {"ErrCode": 500069, "ErrMsg": "slow down"}, status=429, headers={"Retry-After": when}
    )
    scripted.json(OK)
    started = time.monotonic()
    await post(scripted_client)
    assert time.monotonic() - started >= 0.9  # the date has one-second resolution


async def test_retry_after_beyond_the_cap_raises_with_the_delay(
    scripted: ScriptedServer, scripted_client: PixVerse
) -> None:
    scripted.json(
        {"ErrCode": 500069, "ErrMsg": "later"}, status=429, headers={"Retry-After": "600"}
    )
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        await get(scripted_client)
    assert time.monotonic() - started < 1
    assert info.value.retry_after == 600
    assert "retry_after=600s" in str(info.value)
    assert len(scripted.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"ErrCode": 400017, "ErrMsg": "too many requests"},  # a code that means something else
        {"ErrCode": 123456, "ErrMsg": "rate limited"},  # a code nobody documented
        {"err_code": 500100, "err_msg": "slow down", "resp": ""},  # the lowercase envelope
        "Too Many Requests",  # no envelope at all (a gateway)
    ],
)
@pytest.mark.parametrize("call", [get, post])
async def test_any_http_429_is_a_rate_limit_never_a_failure_of_the_request(
    scripted: ScriptedServer, scripted_client: PixVerse, body: object, call: object
) -> None:
    # PixVerse's "Per-account request and concurrency limits" page: a request-rate limit
    # exists, its answer is not published; whatever a 429 carries, the service did not act
    async def limited(_: web.Request) -> web.StreamResponse:
        headers = {"Retry-After": "0"}
        if isinstance(body, str):
            return web.Response(text=body, status=429, headers=headers)
        return web.json_response(body, status=429, headers=headers)

    scripted.add(limited)
    scripted.json({"ErrCode": 0, "ErrMsg": "ok", "Resp": {"video_id": 7}})
    assert await call(scripted_client) == {"video_id": 7}  # type: ignore[operator]
    assert len(scripted.requests) == 2  # retried, paid or not
    scripted.add(limited)
    with pytest.raises(RateLimitError) as info:
        await call(scripted_client, max_retries=0)  # type: ignore[operator]
    assert (info.value.http_status, info.value.retry_after) == (429, 0)
    if isinstance(body, dict):
        assert info.value.err_code == (body.get("ErrCode") or body.get("err_code"))


# Lifecycle ----------------------------------------------------------------------------------


async def test_borrowed_session_stays_open_owned_one_closes(scripted: ScriptedServer) -> None:
    async with aiohttp.ClientSession() as own:
        async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, session=own) as client:
            await get(client)
        assert not own.closed
        assert scripted.requests[0]["headers"]["API-KEY"] == API_KEY
    client = PixVerse(api_key=API_KEY, base_url=scripted.base_url)
    await get(client)
    inner = client.session.client_session()
    await client.aclose()
    assert inner.closed
    await client.aclose()  # twice is fine
    with pytest.raises(PixVerseError, match="closed"):
        await get(client)


def test_no_session_is_created_before_the_first_call() -> None:
    client = PixVerse(api_key="k")
    assert client.session._pool.session is None  # constructed outside any event loop


def test_using_a_client_from_another_event_loop_is_a_clear_error() -> None:
    async def serve_and_call(client: PixVerse) -> None:
        async def ok(request: web.Request) -> web.Response:
            return web.json_response(OK)

        app = web.Application()
        app.router.add_get(BALANCE, ok)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        client.session.base_url = f"http://127.0.0.1:{port}"
        await get(client)
        await client.aclose()
        await runner.cleanup()

    client = PixVerse(api_key="k")
    asyncio.run(serve_and_call(client))

    async def second_loop() -> None:
        with pytest.raises(PixVerseError, match="another event loop"):
            await get(client)

    asyncio.run(asyncio.wait_for(second_loop(), 5))


async def test_debug_log_has_one_line_per_attempt_and_never_the_key(
    scripted: ScriptedServer, scripted_client: PixVerse, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.raw(b"", status=503)
    scripted.json(OK)
    with caplog.at_level(logging.DEBUG, logger="pixverse_async"):
        await get(scripted_client)
    lines = [r.getMessage() for r in caplog.records if r.name == "pixverse_async"]
    attempts = [line for line in lines if line.startswith("GET ")]
    assert len(attempts) == 2
    assert "status=503" in attempts[0] and "attempt=1" in attempts[0]
    assert "status=200" in attempts[1] and "attempt=2" in attempts[1]
    assert any(line.startswith("retry GET") for line in lines)
    trace = scripted.requests[0]["headers"]["Ai-trace-id"]
    assert all(trace in line for line in attempts)
    assert all(API_KEY not in line for line in lines)


async def _json_async(body: object, status: int) -> web.Response:
    return web.json_response(body, status=status)


async def _raw_async(body: bytes, status: int) -> web.Response:
    return web.Response(body=body, status=status, content_type="text/html")


# Seen from the emulator's records ------------------------------------------------------------


async def test_no_second_generation_after_an_ambiguous_failure() -> None:
    from pixverse_async.emulator import Emulator, FaultConfig

    faults = FaultConfig(reset=1.0, paths=(GENERATE,))
    async with Emulator(api_keys={API_KEY}, faults=faults) as emu:
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, resend_ambiguous=False
        ) as client:
            with pytest.raises(SubmissionUnknownError) as info:
                await client.videos.text_to_video(**BODY)
        assert len(emu.state.requests_to(GENERATE)) == 1
        (generation,) = emu.state.generations.values()
        assert generation.trace_id == info.value.trace_id


@pytest.mark.parametrize(
    ("fault", "expected_requests"),
    [("error_500", 3), ("html_502", 3), ("rate_limited", 3), ("concurrency_limited", 3)],
)
async def test_reads_are_retried_per_policy_as_the_emulator_records(
    fault: str, expected_requests: int
) -> None:
    from pixverse_async.emulator import Emulator, FaultConfig

    faults = FaultConfig(**{fault: 1.0}, retry_after="0")  # type: ignore[arg-type]
    async with Emulator(api_keys={API_KEY}, faults=faults) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            with pytest.raises(PixVerseError):
                await client.account.balance()
        records = emu.state.requests_to(BALANCE)
        assert len(records) == expected_requests
        assert len({r.trace_id for r in records}) == 1


@pytest.mark.parametrize(
    ("fault", "expected_requests", "error"),
    [
        ("error_500", 1, ServerError),
        ("html_502", 1, SubmissionUnknownError),
        ("rate_limited", 3, RateLimitError),
        ("concurrency_limited", 3, ConcurrencyLimitError),
    ],
)
async def test_paid_calls_are_retried_only_when_nothing_was_done(
    fault: str, expected_requests: int, error: type[Exception]
) -> None:
    from pixverse_async.emulator import Emulator, FaultConfig

    faults = FaultConfig(**{fault: 1.0}, retry_after="0")  # type: ignore[arg-type]
    async with Emulator(api_keys={API_KEY}, faults=faults) as emu:
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, resend_ambiguous=False
        ) as client:
            with pytest.raises(error):
                await client.videos.text_to_video(**BODY)
        assert len(emu.state.requests_to(GENERATE)) == expected_requests
        assert len(emu.state.generations) == (1 if fault == "html_502" else 0)


async def test_authentication_errors_are_never_retried() -> None:
    from pixverse_async import AuthenticationError
    from pixverse_async.emulator import Emulator

    async with Emulator(api_keys={"right"}) as emu:
        async with PixVerse(api_key="wrong", base_url=emu.base_url, retry=FAST_RETRY) as client:
            with pytest.raises(AuthenticationError) as info:
                await client.account.balance()
        assert info.value.http_status == 401 and info.value.err_code == 10003
        assert len(emu.state.requests) == 1


async def test_an_unreadable_status_answer_is_polled_through(scripted: ScriptedServer) -> None:
    # ResponseDecodingError is no TransportError any more; waiting must still treat an
    # unreadable status answer (a proxy's page) as passing, as it treats a lost connection.
    scripted.json({"ErrCode": 0, "ErrMsg": "ok", "Resp": {"video_id": 9, "credits": 30}})
    scripted.raw(b"<html>maintenance</html>", status=200)
    scripted.json({"ErrCode": 0, "ErrMsg": "ok", "Resp": {"id": 9, "status": 1, "url": "u"}})
    async with PixVerse(
        api_key=API_KEY, base_url=scripted.base_url, max_retries=0, poll=FAST_POLL
    ) as client:
        job = await client.videos.submit(TextToVideo(**BODY))  # type: ignore[arg-type]
        video = await job.wait()
    assert video.id == 9 and video.is_successful
    assert [r["method"] for r in scripted.requests] == ["POST", "GET", "GET"]
