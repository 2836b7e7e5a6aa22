"""A request-rate limit per API key: the emulator's model of it, and the SDK against it.

PixVerse's "Per-account request and concurrency limits" page says a request-rate limit exists
besides the concurrency limit (500044), without numbers or the shape of its answer. The
emulator answers HTTP 429 with ``Retry-After``; the SDK slows down as asked and never takes
it for a failure of the request.
"""

from __future__ import annotations

import pytest

from pixverse_async import PixVerse, RateLimitError, RetryPolicy
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator, RequestRateLimit
from pixverse_async.emulator.__main__ import build_parser, config_from_args

from .conftest import API_KEY, FAST_POLL

OTHER_KEY = "another-key"


async def test_past_the_limit_a_key_is_answered_429_with_retry_after_until_the_window_moves() -> (
    None
):
    async with Emulator(api_keys={API_KEY, OTHER_KEY}, clock="manual", rate_limit=(2, 60.0)) as emu:
        # a cap below the 30 s asked: the SDK raises at once instead of waiting
        retry = RetryPolicy(max_retries=3, retry_after_cap=10.0)
        async with (
            PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=retry) as client,
            PixVerse(api_key=OTHER_KEY, base_url=emu.base_url, retry=retry) as other,
        ):
            await client.account.balance()
            emu.advance(30)
            await client.account.balance()
            with pytest.raises(RateLimitError) as info:
                await client.account.balance()
            assert (info.value.http_status, info.value.retry_after) == (429, 30)
            await other.account.balance()  # per key
            emu.advance(30)  # the first request leaves the window
            await client.account.balance()
            with pytest.raises(RateLimitError) as info:
                await client.videos.text_to_video(prompt="a paper boat")
            assert info.value.retry_after == 30  # the second request leaves it next
    balance = emu.state.requests_to(Paths.BALANCE)
    assert [r.status for r in balance] == [200, 200, 429, 200, 200]
    assert [r.status for r in emu.state.requests_to(Paths.TEXT_TO_VIDEO)] == [429]
    assert not emu.state.generations  # a refused submit did nothing and cost nothing


async def test_the_sdk_waits_the_retry_after_and_the_submit_is_not_a_failure() -> None:
    async with Emulator(api_keys={API_KEY}, rate_limit=(1, 1.0)) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client:
            await client.account.balance()
            job = await client.videos.text_to_video(prompt="a paper boat")  # 429, then sent
            assert job.video_id in emu.state.generations
    first, limited, resent = emu.state.requests[:3]
    assert (first.status, limited.status, resent.status) == (200, 429, 200)
    assert limited.trace_id == resent.trace_id  # the same submit, sent again
    assert resent.at - limited.at >= 0.95  # Retry-After: 1 was honoured
    assert len(emu.state.generations) == 1


def test_the_emulator_command_takes_a_rate_limit() -> None:
    args = build_parser().parse_args(["--rate-limit", "5/2"])
    assert config_from_args(args).rate_limit == RequestRateLimit(requests=5, seconds=2.0)
    assert config_from_args(build_parser().parse_args([])).rate_limit is None
    for bad in ("five/2", "0/1", "5/0", "5/-1"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--rate-limit", bad])


async def test_a_status_poll_past_the_limit_waits_the_retry_after() -> None:
    # the client does not wait 2 s itself (retry_after_cap=0.5): the poll loop does
    retry = RetryPolicy(max_retries=2, retry_after_cap=0.5)
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.05, rate_limit=(2, 2.0)) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=retry, poll=FAST_POLL) as client,
    ):
        job = await client.videos.text_to_video(prompt="a paper boat")
        video = await job.wait()
        assert video.is_successful
    polls = emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX)
    limited = [r for r in polls if r.status == 429]
    assert len(limited) == 1  # not one every 10 ms until the window moved
    assert polls[-1].at - limited[0].at >= 1.95
