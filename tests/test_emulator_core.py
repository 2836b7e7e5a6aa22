"""The emulator on its own: authentication, trace ids, lifecycle, limits, faults, records."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest

from pixverse_async.constants import ErrCode, Paths, VideoStatusCode
from pixverse_async.emulator import Emulator, FaultConfig

KEY = "emu-key"
BODY = {"prompt": "a cat", "model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}


def headers(key: str | None = KEY, trace: str | None = "fresh") -> dict[str, str]:
    out = {}
    if key is not None:
        out["API-KEY"] = key
    if trace == "fresh":
        out["Ai-trace-id"] = str(uuid.uuid4())
    elif trace is not None:
        out["Ai-trace-id"] = trace
    return out


async def call(
    http: aiohttp.ClientSession, emu: Emulator, method: str, path: str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    kw.setdefault("headers", headers())
    async with http.request(method, emu.base_url + path, **kw) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_binds_loopback_by_default() -> None:
    async with Emulator() as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("hdrs", "status", "code"),
    [
        (headers(key=None), 401, ErrCode.API_KEY_MISSING),
        (headers(key="wrong"), 401, ErrCode.API_KEY_INVALID),
        (headers(trace=None), 400, ErrCode.EMPTY_PARAMETER),
        (headers(trace="not-a-uuid"), 400, ErrCode.INVALID_PARAMETER),
    ],
)
async def test_checks_key_and_trace_id(
    http: aiohttp.ClientSession, hdrs: dict[str, str], status: int, code: int
) -> None:
    async with Emulator(api_keys={KEY}) as emu:
        got_status, body = await call(
            http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY, headers=hdrs
        )
        assert (got_status, body["ErrCode"]) == (status, code)
        assert not emu.state.generations


async def test_generation_lifecycle_runs_then_succeeds(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, clock="manual", generation_seconds=0.2) as emu:
        _, body = await call(http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY)
        video_id = body["Resp"]["video_id"]
        assert body["Resp"]["credits"] > 0
        _, status = await call(http, emu, "GET", f"{Paths.VIDEO_RESULT_PREFIX}{video_id}")
        assert status["Resp"]["status"] == VideoStatusCode.GENERATING
        emu.advance(0.2)
        _, status = await call(http, emu, "GET", f"{Paths.VIDEO_RESULT_PREFIX}{video_id}")
        resp = status["Resp"]
        assert resp["status"] == VideoStatusCode.SUCCESSFUL and resp["id"] == video_id
        async with http.get(resp["url"]) as video:
            data = await video.read()
            assert video.status == 200 and data[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("marker", "status"),
    [
        ("#fail", VideoStatusCode.FAILED),
        ("#moderated", VideoStatusCode.MODERATION_FAILED),
        ("#deleted", VideoStatusCode.DELETED),
    ],
)
async def test_outcome_markers(http: aiohttp.ClientSession, marker: str, status: int) -> None:
    async with Emulator(api_keys={KEY}, generation_seconds=0.0) as emu:
        _, body = await call(
            http, emu, "POST", Paths.TEXT_TO_VIDEO, json={**BODY, "prompt": f"x {marker}"}
        )
        _, got = await call(
            http, emu, "GET", f"{Paths.VIDEO_RESULT_PREFIX}{body['Resp']['video_id']}"
        )
        assert got["Resp"]["status"] == status


async def test_input_moderation_answers_http_500_lowercase(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}) as emu:
        status, body = await call(
            http, emu, "POST", Paths.TEXT_TO_VIDEO, json={**BODY, "prompt": "#reject"}
        )
        assert status == 500 and body["err_code"] == ErrCode.MODERATION_REJECTED
        assert not emu.state.generations


async def test_unknown_video_is_not_found(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}) as emu:
        _, body = await call(http, emu, "GET", f"{Paths.VIDEO_RESULT_PREFIX}12345")
        assert body["ErrCode"] == ErrCode.NOT_FOUND


async def test_per_key_concurrency_limit(http: aiohttp.ClientSession) -> None:
    async with Emulator(
        api_keys={KEY, "other"}, clock="manual", generation_seconds=5, max_concurrent_generations=2
    ) as emu:
        codes = [
            (await call(http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY))[1]["ErrCode"]
            for _ in range(3)
        ]
        assert codes == [0, 0, ErrCode.CONCURRENCY_LIMIT]
        _, other = await call(
            http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY, headers=headers("other")
        )
        assert other["ErrCode"] == 0
        assert emu.state.peak_in_flight[KEY] == 2


async def test_records_requests_trace_ids_and_generations(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}) as emu:
        hdrs = headers()
        await call(http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY, headers=hdrs)
        (record,) = emu.state.requests_to(Paths.TEXT_TO_VIDEO)
        assert record.trace_id == hdrs["Ai-trace-id"] and record.status == 200
        (generation,) = emu.state.generations_for(Paths.TEXT_TO_VIDEO)
        assert generation.trace_id == hdrs["Ai-trace-id"] and generation.api_key == KEY


async def test_fault_500_envelope_happens_before_acting(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, faults=FaultConfig(error_500=1.0)) as emu:
        status, body = await call(http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY)
        assert status == 500 and "err_code" in body
        assert not emu.state.generations


async def test_fault_html_502_happens_after_acting(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, faults=FaultConfig(html_502=1.0)) as emu:
        async with http.post(emu.base_url + Paths.TEXT_TO_VIDEO, json=BODY, headers=headers()) as r:
            assert r.status == 502 and "text/html" in r.headers["Content-Type"]
        assert len(emu.state.generations) == 1


async def test_fault_reset_drops_the_connection_after_acting(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, faults=FaultConfig(reset=1.0)) as emu:
        with pytest.raises(aiohttp.ClientError):
            await call(http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY)
        assert len(emu.state.generations) == 1


async def test_fault_429_carries_retry_after(http: aiohttp.ClientSession) -> None:
    async with (
        Emulator(api_keys={KEY}, faults=FaultConfig(rate_limited=1.0, retry_after="3")) as emu,
        http.get(emu.base_url + Paths.BALANCE, headers=headers()) as r,
    ):
        assert r.status == 429 and r.headers["Retry-After"] == "3"


async def test_fault_slow_holds_the_answer(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, faults=FaultConfig(slow=1.0, slow_seconds=0.3)) as emu:
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, _ = await call(http, emu, "GET", Paths.BALANCE)
        assert status == 200 and loop.time() - started >= 0.29


async def test_faults_can_target_paths(http: aiohttp.ClientSession) -> None:
    faults = FaultConfig(error_500=1.0, paths=(Paths.TEXT_TO_VIDEO,))
    async with Emulator(api_keys={KEY}, faults=faults) as emu:
        status, _ = await call(http, emu, "GET", Paths.BALANCE)
        assert status == 200


async def test_balance_reflects_credits_used(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, credits=100) as emu:
        _, before = await call(http, emu, "GET", Paths.BALANCE)
        _, gen = await call(http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY)
        _, after = await call(http, emu, "GET", Paths.BALANCE)
        spent = gen["Resp"]["credits"]
        assert before["Resp"]["credit_monthly"] - after["Resp"]["credit_monthly"] == spent
