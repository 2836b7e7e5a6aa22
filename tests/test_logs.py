"""Every record the SDK logs carries ``trace_id`` and ``video_id`` as extra fields."""

from __future__ import annotations

import logging

import pytest

from pixverse_async import PixVerse, RetryPolicy, TextToVideo
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.logs import log_context, sdk_logger

from .conftest import API_KEY, FAST_POLL, FAST_RETRY, ScriptedServer

FIELDS = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}


def sdk_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("pixverse_async")]


async def test_a_retried_calls_records_carry_its_trace_id(
    scripted: ScriptedServer, scripted_client: PixVerse, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.raw(b"<html>502</html>", status=502)
    scripted.json({"ErrCode": 0, "ErrMsg": "success", "Resp": {}})
    with caplog.at_level(logging.DEBUG, logger="pixverse_async"):
        await scripted_client.account.balance()
    records = sdk_records(caplog)
    sent = scripted.requests[0]["headers"]["Ai-trace-id"]
    messages = [r.getMessage() for r in records]
    assert any(m.startswith("retry ") for m in messages), messages
    assert len(records) == 3  # two attempts and the retry between them
    assert [(r.trace_id, r.video_id) for r in records] == [(sent, None)] * 3  # type: ignore[attr-defined]


async def test_a_jobs_poll_failure_record_carries_its_video_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = FaultConfig()
    faults.add("status", "error_500", times=1)
    no_retry = RetryPolicy(max_retries=0, base_delay=0.01, max_delay=0.02)
    async with (
        Emulator(api_keys={API_KEY}, faults=faults, generation_seconds=0.05) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=no_retry) as c,
    ):
        job = await c.videos.text_to_video(prompt="flaky", **FIELDS)
        with caplog.at_level(logging.DEBUG, logger="pixverse_async"):
            await job.wait()
        failed = [r for r in emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX) if r.fault]
    assert len(failed) == 1
    polls = [r for r in sdk_records(caplog) if r.getMessage().startswith("status of")]
    assert len(polls) == 1
    assert polls[0].video_id == job.video_id  # type: ignore[attr-defined]
    assert polls[0].trace_id is not None  # type: ignore[attr-defined]
    assert all(hasattr(r, "trace_id") and r.video_id == job.video_id for r in sdk_records(caplog))  # type: ignore[attr-defined]


def test_an_explicit_extra_wins_and_the_context_ends_with_its_block(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = sdk_logger("pixverse_async.test")
    with caplog.at_level(logging.INFO, logger="pixverse_async"):
        with log_context(trace_id="t-1", video_id=5):
            log.info("inside", extra={"video_id": 6})
        log.info("outside")
    inside, outside = sdk_records(caplog)
    assert (inside.trace_id, inside.video_id) == ("t-1", 6)  # type: ignore[attr-defined]
    assert (outside.trace_id, outside.video_id) == (None, None)  # type: ignore[attr-defined]


async def test_every_record_of_a_faulty_run_has_both_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = FaultConfig(error_500=0.3, seed=5)
    async with (
        Emulator(api_keys={API_KEY}, faults=faults, generation_seconds=0.05) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=FAST_RETRY) as c,
    ):
        with caplog.at_level(logging.DEBUG, logger="pixverse_async"):
            await c.runner(concurrency=4).gather(
                [TextToVideo(prompt=f"p{i}", **FIELDS) for i in range(8)]  # type: ignore[arg-type]
            )
    records = sdk_records(caplog)
    assert records
    assert all(hasattr(r, "trace_id") and hasattr(r, "video_id") for r in records)
    assert any(r.trace_id is not None for r in records)  # type: ignore[attr-defined]
