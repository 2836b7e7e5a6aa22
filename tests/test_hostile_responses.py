"""Hostile and broken answers: whatever the server sends, the SDK raises only PixVerseError.

Three levels:

- the session's decoding (:meth:`Session._decode`), called directly with thousands of
  generated status codes, bodies and ``Retry-After`` values, for paid and read-only calls;
- end to end over real sockets: one aiohttp server in a background thread answers whatever
  the current hypothesis example says, and ``videos.get``, ``videos.submit`` and
  ``account.balance`` run against it (``max_retries=0``);
- ``from_json`` of every response class fed valid answers with one part mutated into garbage.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import os
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from pixverse_async import PixVerse, RetryPolicy, TextToVideo
from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER
from pixverse_async.errors import (
    APIError,
    PixVerseError,
    ResponseDecodingError,
    SubmissionUnknownError,
)
from pixverse_async.models import (
    Balance,
    GenerationResult,
    ImageUpload,
    MaskInfo,
    MaskSelectionResult,
    MediaUpload,
    RestyleEffect,
    RestylePage,
    Speaker,
    SpeakerPage,
    Video,
    VideoStatus,
    from_json,
)
from pixverse_async.retry import RetryableFailure
from pixverse_async.session import MAX_RESPONSE_BYTES, Session, _Attempt

from .conftest import ScriptedServer
from .strategies import json_scalars, json_values, one_in

# Explicit example counts (README, "Reliability", reports them).
DECODE_EXAMPLES = 2000
WIRE_EXAMPLES = 200
MUTATION_EXAMPLES = 150  # per response class

KEY = "sk-hostile-0000"


# --- strategies -------------------------------------------------------------------------------

JSON_SCALARS = json_scalars(text_size=30)
JSON_VALUES = json_values(JSON_SCALARS, max_leaves=10)
#: ErrCode values a broken server might send: every JSON type, digit strings that int() takes
#: and some it does not ("²" is a digit to str.isdigit, "--1" passes a naive lstrip("-")).
ODD_CODES = [
    0, 10002, 400013, 500044, 500054, 500063, -1, 2**63, 2**80, "0", "500044", " 400017 ",
    "-0", "--1", "- 1", "²", "١٢", "1e3", "0x10", "", "500044.0", 0.0, 500044.0, 1e300,
    -0.0, math.nan, math.inf, True, False, None, [], {}, [500044], {"code": 500044},
]  # fmt: skip
ERR_CODES = st.sampled_from(ODD_CODES) | JSON_SCALARS | JSON_VALUES
RESPS = st.sampled_from([None, "", [], {}, 0, "ok", {"video_id": 1}]) | JSON_VALUES


@st.composite
def envelopes(draw: st.DrawFn) -> Any:
    """An envelope, in either case, with fields missing, of the wrong type, or extra."""
    upper = draw(st.booleans())
    names = ("ErrCode", "ErrMsg", "Resp") if upper else ("err_code", "err_msg", "resp")
    doc: dict[str, Any] = {}
    if not draw(one_in(10)):
        doc[names[0]] = draw(ERR_CODES)
    if draw(st.booleans()):
        doc[names[1]] = draw(st.text(max_size=40) | JSON_VALUES)
    if draw(st.booleans()):
        doc[names[2]] = draw(RESPS)
    if draw(one_in(5)):
        doc.update(draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)))
    return doc


def _deep(depth: int) -> bytes:
    return b'{"ErrCode":' + b"[" * depth + b"]" * depth + b"}"


BODY_SHAPES = [
    "envelope", "envelope", "envelope", "truncated", "corrupt", "json", "binary", "html", "empty",
    "deep", "nonutf8", "nan",
]  # fmt: skip


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Raw response bodies: envelopes (maybe cut short or corrupted) and plain garbage."""
    shape = draw(st.sampled_from(BODY_SHAPES))
    if shape == "empty":
        return b""
    if shape == "binary":
        return draw(st.binary(max_size=200))
    if shape == "html":
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    if shape == "deep":
        return _deep(draw(st.sampled_from([10, 1000, 100_000])))
    if shape == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    doc = json.dumps(draw(envelopes())).encode()
    if shape == "truncated":
        return doc[: draw(st.integers(0, max(0, len(doc) - 1)))]
    if shape == "corrupt":
        at = draw(st.integers(0, len(doc)))
        return doc[:at] + draw(st.binary(min_size=1, max_size=8)) + doc[at:]
    if shape == "nonutf8":
        return doc.replace(b'"', b'"\xff\xfe', 1)
    if shape == "nan":
        return doc.replace(b"0", b"NaN", 1)
    return doc


