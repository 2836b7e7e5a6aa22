"""The emulator's test-controlled clock and its fault rules by endpoint."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from pixverse_async.constants import ErrCode, Paths, VideoStatusCode
from pixverse_async.emulator import Emulator, EmulatorClock, FaultConfig

KEY = "clock-key"
BODY = {"prompt": "a cat", "model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, emu: Emulator, method: str, path: str,
               **kw: Any) -> tuple[int, dict[str, Any]]:  # fmt: skip
    headers = {"API-KEY": KEY, "Ai-trace-id": str(uuid.uuid4())}
    async with http.request(method, emu.base_url + path, headers=headers, **kw) as resp:
        return resp.status, await resp.json(content_type=None)


async def submit(http: aiohttp.ClientSession, emu: Emulator, path: str = Paths.TEXT_TO_VIDEO,
                 **body: Any) -> int:  # fmt: skip
    _, answer = await call(http, emu, "POST", path, json={**BODY, **body})
    assert answer["ErrCode"] == 0, answer
    video_id: int = answer["Resp"]["video_id"]
    return video_id


async def status(http: aiohttp.ClientSession, emu: Emulator, video_id: int) -> int:
    _, answer = await call(http, emu, "GET", f"{Paths.VIDEO_RESULT_PREFIX}{video_id}")
    code: int = answer["Resp"]["status"]
    return code


async def test_a_manual_clock_stands_still_until_advanced(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, clock="manual", generation_seconds=10) as emu:
        video_id = await submit(http, emu)
        for _ in range(3):
            assert await status(http, emu, video_id) == VideoStatusCode.GENERATING
        emu.advance(9.5)
        assert await status(http, emu, video_id) == VideoStatusCode.GENERATING
        emu.advance(0.5)
        assert await status(http, emu, video_id) == VideoStatusCode.SUCCESSFUL


async def test_finish_ends_one_generation_now_with_an_outcome(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, clock="manual", generation_seconds=60) as emu:
        first, second = await submit(http, emu), await submit(http, emu)
        emu.finish(first, outcome="moderated")
        assert await status(http, emu, first) == VideoStatusCode.MODERATION_FAILED
        assert await status(http, emu, second) == VideoStatusCode.GENERATING
        emu.finish(second)
        assert await status(http, emu, second) == VideoStatusCode.SUCCESSFUL
        emu.finish(second, outcome="deleted")  # a finished video can still be deleted
        assert await status(http, emu, second) == VideoStatusCode.DELETED
        with pytest.raises(ValueError, match="outcome"):
            emu.finish(first, outcome="exploded")


async def test_finish_all_frees_the_concurrency_slots(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, clock="manual", generation_seconds=60,
                        max_concurrent_generations=2) as emu:  # fmt: skip
        ids = [await submit(http, emu), await submit(http, emu)]
        _, refused = await call(http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY)
        assert refused["ErrCode"] == ErrCode.CONCURRENCY_LIMIT
        ended = emu.finish_all(outcome="failed")
        assert sorted(g.video_id for g in ended) == sorted(ids)
        assert [await status(http, emu, i) for i in ids] == [VideoStatusCode.FAILED] * 2
        assert emu.finish_all() == []
        await submit(http, emu)  # the slots are free again


async def test_the_real_clock_is_the_default_and_can_be_advanced(
    http: aiohttp.ClientSession,
) -> None:
    async with Emulator(api_keys={KEY}, generation_seconds=3600) as emu:
        assert not emu.clock.manual
        video_id = await submit(http, emu)
        assert await status(http, emu, video_id) == VideoStatusCode.GENERATING
        emu.advance(3600)
        assert await status(http, emu, video_id) == VideoStatusCode.SUCCESSFUL


def test_a_clock_refuses_bad_modes_and_going_back() -> None:
    with pytest.raises(ValueError, match="clock"):
        EmulatorClock("sundial")  # type: ignore[arg-type]
    clock = EmulatorClock("manual")
    before = clock.now()
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(-1)
    assert clock.advance(2) == before + 2 == clock.now()


async def test_a_rule_fires_once_then_the_endpoint_works(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}) as emu:
        rule = emu.faults.once("text_to_video", "rate_limit", retry_after=7)
        async with http.post(emu.base_url + Paths.TEXT_TO_VIDEO, json=BODY, headers={
                "API-KEY": KEY, "Ai-trace-id": str(uuid.uuid4())}) as resp:  # fmt: skip
            assert (resp.status, resp.headers["Retry-After"]) == (429, "7")
        _, balance = await call(http, emu, "GET", Paths.BALANCE)  # another endpoint: untouched
        assert balance["ErrCode"] == 0
        await submit(http, emu)
        assert rule.hits == 1 and rule.exhausted
        records = emu.requests_to("text_to_video")
        assert [(r.status, r.fault) for r in records] == [(429, "rate_limited"), (200, None)]


async def test_refuse_n_times_with_an_err_code(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}) as emu:
        emu.faults.add("status", "refuse", times=2, err_code=ErrCode.HIGH_LOAD)
        video_id = await submit(http, emu)
        codes = [(await call(http, emu, "GET", f"{Paths.VIDEO_RESULT_PREFIX}{video_id}"))[1]
                 ["ErrCode"] for _ in range(3)]  # fmt: skip
        assert codes == [ErrCode.HIGH_LOAD, ErrCode.HIGH_LOAD, 0]
        assert [r.err_code for r in emu.requests_to("status")][:2] == [ErrCode.HIGH_LOAD] * 2


async def test_outcome_rules_decide_how_generations_end(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}, generation_seconds=0) as emu:
        emu.faults.once("text_to_video", "fail")
        emu.faults.add("image_to_video", "moderate")
        failed, ok = await submit(http, emu), await submit(http, emu)
        assert await status(http, emu, failed) == VideoStatusCode.FAILED
        assert await status(http, emu, ok) == VideoStatusCode.SUCCESSFUL
        assert emu.state.generations[failed].outcome == "failed"


async def test_drop_closes_the_connection_after_the_route_acted(
    http: aiohttp.ClientSession,
) -> None:
    async with Emulator(api_keys={KEY}) as emu:
        emu.faults.once("generate", "drop")
        with pytest.raises(aiohttp.ClientError):
            await call(http, emu, "POST", Paths.TEXT_TO_VIDEO, json=BODY)
        assert len(emu.state.generations) == 1  # the service acted: the submit is ambiguous


async def test_delay_holds_the_answer(http: aiohttp.ClientSession) -> None:
    async with Emulator(api_keys={KEY}) as emu:
        emu.faults.once("balance", "delay", seconds=5)
        timeout = aiohttp.ClientTimeout(total=0.2)
        with pytest.raises(TimeoutError):
            await call(http, emu, "GET", Paths.BALANCE, timeout=timeout)
        assert (await call(http, emu, "GET", Paths.BALANCE))[1]["ErrCode"] == 0


async def test_with_a_manual_clock_held_answers_wait_for_the_clock(
    http: aiohttp.ClientSession,
) -> None:
    """``slow`` and ``hold`` wait on the emulator's clock: with a manual clock, until the test
    moves it that far (a poll held in flight without racing real time)."""
    import asyncio

    async with Emulator(api_keys={KEY}, clock="manual") as emu:
        emu.faults.once("balance", "delay", seconds=10)
        emu.faults.once("balance", "refuse", err_code=ErrCode.INVALID_PARAMETER, hold=20)
        slow = asyncio.ensure_future(call(http, emu, "GET", Paths.BALANCE))
        while len(emu.requests_to("balance")) < 1:
            await asyncio.sleep(0.01)
        refused = asyncio.ensure_future(call(http, emu, "GET", Paths.BALANCE))
        while len(emu.requests_to("balance")) < 2:
            await asyncio.sleep(0.01)
        emu.advance(10)
        assert (await slow)[1]["ErrCode"] == 0
        assert not refused.done()
        emu.advance(10)
        assert (await refused)[1]["ErrCode"] == ErrCode.INVALID_PARAMETER


def test_a_rule_at_a_rate_fires_about_that_often() -> None:
    faults = FaultConfig(seed=3)
    rule = faults.add("/openapi/v2/video/result/", "error_500", rate=0.25)
    drawn = [faults.draw(f"{Paths.VIDEO_RESULT_PREFIX}{i}") for i in range(2000)]
    assert 400 < rule.hits < 600 and sum(d is not None for d in drawn) == rule.hits
    assert faults.draw(Paths.BALANCE) is None


def test_rules_refuse_unknown_names_with_the_rule() -> None:
    faults = FaultConfig()
    with pytest.raises(ValueError, match="endpoint: unknown 'txt2vid'"):
        faults.add("txt2vid", "refuse")
    with pytest.raises(ValueError, match="kind: unknown fault 'explode'"):
        faults.add("status", "explode")
    with pytest.raises(ValueError, match="generation endpoints"):
        faults.add("status", "fail")
    with pytest.raises(ValueError, match="times"):
        faults.add("status", "refuse", times=0)
    with pytest.raises(ValueError, match="rate"):
        faults.add("status", "refuse", rate=2)
