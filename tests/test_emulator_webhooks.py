"""The emulator delivers webhooks as PixVerse does: signed, retried on schedule, recorded."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from pixverse_async import PixVerse
from pixverse_async.constants import Paths, Webhook
from pixverse_async.emulator import Emulator, EmulatorConfig
from pixverse_async.emulator.__main__ import build_parser, config_from_args
from pixverse_async.emulator.webhooks import WebhookEndpoint, WebhookFaults, parse_webhook_option

from .conftest import API_KEY, FAST_RETRY, ScriptedServer
from .webhook_signing import form, signature

SECRET = "whsec-emu-SECRET-42"
FIELDS = {"prompt": "a kite", "model": "v5", "duration": 5, "quality": "540p",
          "aspect_ratio": "16:9"}  # fmt: skip


async def ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@pytest.fixture
async def receiver(scripted: ScriptedServer) -> ScriptedServer:
    scripted.default = ok
    return scripted


async def submit(client: PixVerse, webhook_id: str | None = "1234", **extra: Any) -> int:
    body: dict[str, Any] = {**FIELDS, **extra}
    if webhook_id is not None:
        body["webhook_id"] = webhook_id
    resp = await client.session.request("POST", Paths.TEXT_TO_VIDEO, json_body=body, paid=True)
    return int(resp["video_id"])


def emulator(url: str, **config: Any) -> Emulator:
    config.setdefault("generation_seconds", 0.01)
    return Emulator(api_keys={API_KEY}, webhooks={"1234": (url, SECRET)}, **config)


@pytest.fixture
async def pair(receiver: ScriptedServer) -> AsyncIterator[tuple[Emulator, PixVerse]]:
    async with emulator(receiver.base_url + "/hook") as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            yield emu, client


def check_signed(request: dict[str, Any], *, sort: bool = False) -> dict[str, Any]:
    """The delivery's signature, recomputed here from the spec, matches."""
    headers = request["headers"]
    body = json.loads(request["body"])
    ts, nonce = headers[Webhook.TIMESTAMP_HEADER], headers[Webhook.NONCE_HEADER]
    expected = signature(SECRET, ts, nonce, form(body, sort=sort))
    assert headers[Webhook.SIGNATURE_HEADER] == expected
    assert len(nonce) == 32 and nonce.isascii() and nonce.isalnum()
    assert ts.isdigit()
    return dict(body)


async def test_a_generation_with_a_webhook_id_is_delivered_signed(
    pair: tuple[Emulator, PixVerse], receiver: ScriptedServer
) -> None:
    emu, client = pair
    video_id = await submit(client)
    await emu.webhooks.drain()
    [request] = receiver.requests
    assert request["method"] == "POST" and request["path"] == "/hook"
    body = check_signed(request)
    assert list(body) == ["id", "status", "url", "size", "has_audio", "credits"]
    assert body["id"] == str(video_id) and body["status"] == 1
    assert body["url"].endswith(f"/media/videos/{video_id}.mp4") and body["size"] > 0
    assert body["has_audio"] is False and body["credits"] == 45  # published v5 540p 5 s
    gen = emu.state.generations[video_id]
    assert request["headers"][Webhook.TRACE_ID_HEADER] == gen.trace_id
    [record] = emu.state.deliveries_for(video_id)
    assert record.acknowledged and record.http_status == 200 and record.answer == "ok"
    assert (record.webhook_id, record.status, record.attempt, record.fault) == ("1234", 1, 0, None)


async def test_sorted_key_order_and_failure_statuses(receiver: ScriptedServer) -> None:
    async with emulator(receiver.base_url, webhook_key_order="sorted") as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            failed = await submit(client, prompt="a kite #fail")
            moderated = await submit(  # the audio switch is a v5.5 field (the model table)
                client, prompt="a kite #moderated", model="v5.5", generate_audio_switch=True
            )
            await emu.webhooks.drain()
    bodies = {int(b["id"]): b for b in (check_signed(r, sort=True) for r in receiver.requests)}
    assert bodies[failed]["status"] == 8 and bodies[failed]["url"] == ""
    assert bodies[moderated]["status"] == 7 and bodies[moderated]["has_audio"] is True