ODD_RETRY_AFTER = [
    "0", "1", "-5", "0.01", "1e309", "-1e309", "nan", "inf", "-inf", "99999999999999999999",
    "1e300", "", " ", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 9999 07:28:00 GMT",
    "Mon, 32 Foo 2020 99:99:99 GMT", "Thu, 01 Jan 1970 00:00:00 +9999",
    "Sun, 06 Nov 0001 08:49:37 GMT", "Fri, 31 Dec 99999 23:59:59 -0000", "\x00", "1,2",
]  # fmt: skip
RETRY_AFTER = st.one_of(
    st.none(),
    st.sampled_from(ODD_RETRY_AFTER),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
STATUSES = st.sampled_from([200, 201, 204, 400, 401, 403, 404, 413, 429, 500, 502, 503, 504]) | (
    st.integers(100, 999)
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/html", "", "text/plain; x",
     "application/octet-stream", "\u00ff/\u00fe"]
)  # fmt: skip

# --- level (a): Session._decode directly ------------------------------------------------------


def _attempt(paid: bool) -> _Attempt:
    data = json.dumps({"prompt": "p"}).encode() if paid else None
    return _Attempt(
        method="POST" if paid else "GET",
        path="/openapi/v2/video/text/generate" if paid else "/openapi/v2/video/result/1",
        url="http://127.0.0.1:9/x",
        headers={API_KEY_HEADER: KEY, TRACE_ID_HEADER: "00000000-0000-4000-8000-000000000000"},
        data=data,
        body=None,
        params=None,
        paid=paid,
        timeout=None,
    )


def _note(what: str) -> None:
    """Count outcomes (``--hypothesis-show-statistics``) when run by hypothesis."""
    if currently_in_test_context():
        event(what)


def _check_decode(
    session: Session, paid: bool, status: int, raw: bytes, ctype: str, retry_after: str | None
) -> str:
    """Decode one answer; return what happened; fail on anything but the allowed outcomes."""
    try:
        session._decode(_attempt(paid), status, raw, ctype, retry_after)
    except RetryableFailure as failure:
        assert isinstance(failure.error, PixVerseError), repr(failure.error)
        assert not isinstance(failure.error, SubmissionUnknownError)
        assert failure.retry_after is None or (
            0 <= failure.retry_after <= session.retry.retry_after_cap
        )
        str(failure.error), repr(failure.error)
        _note(f"retryable {type(failure.error).__name__}")
        return "retryable"
    except PixVerseError as exc:
        str(exc), repr(exc)
        if isinstance(exc, APIError):
            assert exc.http_status == status
            assert exc.err_code is None or isinstance(exc.err_code, int)
            assert isinstance(exc.err_msg, str) and len(exc.err_msg) <= 1000
        _note(type(exc).__name__)
        return type(exc).__name__
    _note("success")
    assert 0 <= status < 400, "an error status was taken for success"
    return "ok"


DECODE_SETTINGS = settings(
    max_examples=DECODE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck)
)


@DECODE_SETTINGS
@given(
    paid=st.booleans(),
    status=STATUSES,
    raw=bodies(),
    ctype=CONTENT_TYPES,
    retry_after=RETRY_AFTER,
)
def test_decode_raises_only_pixverse_errors(
    paid: bool, status: int, raw: bytes, ctype: str, retry_after: str | None
) -> None:
    session = Session(api_key=KEY, base_url="http://127.0.0.1:9")
    _check_decode(session, paid, status, raw, ctype, retry_after)


