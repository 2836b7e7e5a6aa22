"""OpenTelemetry spans and metrics, read with the real SDK's in-memory exporters."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from pixverse_async import ConcurrencyLimitError, PixVerse
from pixverse_async.constants import Paths

from .conftest import API_KEY, FAST_RETRY, ScriptedServer
from .otel import Telemetry, telemetry_fixture  # noqa: F401  (the fixture "telemetry")

OK = {"ErrCode": 0, "ErrMsg": "success", "Resp": {"account_id": 7}}


def no_secret_in(telemetry: Telemetry, *secrets: str) -> None:
    for span in telemetry.finished():
        text = span.to_json()
        assert not any(secret in text for secret in secrets), span.name


async def test_a_call_with_a_retry_is_two_client_spans_and_two_measures(
    telemetry: Telemetry, scripted: ScriptedServer
) -> None:
    scripted.raw(b"<html>502</html>", status=502)
    scripted.json(OK)
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, retry=FAST_RETRY) as c:
        await c.account.balance(extra_body={"probe": "1"})
    first, second = telemetry.finished()
    sent = scripted.requests[0]["headers"]["Ai-trace-id"]
    host, port = scripted.base_url.removeprefix("http://").split(":")
    for span in (first, second):
        assert span.name == f"GET {Paths.BALANCE}"
        assert span.kind is SpanKind.CLIENT
        assert span.attributes is not None
        assert span.attributes["http.request.method"] == "GET"
        assert span.attributes["server.address"] == host
        assert span.attributes["server.port"] == int(port)
        assert span.attributes["url.full"] == f"{scripted.base_url}{Paths.BALANCE}?probe=1"
        assert span.attributes["pixverse.trace_id"] == sent
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["http.response.status_code"] == 502
    assert first.attributes["error.type"] == "502"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["http.request.resend_count"] == 1
    assert "error.type" not in second.attributes
    assert second.status.status_code is StatusCode.UNSET
    durations = telemetry.points("http.client.request.duration")
    assert sorted(p.attributes.get("http.response.status_code") for p in durations) == [200, 502]
    assert sum(p.count for p in durations) == 2
    no_secret_in(telemetry, API_KEY)


async def test_an_envelope_error_names_its_err_code(
    telemetry: Telemetry, scripted: ScriptedServer
) -> None:
    scripted.json({"ErrCode": 500044, "ErrMsg": "too many", "Resp": None})
    async with PixVerse(api_key=API_KEY, base_url=scripted.base_url, max_retries=0) as c:
        with pytest.raises(ConcurrencyLimitError) as raised:
            await c.account.balance()
    (span,) = telemetry.finished()
    assert span.attributes is not None
    assert span.attributes["pixverse.err_code"] == 500044
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    (limited,) = telemetry.points("pixverse.concurrency_limited")
    assert limited.value == 1


async def test_telemetry_is_off_without_a_provider(scripted: ScriptedServer) -> None:
    from pixverse_async.telemetry import current

    assert current() is None
