"""webhook_handler under hostile requests: any body and headers get 200, 400, 401 or 413.

A real aiohttp server (its own loop, in a thread) runs ``webhook_handler(SECRET,
hub.deliver)``; hypothesis posts bodies (JSON of any shape, deep nesting, raw bytes, too
big) with headers (missing, malformed, well formed, or a true signature over the hostile
body) and checks that no answer is a 500 and nothing is logged at ERROR. (The exact depths
that gave a 500 before, just under the recursion limit, are swept by
``test_webhooks_handler.py``: hypothesis raises the limit while its tests run.)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from pixverse_async.webhooks import CompletionHub, WebhookEvent, webhook_handler
from pixverse_async.webhooks.signing import form_payload, signed_content

SECRET = "whsec-hostile-SECRET-3"
MAX_BODY = 16 * 1024
EXAMPLES = 300


class ThreadedHandler:
    """The handler served on 127.0.0.1 by a loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.events: list[WebhookEvent] = []
        self.url = ""

    async def _start(self) -> web.AppRunner:
        hub = CompletionHub(on_unclaimed=self.events.append)
        app = web.Application()
        app.router.add_post("/hook", webhook_handler(SECRET, hub.deliver, max_body=MAX_BODY))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return runner

    def __enter__(self) -> ThreadedHandler:
        self.thread.start()
        self.runner = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Errors(logging.Handler):
    """Every record at ERROR or above, from any logger and thread."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ThreadedHandler, httpx.Client, Errors]]:
    errors = Errors()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        with ThreadedHandler() as server, httpx.Client(timeout=10) as http:
            yield server, http, errors
    finally:
        root.removeHandler(errors)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
ID = st.sampled_from(["1", "123456789", "-1", "", "x", "1" * 30, 7, -7, 2**70, None, True, []])
STATUS = st.sampled_from([1, 5, 7, 8, 9, 0, -1, 2**63, "1", 1.5, None, False])


def nested(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return b'{"id": "1", "status": 1, "x": ' + opener * depth + b"1" + closer * depth + b"}"


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(["event", "event", "object", "any", "raw", "deep", "deep", "big"]))
    if shape == "raw":
        return draw(st.binary(max_size=200))
    if shape == "big":
        return b'{"id": "1", "status": 1, "x": "' + b"y" * MAX_BODY + b'"}'
    if shape == "deep":
        depth = draw(st.integers(1, 1500))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return nested(depth, opener, closer)
    if shape == "any":
        return json.dumps(draw(JSON)).encode()
    body: dict[str, Any] = draw(st.dictionaries(st.text(max_size=8), JSON, max_size=5))
    if shape == "event":
        body = {"id": draw(ID), "status": draw(STATUS), **body}
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


#: Any header value HTTP/1.1 allows (visible ASCII and obs-text, inner blanks). What it does
#: not allow (controls, DEL) aiohttp's parser answers 400 itself, before any handler, and
#: logs on ``aiohttp.server`` at ERROR: the application's logging setting, not the handler's.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
).map(lambda text: text.strip(" ").encode("latin-1"))


@st.composite
def headers(draw: st.DrawFn, body: bytes) -> dict[str, str | bytes]:
    """Headers from absent to truly signed (over the body's fields, when it has any)."""
    kind = draw(st.sampled_from(["signed", "signed", "well_formed", "garbage", "none"]))
    if kind == "none":
        return {}
    if kind == "garbage":
        names = st.sampled_from(["Webhook-Timestamp", "Webhook-Nonce", "Webhook-Signature",
                                 "Ai-Trace-Id"])  # fmt: skip
        return draw(st.dictionaries(names, HEADER_TEXT, max_size=4))
    timestamp = str(int(time.time()) + draw(st.sampled_from([0, 0, 0, -10_000, 10_000])))
    nonce = draw(st.text("abcdefXYZ0123456789", min_size=1, max_size=40))
    signature = base64.b64encode(draw(st.binary(min_size=32, max_size=32))).decode()
    if kind == "signed":
        try:
            fields = json.loads(body)
            payload = form_payload(fields, sort=draw(st.booleans()))
        except (ValueError, UnicodeDecodeError, RecursionError, TypeError, AttributeError):
            payload = None  # not a signable object: the signature stays random
        if payload is not None:
            mac = hmac.new(SECRET.encode(), signed_content(timestamp, nonce, payload),
                           hashlib.sha256)  # fmt: skip
            signature = base64.b64encode(mac.digest()).decode()
    return {
        "Webhook-Timestamp": timestamp,
        "Webhook-Nonce": nonce,
        "Webhook-Signature": signature,
        "Ai-Trace-Id": draw(HEADER_TEXT),
    }


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, dict[str, str | bytes]]:
    body = draw(bodies())
    return body, draw(headers(body))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(delivery=deliveries())
def test_no_body_or_headers_get_a_500_or_an_error_log(
    served: tuple[ThreadedHandler, httpx.Client, Errors],
    delivery: tuple[bytes, dict[str, str | bytes]],
) -> None:
    server, http, errors = served
    body, sent = delivery
    errors.records.clear()
    resp = http.post(server.url, content=body, headers=sent)
    assert resp.status_code in (200, 400, 401, 413), (resp.status_code, resp.text[:300])
    assert "Traceback" not in resp.text and SECRET not in resp.text
    assert errors.records == [], [logging.Formatter().format(r) for r in errors.records]


@pytest.mark.parametrize("status", [200, 400, 401, 413])
def test_the_strategies_reach_every_answer(
    served: tuple[ThreadedHandler, httpx.Client, Errors], status: int
) -> None:
    """The hostile deliveries are not too tame: each answer of the handler comes up."""
    server, http, _ = served

    answers: dict[str, int] = {}  # a delivery sent again is a replay: its first answer counts

    def answered(delivery: tuple[bytes, dict[str, str | bytes]]) -> bool:
        body, sent = delivery
        key = repr(delivery)
        if key not in answers:
            answers[key] = http.post(server.url, content=body, headers=sent).status_code
        return answers[key] == status

    quick = settings(max_examples=2000, database=None, phases=[Phase.generate],
                     report_multiple_bugs=False,
                     suppress_health_check=list(HealthCheck))  # fmt: skip
    find(deliveries(), answered, settings=quick)