@pytest.mark.parametrize("paid", [False, True])
@pytest.mark.parametrize(
    "raw",
    [
        b'{"ErrCode":0,"ErrMsg":"","Resp":{}}' + b" " * MAX_RESPONSE_BYTES,  # capped: not read
        b"x" * (MAX_RESPONSE_BYTES + 1),
        b'{"ErrCode":0,"Resp":"' + b"a" * (MAX_RESPONSE_BYTES - 40) + b'"}',  # just under the cap
    ],
    ids=["envelope-over-cap", "garbage-over-cap", "envelope-under-cap"],
)
@pytest.mark.parametrize("status", [200, 429, 500])
def test_decode_huge_bodies(paid: bool, raw: bytes, status: int) -> None:
    session = Session(api_key=KEY, base_url="http://127.0.0.1:9")
    outcome = _check_decode(session, paid, status, raw, "application/json", "1e400")
    if len(raw) > MAX_RESPONSE_BYTES:
        assert outcome != "ok"


@pytest.mark.parametrize(
    "code", ["--1", "²", "١٢", "-0", " 400017 ", 500044.0, 1e300, True, None, [1], {"a": 1}]
)
@pytest.mark.parametrize("paid", [False, True])
def test_decode_odd_err_codes(code: object, paid: bool) -> None:
    session = Session(api_key=KEY, base_url="http://127.0.0.1:9")
    raw = json.dumps({"ErrCode": code, "ErrMsg": "m", "Resp": None}).encode()
    for status in (200, 400, 500):
        _check_decode(session, paid, status, raw, "application/json", None)


# --- level (b): end to end over sockets -------------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "normal"  # normal | chunked | short | gzip-bomb


class HostileServer:
    """One aiohttp server in its own thread and loop, answering ``self.answer``."""

    def __init__(self) -> None:
        self.answer = Answer()
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        a = self.answer
        if a.mode == "normal":
            return web.Response(status=a.status, body=a.body, headers=a.headers)
        resp = web.StreamResponse(status=a.status, headers=a.headers)
        if a.mode == "short":  # promises more than it sends, then hangs up
            resp.content_length = len(a.body) + 100
            await resp.prepare(request)
            await resp.write(a.body)
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        if a.mode == "gzip-bomb":  # small on the wire, 64 MiB once inflated
            resp.headers["Content-Encoding"] = "gzip"
            await resp.prepare(request)
            await resp.write(_GZIP_BOMB)
            await resp.write_eof()
            return resp
        resp.enable_chunked_encoding()  # "chunked": the body in small pieces
        await resp.prepare(request)
        for i in range(0, len(a.body), 997):
            await resp.write(a.body[i : i + 997])
        await resp.write_eof()
        return resp


_GZIP_BOMB = gzip.compress(b'{"ErrCode":0,"Resp":"' + b"a" * (64 * 1024 * 1024), compresslevel=9)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
HEADER_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)


@st.composite
def answers(draw: st.DrawFn, resp_cls: type[Any]) -> Answer:
    status = draw(st.sampled_from([200, 200, 201, 204, 400, 401, 404, 429, 500, 502, 503]) | (
        st.integers(200, 599)))  # fmt: skip
    mode = draw(st.sampled_from(["normal", "normal", "normal", "chunked", "short", "gzip-bomb"]))
    size = draw(st.sampled_from(["small"] * 6 + ["success"] * 6 + ["huge"]))
    if size == "huge":
        body = b'{"ErrCode":0,"ErrMsg":"","Resp":{"id":1,"status":1}}' + b" " * MAX_RESPONSE_BYTES
    elif size == "success":  # a success envelope whose Resp may be broken in one place
        resp = draw(mutated(resp_cls)) if draw(st.booleans()) else VALID[resp_cls]
        body = json.dumps({"ErrCode": draw(st.sampled_from([0, "0", 0.0])), "Resp": resp}).encode()
    else:
        body = draw(bodies())
    headers: dict[str, str] = {"Content-Type": draw(CONTENT_TYPES)}
    retry_after = draw(RETRY_AFTER)
    if retry_after is not None and retry_after.isprintable():
        headers["Retry-After"] = retry_after
    encoding = draw(st.sampled_from([None, None, None, "gzip", "deflate", "br", "x-garbage"]))
    if encoding is not None and mode != "gzip-bomb":
        headers["Content-Encoding"] = encoding
        if encoding == "gzip" and draw(st.booleans()):
            body = gzip.compress(body)
        elif encoding == "deflate" and draw(st.booleans()):
            body = zlib.compress(body)
    if draw(one_in(6)):
        headers[draw(HEADER_NAMES)] = draw(HEADER_TEXT)
    return Answer(status=status, body=body, headers=headers, mode=mode)


