"""Per-call options on every non-generation call, client defaults, and ``with_options``.

Every public call below takes ``timeout`` (seconds or a ClientTimeout), ``max_retries``,
``extra_headers`` and ``extra_body``; one parametrized test per option runs them all against
a real server that records what it received.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pixverse_async import (
    AuthenticationError,
    PixVerse,
    RateLimitError,
    RetryPolicy,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
    Video,
    VideoStatus,
)
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator
from pixverse_async.options import RequestOptions
from pixverse_async.session import DEFAULT_TIMEOUT

from .conftest import API_KEY, FAST_RETRY, ScriptedServer, never_answers
from .test_upload_checks import ftyp, png

PNG = png(32, 16) + bytes(200)
CLIP = ftyp(b"isom", b"isom", b"mp42") + bytes(500)
MEDIA_PATH = "/media/videos/1.mp4"


def answer_for(base_url: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A PixVerse-shaped answer for each path the calls below use."""
    answers: dict[str, Any] = {
        Paths.BALANCE: {"account_id": 1, "credit_monthly": 10, "credit_package": 0},
        Paths.VIDEO_RESULT_PREFIX + "1": {"id": 1, "status": 1, "url": base_url + MEDIA_PATH},
        Paths.TTS_LIST: {"total": 1, "data": [{"speaker_id": "7", "name": "Harper"}]},
        Paths.RESTYLE_LIST: {"total": 1, "data": [{"restyle_id": 3, "name": "Clay"}]},
        Paths.IMAGE_UPLOAD: {"img_id": 5, "img_url": base_url + "/i.png"},
        Paths.MEDIA_UPLOAD: {"media_id": 6, "media_type": "video", "url": base_url + "/m.mp4"},
    }

    async def reply(request: web.Request) -> web.StreamResponse:
        if request.path == MEDIA_PATH:
            return web.Response(body=b"\0" * 2000, content_type="video/mp4")
        return web.json_response({"ErrCode": 0, "ErrMsg": "success", "Resp": answers[request.path]})

    return reply


Call = Callable[[PixVerse, Path, dict[str, Any]], Awaitable[object]]


async def _drain(items: AsyncIterator[object]) -> list[object]:
    return [item async for item in items]


def _video(base_url: str) -> Video:
    return Video(id=1, status=VideoStatus.SUCCESSFUL, url=base_url + MEDIA_PATH)


CALLS: dict[str, Call] = {
    "images.upload": lambda c, _, o: c.images.upload(PNG, name="dot.png", **o),
    "media.upload": lambda c, _, o: c.media.upload(CLIP, name="clip.mp4", **o),
    "speakers.list": lambda c, _, o: c.speakers.list(**o),
    "speakers.iterate": lambda c, _, o: _drain(c.speakers.iterate(**o)),
    "restyles.list": lambda c, _, o: c.restyles.list(**o),
    "restyles.iterate": lambda c, _, o: _drain(c.restyles.iterate(**o)),
    "account.balance": lambda c, _, o: c.account.balance(**o),
    "videos.get": lambda c, _, o: c.videos.get(1, **o),
    "videos.download": lambda c, tmp, o: c.videos.download(_video(c.base_url), tmp / "v.mp4", **o),
}
UPLOADS = {"images.upload", "media.upload"}


@pytest.fixture
async def recorded(scripted: ScriptedServer) -> AsyncIterator[PixVerse]:
    scripted.default = answer_for(scripted.base_url)
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY) as c:
        yield c


@pytest.mark.parametrize("name", CALLS)
async def test_extra_headers_reach_every_request_of_every_call(
    name: str, recorded: PixVerse, scripted: ScriptedServer, tmp_path: Path
) -> None:
    await CALLS[name](recorded, tmp_path, {"extra_headers": {"X-Tag": "t-1"}})
    assert scripted.requests
    for request in scripted.requests:
        assert request["headers"]["X-Tag"] == "t-1"
        # the API key goes to the API only, never to the media host
        assert ("API-KEY" in request["headers"]) == (request["path"] != MEDIA_PATH)


