"""WebhookVerifier: signatures computed in the test pass; each broken check has its own reason."""

from __future__ import annotations

import base64
import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from pixverse_async import PixVerseError, WebhookVerificationError
from pixverse_async.models import VideoStatus
from pixverse_async.webhooks import WebhookEvent, WebhookVerifier
from pixverse_async.webhooks.replay import NonceGuard

from .webhook_signing import delivery, form, signature

SECRET = "whsec-SECRET-7f3e1d"
NOW = 1_800_000_000
BODY = {
    "id": "123456789",
    "status": 1,
    "url": "https://cdn.example/ü dir/v 1.mp4",
    "size": 10.5,
    "has_audio": True,
    "credits": 100,
}
_nonces = (f"{n:032d}" for n in itertools.count())


def nonce() -> str:
    return next(_nonces)


def verify(verifier: WebhookVerifier, headers: Any, body: bytes, now: float = NOW) -> WebhookEvent:
    return verifier.verify(headers, body, now=now)


def refused(verifier: WebhookVerifier, headers: Any, body: bytes, now: float = NOW) -> str:
    with pytest.raises(WebhookVerificationError) as info:
        verifier.verify(headers, body, now=now)
    err = info.value
    assert isinstance(err, PixVerseError)
    text = str(err) + repr(err)
    assert SECRET not in text
    assert headers.get("Webhook-Signature", "\x00") not in text
    return err.reason


def test_the_form_of_the_documented_example_is_written_out_by_hand() -> None:
    # guards the test's own signer: the payload PixVerse's page describes, by hand
    assert form(BODY) == (
        "id=123456789&status=1&url=https%3A%2F%2Fcdn.example%2F%C3%BC+dir%2Fv+1.mp4"
        "&size=10.5&has_audio=true&credits=100"
    )
    assert form(BODY, sort=True).startswith("credits=100&has_audio=true&id=123456789&size=10.5")


@pytest.mark.parametrize("sort", [False, True], ids=["body-order", "sorted"])
def test_valid_deliveries_pass_in_both_key_orders(sort: bool) -> None:
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce(), sort=sort)
    event = verify(WebhookVerifier(SECRET), headers, body)
    assert event.video_id == 123456789
    assert event.status is VideoStatus.SUCCESSFUL
    assert event.url == "https://cdn.example/ü dir/v 1.mp4"
    assert (event.size, event.has_audio, event.credits) == (10.5, True, 100)
    assert event.trace_id == "trace-1"
    assert event.timestamp == NOW and event.nonce == headers["Webhook-Nonce"]
    assert event.payload == BODY and event.extra == {}


@pytest.mark.parametrize("sort", [False, True], ids=["body-order", "sorted"])
def test_false_booleans_unknown_fields_and_unknown_status(sort: bool) -> None:
    body = {"status": 42, "id": "9", "has_audio": False, "url": "", "future": "x y+z", "n": 0}
    headers, raw = delivery(SECRET, body, timestamp=NOW, nonce=nonce(), sort=sort)
    event = verify(WebhookVerifier(SECRET), headers, raw)
    assert event.has_audio is False
    assert event.status == 42 and not event.status.is_known and not event.is_terminal
    assert event.extra == {"future": "x y+z", "n": 0}
    assert event.size is None and event.credits is None


def test_headers_are_found_whatever_their_case() -> None:
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify(WebhookVerifier(SECRET), lower, body).video_id == 123456789
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    upper = CIMultiDict({k.upper(): v for k, v in headers.items()})
    assert verify(WebhookVerifier(SECRET), upper, body).trace_id == "trace-1"


def test_a_flipped_body_byte_is_a_bad_signature() -> None:
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    flipped = body.replace(b'"credits": 100', b'"credits": 900')
    assert flipped != body
    assert refused(WebhookVerifier(SECRET), headers, flipped) == "bad_signature"


def test_a_flipped_signature_byte_is_a_bad_signature() -> None:
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    digest = bytearray(base64.b64decode(headers["Webhook-Signature"]))
    digest[7] ^= 0x01
    headers["Webhook-Signature"] = base64.b64encode(bytes(digest)).decode()
    assert refused(WebhookVerifier(SECRET), headers, body) == "bad_signature"


def test_a_wrong_secret_is_a_bad_signature() -> None:
    headers, body = delivery("whsec-OTHER", BODY, timestamp=NOW, nonce=nonce())
    assert refused(WebhookVerifier(SECRET), headers, body) == "bad_signature"


def test_a_signature_over_other_headers_is_a_bad_signature() -> None:
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    headers["Webhook-Timestamp"] = str(NOW + 1)  # still within the window
    assert refused(WebhookVerifier(SECRET), headers, body) == "bad_signature"