Call = Callable[[PixVerse], Any]


async def _get(client: PixVerse) -> Any:
    return await client.videos.get(1)


async def _submit(client: PixVerse) -> Any:
    return await client.videos.submit(
        TextToVideo(prompt="p", model="v5", duration=5, quality="540p", aspect_ratio="16:9")
    )


async def _balance(client: PixVerse) -> Any:
    return await client.account.balance()


CALLS: dict[str, tuple[Call, type[Any]]] = {
    "videos.get": (_get, Video),
    "videos.submit": (_submit, GenerationResult),
    "balance": (_balance, Balance),
}


async def _run(base_url: str, call: Call) -> Any:
    async with PixVerse(
        api_key=KEY,
        base_url=base_url,
        retry=RetryPolicy(max_retries=0, base_delay=0.001, max_delay=0.001, retry_after_cap=1),
        timeout=aiohttp.ClientTimeout(total=10),
    ) as client:
        return await call(client)


@settings(max_examples=WIRE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), name=st.sampled_from(sorted(CALLS)))
def test_any_answer_over_the_wire_raises_only_pixverse_errors(
    hostile: HostileServer, data: Any, name: str
) -> None:
    call, resp_cls = CALLS[name]
    hostile.answer = answer = data.draw(answers(resp_cls))
    try:
        result = asyncio.run(_run(hostile.base_url, call))
    except PixVerseError as exc:
        str(exc), repr(exc)
        _note(type(exc).__name__)
        if isinstance(exc, SubmissionUnknownError):
            assert name == "videos.submit"
        return
    _note("success")
    assert 200 <= answer.status < 400, f"HTTP {answer.status} taken for success: {result!r}"


@pytest.mark.parametrize("mode", ["normal", "chunked"])
def test_large_valid_answer_is_read_whole(hostile: HostileServer, mode: str) -> None:
    """A valid answer of 1 MiB, in one piece or in small chunks, is read entirely."""
    data = [{"speaker_id": str(i), "name": "x" * 100} for i in range(9000)]
    body = json.dumps({"ErrCode": 0, "ErrMsg": "", "Resp": {"total": 9000, "data": data}})
    assert 1024 * 1024 < len(body) < MAX_RESPONSE_BYTES
    hostile.answer = Answer(
        body=body.encode(), headers={"Content-Type": "application/json"}, mode=mode
    )

    async def page(client: PixVerse) -> SpeakerPage:
        return await client.speakers.list(page_num=1, page_size=9000)

    result = asyncio.run(_run(hostile.base_url, page))
    assert result.total == 9000 and len(result.data) == 9000


def test_gzip_bomb_is_cut_at_the_cap(hostile: HostileServer) -> None:
    hostile.answer = Answer(mode="gzip-bomb", headers={"Content-Type": "application/json"})
    with pytest.raises(PixVerseError):
        asyncio.run(_run(hostile.base_url, _balance))


# --- level (c): structured responses, valid answers with one part broken ----------------------

VALID: dict[type[Any], dict[str, Any]] = {
    GenerationResult: {"video_id": 7, "credits": 45},
    Video: {
        "id": 1, "status": 1, "url": "https://x/1.mp4", "outputWidth": 960, "outputHeight": 540,
        "size": 10, "seed": 3, "style": "", "prompt": "p", "negative_prompt": "",
        "resolution_ratio": 540, "create_time": "t", "modify_time": "t",
    },
    MaskInfo: {"mask_id": "1", "mask_name": "dog", "mask_url": "u"},
    MaskSelectionResult: {
        "keyframe_id": 1, "keyframe_url": "u", "credits": 5,
        "mask_info": [{"mask_id": "1", "mask_name": "dog", "mask_url": "u"}] * 2,
    },
    ImageUpload: {"img_id": 5, "img_url": "u"},
    MediaUpload: {"media_id": 5, "media_type": "video", "url": "u"},
    Speaker: {"speaker_id": "7", "name": "Harper"},
    SpeakerPage: {"total": 2, "data": [{"speaker_id": "7", "name": "Harper"}] * 2},
    RestyleEffect: {"restyle_id": 3, "name": "Clay", "thumbnail": "u", "x": 1},
    RestylePage: {"total": 1, "data": [{"restyle_id": 3, "restyle_name": "Clay"}]},
    Balance: {"account_id": 1, "credit_monthly": 2, "credit_package": 3},
}  # fmt: skip