@pytest.mark.parametrize("name", CALLS)
async def test_extra_body_is_sent_where_each_call_has_its_parameters(
    name: str, recorded: PixVerse, scripted: ScriptedServer, tmp_path: Path
) -> None:
    await CALLS[name](recorded, tmp_path, {"extra_body": {"note": "hi", "flag": True}})
    (request,) = scripted.requests[-1:]
    if name in UPLOADS:  # extra form fields
        body = request["body"]
        assert b'name="note"\r\n' in body and b"\r\n\r\nhi\r\n" in body
        assert b'name="flag"\r\n' in body and b"\r\n\r\ntrue\r\n" in body
    else:  # a GET has no body: its query string
        assert request["query"]["note"] == "hi" and request["query"]["flag"] == "true"


@pytest.mark.parametrize("name", CALLS)
async def test_max_retries_per_call_replaces_the_client_count(
    name: str, recorded: PixVerse, scripted: ScriptedServer, tmp_path: Path
) -> None:
    async def busy(request: web.Request) -> web.StreamResponse:
        body = {"ErrCode": 500069, "ErrMsg": "busy"}
        return web.json_response(body, status=429, headers={"Retry-After": "0"})

    scripted.default = busy  # 429 is retried for every kind of call, paid ones included
    with pytest.raises((RateLimitError, TransportError)):
        await CALLS[name](recorded, tmp_path, {"max_retries": 1})
    assert len(scripted.requests) == 2  # the client's policy would make 3
    scripted.requests.clear()
    with pytest.raises((RateLimitError, TransportError)):
        await CALLS[name](recorded, tmp_path, {"max_retries": 0})
    assert len(scripted.requests) == 1