async def test_no_webhook_id_or_an_unknown_one_sends_nothing(
    pair: tuple[Emulator, PixVerse], receiver: ScriptedServer
) -> None:
    emu, client = pair
    await submit(client, webhook_id=None)
    await submit(client, webhook_id="9999")
    await emu.webhooks.drain()
    assert receiver.requests == [] and emu.state.webhook_deliveries == []


async def test_unacknowledged_deliveries_follow_the_documented_retry_schedule(
    receiver: ScriptedServer,
) -> None:
    async def refuse(request: web.Request) -> web.StreamResponse:
        return web.Response(status=200, text="OK!")  # not exactly "ok": retried

    receiver.default = refuse
    scale = 0.0001
    async with emulator(receiver.base_url, webhook_retry_scale=scale) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            video_id = await submit(client)
            await emu.webhooks.drain()
    records = emu.state.deliveries_for(video_id)
    assert [r.attempt for r in records] == list(range(9))
    assert [r.delay for r in records] == [0.0] + [d * scale for d in Webhook.RETRY_DELAYS]
    assert Webhook.RETRY_DELAYS == (2, 10, 30, 60, 300, 900, 3600, 4 * 3600)
    for before, after in itertools.pairwise(records):
        assert after.at - before.at >= after.delay * 0.99
    assert all(r.answer == "OK!" and not r.acknowledged for r in records)
    assert len(receiver.requests) == 9
    assert len({r["headers"][Webhook.NONCE_HEADER] for r in receiver.requests}) == 9


async def test_a_retry_that_is_acknowledged_ends_the_delivery(receiver: ScriptedServer) -> None:
    async def busy(request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, text="busy")

    receiver.add(busy, busy)
    async with emulator(receiver.base_url, webhook_retry_scale=0.001) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            video_id = await submit(client)
            await emu.webhooks.drain()
    records = emu.state.deliveries_for(video_id)
    assert [(r.attempt, r.http_status, r.acknowledged) for r in records] == [
        (0, 503, False), (1, 503, False), (2, 200, True)]  # fmt: skip


async def test_an_unreachable_receiver_is_recorded_as_an_error() -> None:
    async with emulator("http://127.0.0.1:9/hook", webhook_retry_scale=0.00001) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            video_id = await submit(client)
            await emu.webhooks.drain()
    records = emu.state.deliveries_for(video_id)
    assert len(records) == 9
    assert all(r.error and r.http_status is None for r in records)


def faulty(**rates: Any) -> WebhookFaults:
    return WebhookFaults(seed=7, **rates)


async def test_dropped_attempts_are_never_sent_and_are_retried(receiver: ScriptedServer) -> None:
    async with emulator(
        receiver.base_url, webhook_retry_scale=0.00001, webhook_faults=faulty(drop=1.0)
    ) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            video_id = await submit(client)
            await emu.webhooks.drain()
    records = emu.state.deliveries_for(video_id)
    assert [r.fault for r in records] == ["drop"] * 9
    assert receiver.requests == []


async def test_a_lost_delivery_is_never_sent_at_all(receiver: ScriptedServer) -> None:
    async with emulator(receiver.base_url, webhook_faults=faulty(lose=1.0)) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            video_id = await submit(client)
            await emu.webhooks.drain()
    [record] = emu.state.deliveries_for(video_id)
    assert record.fault == "lose" and receiver.requests == []


async def test_duplicated_attempts_are_sent_twice_each_signed_afresh(
    receiver: ScriptedServer,
) -> None:
    async with emulator(receiver.base_url, webhook_faults=faulty(duplicate=1.0)) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            video_id = await submit(client)
            await emu.webhooks.drain()
    assert [r.fault for r in emu.state.deliveries_for(video_id)] == ["duplicate", "duplicate"]
    first, second = receiver.requests
    assert check_signed(first) == check_signed(second)
    assert first["headers"][Webhook.NONCE_HEADER] != second["headers"][Webhook.NONCE_HEADER]


async def test_delayed_attempts_arrive_no_sooner_than_the_delay(receiver: ScriptedServer) -> None:
    arrivals: list[float] = []

    async def note(request: web.Request) -> web.StreamResponse:
        arrivals.append(asyncio.get_running_loop().time())
        return web.Response(text="ok")

    receiver.default = note
    faults = faulty(delay=1.0, delay_seconds=0.2)
    async with emulator(receiver.base_url, webhook_faults=faults) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            video_id = await submit(client)
            await emu.webhooks.drain()
    assert arrivals[0] - emu.state.generations[video_id].done_at >= 0.2
    assert emu.state.deliveries_for(video_id)[0].fault == "delay"