GARBAGE = JSON_VALUES | st.sampled_from(
    [2**64, -(2**64), 1e308, -0.0, math.nan, math.inf, "1", "", True, None, [], {}, [None], [1.5]]
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value
    doc = json.loads(json.dumps(doc))  # a deep copy
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn, cls: type[Any]) -> Any:
    """A valid answer of ``cls`` with one value (maybe nested) deleted or replaced by garbage."""
    valid = VALID[cls]
    path = draw(st.sampled_from(_paths(valid)))
    action = draw(st.sampled_from(["delete", "replace"]) if path else st.just("replace"))
    return _mutate(valid, path, action, draw(GARBAGE))


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
@settings(max_examples=MUTATION_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_from_json_of_broken_answers_raises_only_decoding_error(cls: type[Any], data: Any) -> None:
    assert isinstance(from_json(cls, VALID[cls]), cls)
    doc = data.draw(mutated(cls))
    try:
        result = from_json(cls, doc)
    except ResponseDecodingError as exc:
        assert str(exc)
        return
    assert isinstance(result, cls)
    repr(result)


# --- hostile media answers: a download writes only where it was told --------------------------

EVIL_DISPOSITIONS = [
    'attachment; filename="../../evil.mp4"',
    "attachment; filename*=UTF-8''..%2F..%2Fevil-star.mp4",
    'attachment; filename="/tmp/evil-{tag}.mp4"',
    'inline; filename="..\\\\..\\\\evil.mp4"',
]


def _media_reply(disposition: str, body: bytes) -> Callable[[web.Request], Any]:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=body, headers={"Content-Type": "video/mp4", "Content-Disposition": disposition}
        )

    return reply


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("disposition", EVIL_DISPOSITIONS)
@pytest.mark.parametrize("into", ["file", "folder"])
async def test_download_ignores_server_chosen_file_names(
    scripted: ScriptedServer, tmp_path: Path, disposition: str, into: str
) -> None:
    tag = uuid.uuid4().hex
    body = b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000)
    work = tmp_path / "work"
    work.mkdir()
    scripted.add(_media_reply(disposition.format(tag=tag), body))
    parent_before = sorted(os.listdir(tmp_path.parent))
    tmp_before = set(os.listdir("/tmp"))
    video = Video(id=77, status=VideoStatus(1), url=scripted.base_url + "/cdn/77.mp4")
    target = work / "out.mp4" if into == "file" else work
    async with PixVerse(api_key=KEY, base_url=scripted.base_url) as client:
        saved = await client.videos.download(video, target)
    expected = work / ("out.mp4" if into == "file" else "77.mp4")
    assert saved == expected and expected.read_bytes() == body
    assert _listing(tmp_path) == ["work", f"work/{expected.name}"]
    assert sorted(os.listdir(tmp_path.parent)) == parent_before
    assert not [n for n in set(os.listdir("/tmp")) - tmp_before if tag in n or "evil" in n]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x.mp4", "../../evil.mp4", "", "javascript:x"]
)
async def test_download_refuses_non_http_urls(
    scripted: ScriptedServer, tmp_path: Path, url: str
) -> None:
    video = Video(id=5, status=VideoStatus(1), url=url)
    async with PixVerse(api_key=KEY, base_url=scripted.base_url) as client:
        with pytest.raises(PixVerseError):
            await client.videos.download(video, tmp_path / "v.mp4")
    assert _listing(tmp_path) == []
    assert scripted.requests == []