def test_timestamps_outside_the_tolerance_are_refused_as_stale_or_future() -> None:
    verifier = WebhookVerifier(SECRET, tolerance=300)
    headers, body = delivery(SECRET, BODY, timestamp=NOW - 301, nonce=nonce())
    assert refused(verifier, headers, body) == "stale_timestamp"
    headers, body = delivery(SECRET, BODY, timestamp=NOW + 301, nonce=nonce())
    assert refused(verifier, headers, body) == "future_timestamp"
    for edge in (NOW - 300, NOW + 300):  # the tolerance itself is inside
        headers, body = delivery(SECRET, BODY, timestamp=edge, nonce=nonce())
        assert verify(verifier, headers, body).timestamp == edge


def test_a_reused_nonce_is_a_replay_until_its_window_has_passed() -> None:
    verifier = WebhookVerifier(SECRET, tolerance=300)
    n = nonce()
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=n)
    verify(verifier, headers, body)
    assert refused(verifier, headers, body, now=NOW + 10) == "replayed_nonce"
    # the same nonce, signed again with another timestamp, inside the window: still a replay
    headers2, body2 = delivery(SECRET, BODY, timestamp=NOW + 20, nonce=n)
    assert refused(verifier, headers2, body2, now=NOW + 20) == "replayed_nonce"
    # once the first delivery's window is over, the nonce may come again with a fresh timestamp
    headers3, body3 = delivery(SECRET, BODY, timestamp=NOW + 400, nonce=n)
    assert verify(verifier, headers3, body3, now=NOW + 400).nonce == n


def test_a_refused_delivery_does_not_use_up_its_nonce() -> None:
    verifier = WebhookVerifier(SECRET)
    n = nonce()
    headers, body = delivery("whsec-OTHER", BODY, timestamp=NOW, nonce=n)
    assert refused(verifier, headers, body) == "bad_signature"
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=n)
    assert verify(verifier, headers, body).nonce == n


def test_forget_nonce_lets_a_failed_delivery_in_again() -> None:
    verifier = WebhookVerifier(SECRET)
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    event = verify(verifier, headers, body)
    verifier.forget_nonce(event.nonce)
    assert verify(verifier, headers, body) == event


@pytest.mark.parametrize("name", ["Webhook-Timestamp", "Webhook-Nonce", "Webhook-Signature"])
def test_a_missing_header_is_refused_and_named(name: str) -> None:
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    del headers[name]
    with pytest.raises(WebhookVerificationError, match=name) as info:
        verify(WebhookVerifier(SECRET), headers, body)
    assert info.value.reason == "missing_header" and not info.value.bad_body


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Webhook-Timestamp", "17e8"),
        ("Webhook-Timestamp", "-1700000000"),
        ("Webhook-Timestamp", "1" * 40),
        ("Webhook-Nonce", "abc-def"),
        ("Webhook-Nonce", "ü" * 32),
        ("Webhook-Nonce", "a" * 129),
        ("Webhook-Signature", "not base64!"),
        ("Webhook-Signature", base64.b64encode(b"short").decode()),
    ],
)
def test_a_malformed_header_is_refused_and_named(name: str, value: str) -> None:
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    headers[name] = value
    with pytest.raises(WebhookVerificationError, match=name) as info:
        verify(WebhookVerifier(SECRET), headers, body)
    assert info.value.reason == "malformed_header"


@pytest.mark.parametrize("raw", [b"id=1&status=1", b"", b"\xff\xfe", b"[1, 2]", b'"ok"', b"{"])
def test_a_body_that_is_not_a_json_object_is_refused(raw: bytes) -> None:
    headers, _ = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    headers["Webhook-Signature"] = signature(
        SECRET, headers["Webhook-Timestamp"], headers["Webhook-Nonce"], raw.decode(errors="replace")
    )
    with pytest.raises(WebhookVerificationError) as info:
        verify(WebhookVerifier(SECRET), headers, raw)
    assert info.value.reason == "body_not_json" and info.value.bad_body