async def test_reordered_deliveries_overtake_each_other(receiver: ScriptedServer) -> None:
    faults = faulty(reorder=1.0, reorder_seconds=0.3)
    async with emulator(receiver.base_url, webhook_faults=faults, generation_seconds=0.05) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            submitted = [await submit(client) for _ in range(12)]
            await emu.webhooks.drain()
    arrived = [int(json.loads(r["body"])["id"]) for r in receiver.requests]
    assert sorted(arrived) == submitted and arrived != submitted


async def test_stopping_cancels_pending_deliveries(receiver: ScriptedServer) -> None:
    emu = emulator(receiver.base_url, generation_seconds=60)
    await emu.start()
    try:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            await submit(client)
        sender = emu.webhooks
        [task] = sender._tasks
    finally:
        await emu.stop()
    assert task.cancelled() and not sender._tasks
    assert receiver.requests == [] and emu.state.webhook_deliveries == []


def test_the_secret_stays_out_of_reprs() -> None:
    config = EmulatorConfig(webhooks={"1234": ("http://x/hook", SECRET)})  # type: ignore[dict-item]
    assert config.webhooks == {"1234": WebhookEndpoint("http://x/hook", SECRET)}
    assert SECRET not in repr(config) and SECRET not in repr(config.webhooks)


def test_the_webhook_option() -> None:
    assert parse_webhook_option("1234=http://h:1/a,b?c=1,s3cret") == (
        "1234", WebhookEndpoint("http://h:1/a,b?c=1", "s3cret"))  # fmt: skip
    for bad in ("1234", "1234=http://h", "=http://h,s", "1234=,s", "1234=http://h,"):
        with pytest.raises(ValueError, match="ID=URL,SECRET"):
            parse_webhook_option(bad)
    args = build_parser().parse_args(
        ["--webhook", "1=http://h/x,k1", "--webhook", "2=http://h/y,k2",
         "--webhook-retry-scale", "0.5"])  # fmt: skip
    config = config_from_args(args)
    assert set(config.webhooks) == {"1", "2"} and config.webhooks["2"].secret == "k2"
    assert config.webhook_retry_scale == 0.5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--webhook", "nonsense"])


def test_empty_url_or_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        Emulator(webhooks={"1": ("http://x", "")})
    with pytest.raises(ValueError, match="webhook_key_order"):
        EmulatorConfig(webhook_key_order="random")


# What the emulator may import from the client's side: the shared constants (paths, error
# codes, limits) and the published price table with its rule format (data PixVerse publishes,
# which the emulator charges by, as the client estimates by it). Nothing that sends, decodes or
# validates, so a bug there cannot hide the same bug in the emulator.
_EMULATOR_MAY_IMPORT = ("constants", "batch.price_rules", "batch.published_prices")


def test_the_emulator_imports_nothing_from_the_client_but_constants_and_prices() -> None:
    import ast
    from pathlib import Path

    import pixverse_async.emulator as package

    allowed = {f"pixverse_async.{name}" for name in _EMULATOR_MAY_IMPORT}
    for module in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert node.level == 2 and node.module in _EMULATOR_MAY_IMPORT, module.name
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pixverse_"):
                assert node.module in allowed, module.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("pixverse_async") for a in node.names)


@pytest.mark.parametrize("clock", ["manual", "real"])
async def test_a_webhook_waits_for_the_generation_to_end_on_the_emulator_clock(
    receiver: ScriptedServer, clock: str
) -> None:
    async with emulator(receiver.base_url + "/hook", clock=clock, generation_seconds=3600) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            first, second = await submit(client), await submit(client)
            for _ in range(5):  # a few loop turns: nothing is due, nothing is sent
                await asyncio.sleep(0)
            assert receiver.requests == []
            emu.finish(first, outcome="failed")
            await asyncio.wait_for(_delivered(receiver, 1), 10)
            emu.advance(3600)
            await emu.webhooks.drain()
    statuses = [json.loads(r["body"])["status"] for r in receiver.requests]
    ids = [json.loads(r["body"])["id"] for r in receiver.requests]
    assert ids == [str(first), str(second)] and statuses[0] == 8


async def _delivered(receiver: ScriptedServer, count: int) -> None:
    while len(receiver.requests) < count:
        await asyncio.sleep(0.005)
