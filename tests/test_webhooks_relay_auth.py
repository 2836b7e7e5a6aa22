"""The relay authenticates its messages: a NOTIFY without the relay key never ends a job.

Any database role can ``NOTIFY`` on any channel; a relay message counts only when sealed
(HMAC-SHA256) with the key the relay's processes share, sent within the window, and not
seen before. Against the real PostgreSQL of ``tests/pg.py`` (one relay name per test), and
the seal alone without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from pixverse_async import ValidationError
from pixverse_async.webhooks import CompletionHub, PostgresRelay, RelayError, WebhookEvent
from pixverse_async.webhooks.relay import CHANNEL_PREFIX, MAX_MESSAGE, encode
from pixverse_async.webhooks.relay_seal import (
    KEY_LABEL,
    OVERHEAD,
    RelayMessageRejected,
    RelaySeal,
    relay_key,
)

from .test_workers import hang_guard

SECRET = "whsec-relay-auth-SECRET-5"
NOW = 1_800_000_000
CHANNEL = CHANNEL_PREFIX + "shop"


def fresh_name() -> str:
    return "t" + uuid.uuid4().hex[:16]


def ev(video_id: int, status: int, **fields: object) -> WebhookEvent:
    return WebhookEvent.from_payload({"id": str(video_id), "status": status, **fields})


def rejected(seal: RelaySeal, payload: str, now: float = NOW) -> str:
    with pytest.raises(RelayMessageRejected) as info:
        seal.open(payload, now=now)
    return info.value.reason


# --- the seal, without a server ------------------------------------------------------------


def test_the_key_is_derived_with_a_label_and_is_never_the_secret() -> None:
    key = relay_key(SECRET)
    assert key == hmac.new(SECRET.encode(), KEY_LABEL, hashlib.sha256).digest()
    assert key != SECRET.encode() and key != hashlib.sha256(SECRET.encode()).digest()
    assert relay_key(SECRET.encode()) == key and relay_key(SECRET + "x") != key
    # the relay key cannot sign a delivery: a delivery's MAC is keyed with the secret
    assert "***" in repr(RelaySeal(key, CHANNEL)) and key.hex() not in repr(RelaySeal(key, CHANNEL))


def test_a_sealed_message_opens_once_within_the_window() -> None:
    sender, receiver = RelaySeal(relay_key(SECRET), CHANNEL), RelaySeal(relay_key(SECRET), CHANNEL)
    message = encode(ev(7, 1, url="https://cdn/7.mp4"), "origin")
    payload = sender.seal(message, now=NOW)
    assert len(payload) <= len(message) + OVERHEAD
    assert receiver.open(payload, now=NOW + 299) == message
    assert rejected(receiver, payload, NOW + 299) == "replayed"  # the same message again
    # a fresh receiver (another process) takes it within the window, not outside
    assert RelaySeal(relay_key(SECRET), CHANNEL).open(payload, now=NOW - 300) == message
    assert rejected(RelaySeal(relay_key(SECRET), CHANNEL), payload, NOW + 301) == "stale"
    assert rejected(RelaySeal(relay_key(SECRET), CHANNEL), payload, NOW - 301) == "future"
    # once its window passed, the replay guard may forget it: the window still refuses it
    assert rejected(receiver, payload, NOW + 10_000) == "stale"


def test_what_is_not_sealed_with_the_key_is_rejected() -> None:
    receiver = RelaySeal(relay_key(SECRET), CHANNEL)
    message = encode(ev(7, 1, url="https://evil.example/x.mp4"), "origin")
    genuine = RelaySeal(relay_key(SECRET), CHANNEL).seal(message, now=NOW)
    _, sent, message_id, mac, _ = genuine.split(".", 4)
    cases = {
        "malformed": [
            message,  # the old, unsealed format (what the forger of issue 20 sent)
            json.dumps({"v": 1, "body": {"id": "7", "status": 1}}),
            "",
            f"3.{sent}.{message_id}.{mac}.{message}",
            f"2.{sent}.{message_id}.{mac[:-1]}.{message}",
            f"2.-5.{message_id}.{mac}.{message}",
        ],
        "bad_mac": [
            RelaySeal(relay_key("another secret"), CHANNEL).seal(message, now=NOW),
            RelaySeal(b"k" * 32, CHANNEL).seal(message, now=NOW),
            RelaySeal(relay_key(SECRET), CHANNEL + "_other").seal(message, now=NOW),
            f"2.{sent}.{message_id}.{'A' * 43}.{message}",
            f"2.{int(sent) + 1}.{message_id}.{mac}.{message}",
            f"2.{sent}.{'0' * 32}.{mac}.{message}",
            genuine.replace("evil", "good"),
            genuine + " ",
            genuine + "\ud800",  # a lone surrogate, as a NOTIFY payload never has
        ],
    }
    for reason, payloads in cases.items():
        for payload in payloads:
            assert rejected(receiver, payload) == reason, payload
    assert receiver.open(genuine, now=NOW) == message  # none of them used up its id


def test_relay_arguments_are_checked_and_the_secret_never_shows() -> None:
    url = "postgresql://db/x"
    with pytest.raises(ValidationError, match="secret: give the webhook secret"):
        PostgresRelay(url, name="shop")
    with pytest.raises(ValidationError, match="not both"):
        PostgresRelay(url, name="shop", secret=SECRET, key=b"k" * 32)
    with pytest.raises(ValidationError, match="key: must be at least 32 bytes"):
        PostgresRelay(url, name="shop", key=b"short")
    with pytest.raises(ValidationError, match="secret: must not be empty"):
        PostgresRelay(url, name="shop", secret="")
    with pytest.raises(ValidationError, match="window"):
        PostgresRelay(url, name="shop", secret=SECRET, window=0)
    relay = PostgresRelay(url, name="shop", secret=SECRET)
    assert SECRET not in repr(relay) and relay_key(SECRET).hex() not in repr(relay)
    assert SECRET not in repr(relay.__dict__) and "relay_key" not in repr(relay.__dict__)


# --- against PostgreSQL --------------------------------------------------------------------


async def notify_as_a_role_without_grants(dsn: str, channel: str, *payloads: str) -> None:
    """``pg_notify`` from a role created for it, with no grants at all, then dropped."""
    import asyncpg

    role = "forger_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"CREATE ROLE {role} NOLOGIN")
        try:
            async with admin.transaction():
                await admin.execute(f"SET LOCAL ROLE {role}")
                assert await admin.fetchval("SELECT current_user") == role
                for payload in payloads:
                    await admin.execute("SELECT pg_notify($1, $2)", channel, payload)
        finally:
            await admin.execute(f"DROP ROLE {role}")
    finally:
        await admin.close()


class Captured:
    """Every payload on a channel, heard by a plain connection (any role can LISTEN)."""

    def __init__(self) -> None:
        self.payloads: asyncio.Queue[str] = asyncio.Queue()

    def __call__(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.payloads.put_nowait(payload)


@contextlib.asynccontextmanager
async def listening(dsn: str, channel: str) -> AsyncIterator[Captured]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    captured = Captured()
    try:
        await conn.add_listener(channel, captured)
        yield captured
    finally:
        await conn.close()


async def settled(sender: CompletionHub, receiver: CompletionHub) -> None:
    """Until ``receiver`` heard a genuine message ``sender`` published after everything
    before it (NOTIFYs of one session arrive in order; the forger's committed earlier)."""
    with receiver.register(10**12) as marker:
        await sender.deliver(ev(10**12, 1))
        await marker.wait(timeout=30)
    receiver._ended.pop(10**12)
    sender._ended.pop(10**12)


@hang_guard(60)
async def test_a_forged_notify_from_a_role_without_grants_does_not_end_a_job(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 20's forgery: ``pg_notify`` of a made-up success with an attacker's URL, by a
    database role with no grants. The waiting job does not end; the genuine event does."""
    caplog.set_level(logging.WARNING, logger="pixverse_async")
    name = fresh_name()
    channel = CHANNEL_PREFIX + name
    video_id = 4242
    forged_v1 = json.dumps({"v": 1, "from": "x", "timestamp": 0, "nonce": "", "trace_id": None,
                            "body": {"id": str(video_id), "status": 1,
                                     "url": "https://evil.example/x.mp4"}})  # fmt: skip
    forged_v2 = RelaySeal(b"attacker-key-" * 3, channel).seal(
        encode(ev(video_id, 1, url="https://evil.example/x.mp4"), "x")
    )
    async with (
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET)) as a,
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET)) as b,
    ):
        assert b.relay is not None
        watch = b.register(video_id)
        await notify_as_a_role_without_grants(postgres_dsn, channel, forged_v1, forged_v2)
        await settled(a, b)
        assert not watch.done() and watch.latest is None
        assert b.relay.dropped == {"malformed": 1, "bad_mac": 1}
        done = ev(video_id, 1, url="https://cdn/4242.mp4")
        await a.deliver(done)  # the genuine delivery, received by the other process
        assert await watch.wait(timeout=30) == done
    dropped = [r.getMessage() for r in caplog.records if "message dropped" in r.getMessage()]
    assert len(dropped) == 2 * 2, dropped  # by A and by B
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged and relay_key(SECRET).hex() not in logged
    assert "evil.example" not in logged


@hang_guard(60)
async def test_copies_other_keys_and_stale_messages_are_dropped(postgres_dsn: str) -> None:
    """Someone who can LISTEN sees genuine messages and sends them again (to this relay
    name or another sharing the key), or publishes with another secret, or an old one."""
    name, other = fresh_name(), fresh_name()
    channel = CHANNEL_PREFIX + name
    async with (
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET)) as a,
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret=SECRET)) as b,
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=name, secret="other")) as c,
        CompletionHub(relay=PostgresRelay(postgres_dsn, name=other, secret=SECRET)) as d,
    ):
        assert b.relay is not None
        watch = b.register(5)
        async with listening(postgres_dsn, channel) as captured:
            await a.deliver(ev(5, 5))  # a status on the way
            genuine = await asyncio.wait_for(captured.payloads.get(), 30)
            await settled(a, b)
            assert watch.latest == ev(5, 5)
            watch.latest = None
            async with listening(postgres_dsn, CHANNEL_PREFIX + other) as elsewhere:
                await d.deliver(ev(5, 1))  # another name's genuine end
                theirs = await asyncio.wait_for(elsewhere.payloads.get(), 30)
            await c.deliver(ev(5, 1))  # another secret
            stale = RelaySeal(relay_key(SECRET), channel).seal(
                encode(ev(5, 1), "x"), now=time.time() - 1000
            )
            await notify_as_a_role_without_grants(postgres_dsn, channel, genuine, theirs, stale)
            await settled(a, b)
        assert not watch.done() and watch.latest is None
        assert b.relay.dropped == {"bad_mac": 2, "replayed": 1, "stale": 1}


def test_an_event_as_large_as_allowed_still_fits_notify_once_sealed() -> None:
    seal = RelaySeal(relay_key(SECRET), CHANNEL_PREFIX + "x" * 45)
    fitted = 0
    for size in range(7600, 8000, 7):
        try:
            message = encode(ev(1, 1, url="u" * size), "0" * 32)
        except RelayError:
            continue
        assert len(seal.seal(message).encode()) <= MAX_MESSAGE
        fitted += 1
    assert 0 < fitted < len(range(7600, 8000, 7))


def test_the_seal_module_example_runs() -> None:
    from pixverse_async.webhooks import relay_seal

    doc = relay_seal.__doc__ or ""
    match = re.search(r"Example::\n\n((?:    .*\n|\n)+)", doc)
    assert match
    code = "\n".join(line[4:] for line in match.group(1).splitlines())
    exec(compile(code, "<relay_seal example>", "exec"), {})