def test_a_signed_body_nested_32_levels_passes_and_33_is_refused() -> None:
    """The body itself is level 1; an unknown field may nest 31 more (the signed form writes
    it as compact JSON, which ``str`` of nested one-item lists also is)."""

    def nested(levels: int) -> object:
        value: object = 1
        for _ in range(levels):
            value = [value]
        return value

    verifier = WebhookVerifier(SECRET)
    headers, raw = delivery(SECRET, {**BODY, "x": nested(31)}, timestamp=NOW, nonce=nonce())
    assert verify(verifier, headers, raw).extra == {"x": nested(31)}
    headers, raw = delivery(SECRET, {**BODY, "x": nested(32)}, timestamp=NOW, nonce=nonce())
    with pytest.raises(WebhookVerificationError, match="nested deeper than 32 levels") as info:
        verify(verifier, headers, raw)
    assert info.value.reason == "body_not_json" and info.value.bad_body
    # Brackets inside strings are not nesting.
    headers, raw = delivery(SECRET, {**BODY, "x": "[" * 100}, timestamp=NOW, nonce=nonce())
    assert verify(verifier, headers, raw).extra == {"x": "[" * 100}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": 1}, "id"),
        ({"id": "12a", "status": 1}, "id"),
        ({"id": True, "status": 1}, "id"),
        ({"id": "1"}, "status"),
        ({"id": "1", "status": "done"}, "status"),
    ],
)
def test_a_signed_body_without_an_id_or_status_is_not_an_event(
    body: dict[str, Any], field: str
) -> None:
    headers, raw = delivery(SECRET, body, timestamp=NOW, nonce=nonce())
    with pytest.raises(WebhookVerificationError, match=f"field {field}") as info:
        verify(WebhookVerifier(SECRET), headers, raw)
    assert info.value.reason == "body_not_event" and info.value.bad_body


def test_the_secret_never_shows() -> None:
    verifier = WebhookVerifier(SECRET)
    assert SECRET not in repr(verifier) and "***" in repr(verifier)
    assert SECRET not in str(vars(type(verifier)))
    headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
    event = verify(verifier, headers, body)
    assert SECRET not in repr(event)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="empty"):
        WebhookVerifier("")
    with pytest.raises(ValueError, match="tolerance"):
        WebhookVerifier(SECRET, tolerance=0)
    with pytest.raises(ValueError, match="max_nonces"):
        NonceGuard(0)


def test_the_replay_guard_keeps_at_most_max_nonces() -> None:
    verifier = WebhookVerifier(SECRET, max_nonces=50)
    for i in range(500):
        headers, body = delivery(SECRET, BODY, timestamp=NOW, nonce=nonce())
        verify(verifier, headers, body, now=NOW + i * 0.001)
    guard = verifier._guard
    assert len(guard) == 50
    assert len(guard._heap) <= 100


def test_the_replay_guard_forgets_expired_nonces_first() -> None:
    guard = NonceGuard(max_nonces=3)
    assert guard.add("a", expires=10, now=0)
    assert guard.add("b", expires=30, now=0)
    assert guard.add("c", expires=20, now=0)
    assert guard.add("d", expires=40, now=0)  # full: "a" (expiring first) goes
    assert not guard.seen("a", now=1) and guard.seen("b", now=1) and guard.seen("c", now=1)
    assert guard.add("e", expires=50, now=25)  # "c" has expired
    assert sorted(guard._expiry) == ["b", "d", "e"]
    for i in range(20):  # discarding keeps the heap bounded
        guard.discard("e")
        guard.add("e", expires=50 + i, now=25)
    assert len(guard._heap) <= 2 * guard.max_nonces


def test_webhook_event_is_frozen_and_hashable() -> None:
    event = WebhookEvent.from_payload({"id": 5, "status": 7})
    assert event.status is VideoStatus.MODERATION_FAILED and event.is_terminal
    assert hash(event) == hash(WebhookEvent.from_payload({"id": "5", "status": 7}))
    with pytest.raises(AttributeError):
        event.video_id = 6  # type: ignore[misc]


@pytest.mark.parametrize(
    "module",
    ["events", "signing", "replay", "verify", "hub"],
)
def test_docstring_examples_run(module: str) -> None:
    import importlib

    mod = importlib.import_module(f"pixverse_async.webhooks.{module}")
    doc = mod.__doc__ or ""
    match = re.search(r"Example::\n\n((?:    .*\n|\n)+)", doc)
    assert match, f"{module} has no example"
    code = "\n".join(line[4:] for line in match.group(1).splitlines())
    exec(compile(code, f"<{module} example>", "exec"), {"json": json})


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.text(max_size=20),
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.booleans(),
            st.none(),
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_the_form_is_what_urlencode_with_quote_plus_gives(body: dict[str, Any], sort: bool) -> None:
    from urllib.parse import quote_plus, urlencode

    from pixverse_async.webhooks.signing import form_payload

    def text(value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return json.dumps(value)
        return value if isinstance(value, str) else json.dumps(value)

    keys = sorted(body) if sort else list(body)
    expected = urlencode([(k, text(body[k])) for k in keys], quote_via=quote_plus)
    assert form_payload(body, sort=sort) == expected