@pytest.mark.parametrize("timeout", [0.5, aiohttp.ClientTimeout(total=0.5)], ids=["float", "obj"])
@pytest.mark.parametrize("name", CALLS)
async def test_timeout_per_call_as_seconds_or_client_timeout(
    name: str, timeout: Any, recorded: PixVerse, scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.default = never_answers
    started = time.monotonic()
    with pytest.raises((TransportError, SubmissionUnknownError)):
        await CALLS[name](recorded, tmp_path, {"timeout": timeout, "max_retries": 0})
    assert time.monotonic() - started < 10  # the client's own default would wait 60 s
    # One attempt at most (max_retries=0); on a loaded machine the deadline may pass before
    # the server has read the request, which is still the per-call timeout at work.
    assert len(scripted.requests) <= 1


# Refusals, before anything is sent ---------------------------------------------------------


@pytest.mark.parametrize("header", ["API-KEY", "api-key", "Ai-trace-id", "Content-Type"])
@pytest.mark.parametrize("name", CALLS)
async def test_headers_the_sdk_owns_cannot_be_replaced(
    name: str, header: str, recorded: PixVerse, scripted: ScriptedServer, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="set by the SDK") as info:
        await CALLS[name](recorded, tmp_path, {"extra_headers": {header: "sk-other-secret"}})
    assert "sk-other-secret" not in str(info.value) and info.value.value is None
    assert scripted.requests == []


async def test_extra_body_may_not_replace_a_parameter_the_sdk_sends(
    recorded: PixVerse, scripted: ScriptedServer
) -> None:
    with pytest.raises(ValidationError, match=r"extra_body\.page_num"):
        await recorded.speakers.list(page_num=2, extra_body={"page_num": 3})
    with pytest.raises(ValidationError, match=r"extra_body\.image"):
        await recorded.images.upload(PNG, name="dot.png", extra_body={"image": "x"})
    assert scripted.requests == []


async def test_extra_body_merges_into_a_json_body(
    recorded: PixVerse, scripted: ScriptedServer
) -> None:
    await recorded.session.request(
        "POST", Paths.BALANCE, json_body={"a": 1}, options=RequestOptions(extra_body={"b": [2]})
    )
    assert scripted.requests[0]["body"] == b'{"a":1,"b":[2]}'
    with pytest.raises(ValidationError, match=r"extra_body\.a"):
        await recorded.session.request(
            "POST", Paths.BALANCE, json_body={"a": 1}, options=RequestOptions(extra_body={"a": 2})
        )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.0}, "timeout"),
        ({"timeout": "30"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"extra_headers": {"X-A": "line\r\nInjected: 1"}}, "extra_headers"),
        ({"extra_body": {1: "x"}}, "extra_body"),
    ],
)
def test_bad_option_values_are_validation_errors(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        RequestOptions(**options)
    assert info.value.field.startswith(field)


# Client defaults -----------------------------------------------------------------------------


async def test_a_float_timeout_on_the_client_works(emulator: Emulator) -> None:
    async with PixVerse(api_key=API_KEY, base_url=emulator.base_url, timeout=30) as client:
        assert client.session.timeout == aiohttp.ClientTimeout(total=30.0)
        balance = await client.account.balance()
    assert balance.account_id is not None


def test_a_bad_client_timeout_fails_at_construction() -> None:
    with pytest.raises(ValidationError, match="timeout"):
        PixVerse(api_key="k", timeout=-5)


def test_retry_and_max_retries_together_are_refused() -> None:
    with pytest.raises(ValidationError, match="not both"):
        PixVerse(api_key="k", retry=RetryPolicy(max_retries=5), max_retries=1)
    assert PixVerse(api_key="k", max_retries=4).session.retry.max_retries == 4
    assert PixVerse(api_key="k", retry=RetryPolicy(max_retries=5)).session.retry.max_retries == 5
    assert PixVerse(api_key="k").session.retry.max_retries == RetryPolicy().max_retries


def test_a_missing_api_key_is_an_authentication_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIXVERSE_API_KEY", raising=False)
    for key in (None, ""):
        with pytest.raises(AuthenticationError, match="PIXVERSE_API_KEY") as info:
            PixVerse(api_key=key)
        assert info.value.http_status == 0 and info.value.err_code is None
        assert str(info.value).startswith("no API key")


# with_options --------------------------------------------------------------------------------


async def test_with_options_shares_the_pool_and_the_lifecycle(
    scripted: ScriptedServer,
) -> None:
    scripted.default = answer_for(scripted.base_url)
    client = PixVerse(api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY)
    quick = client.with_options(timeout=5, max_retries=0)
    assert quick.session.timeout == aiohttp.ClientTimeout(total=5.0)
    assert quick.session.retry.max_retries == 0
    assert quick.session.retry.base_delay == FAST_RETRY.base_delay  # the rest is kept
    assert client.session.timeout == DEFAULT_TIMEOUT  # the original is unchanged
    assert client.session.retry == FAST_RETRY
    await quick.account.balance()
    await client.account.balance()
    assert quick.session.client_session() is client.session.client_session()  # one pool
    async with quick:  # leaving the copy's block does not close the shared pool
        pass
    await client.account.balance()
    await client.aclose()
    assert quick.session.closed
    with pytest.raises(Exception, match="closed"):
        await quick.account.balance()


async def test_with_options_max_retries_applies_to_the_copy_only(
    scripted: ScriptedServer,
) -> None:
    async def busy(request: web.Request) -> web.StreamResponse:
        return web.json_response({"ErrCode": 500069, "ErrMsg": "busy"}, status=429)

    scripted.default = busy
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY) as client:
        with pytest.raises(RateLimitError):
            await client.with_options(max_retries=0).account.balance()
        assert len(scripted.requests) == 1
        with pytest.raises(RateLimitError):
            await client.account.balance()
        assert len(scripted.requests) == 1 + 3


async def test_a_header_mapping_changed_after_the_check_is_checked_again(
    recorded: PixVerse, scripted: ScriptedServer
) -> None:
    headers = {"X-Tag": "t"}
    options = RequestOptions(extra_headers=headers)
    headers["API-KEY"] = "sk-swapped-in-later"
    with pytest.raises(ValidationError, match="set by the SDK"):
        await recorded.session.request("GET", Paths.BALANCE, options=options)
    assert scripted.requests == []


def test_the_readmes_options_example_runs_as_pasted(capsys: pytest.CaptureFixture[str]) -> None:
    page = Path(__file__).resolve().parents[1] / "docs" / "guides" / "configuration.md"
    text = page.read_text(encoding="utf-8")
    section = text[text.index("**Every call's options.**") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    exec(compile(code, str(page), "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out
    assert "Balance(" in printed
