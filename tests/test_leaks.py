"""Leaks: no task, socket, file or session left behind, and nothing grows over a long run.

The whole suite already runs with ``-W error::ResourceWarning`` (pyproject filterwarnings).
Here a representative batch runs again under asyncio debug mode, and 10,000 status requests
check that open file descriptors and tasks stay flat.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pixverse_async import PixVerse, PollPolicy, RetryPolicy, TextToVideo
from pixverse_async.batch.runner import OutcomeState
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.emulator.app import sample_video_path

from .conftest import API_KEY, answers_held_until_sent, settled

LONG_RUN_REQUESTS = 10_000
LONG_RUN_CONCURRENCY = 50
LEAK_MARKERS = (
    "Task was destroyed but it is pending",
    "Unclosed",
    "unclosed",
    "was never awaited",
    "Exception ignored",
    "ResourceWarning",
    "Task exception was never retrieved",
    "Future exception was never retrieved",
)
PNG = (sample_video_path().parent / "sample.png").read_bytes()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _debug_batch(tmp_path: Path) -> dict[OutcomeState, int]:
    loop = asyncio.get_running_loop()
    assert loop.get_debug()
    loop.slow_callback_duration = 10.0  # slow callbacks are not what this test looks for
    faults = FaultConfig(
        error_500=0.1, html_502=0.05, reset=0.05, concurrency_limited=0.05, slow=0.02,
        slow_seconds=0.5, seed=7,
    )  # fmt: skip
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.02) as emu:
        async with PixVerse(
            api_key=API_KEY,
            base_url=emu.base_url,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=0.25),
            retry=RetryPolicy(max_retries=3, base_delay=0.005, max_delay=0.02),
            poll=PollPolicy(first_delay=0.02, interval=0.02, factor=1.0, max_delay=0.02, jitter=0),
        ) as client:
            image = await client.images.upload(PNG, name="cat.png")
            emu.config.faults = faults
            requests = [
                TextToVideo(prompt=f"debug {i}" + (" #fail" if i % 10 == 3 else ""), model="v5",
                            duration=5, quality="540p", aspect_ratio="16:9")
                for i in range(120)
            ]  # fmt: skip
            hold = RetryPolicy(max_retries=7, base_delay=0.01)
            runner = client.runner(concurrency=16, journal=tmp_path / "j.sqlite", hold=hold)
            outcomes = await runner.gather(requests)
            # a run abandoned half way: cancelling the consumer must not strand tasks
            stream = runner.run(requests[:20])
            async with stream as results:
                async for _outcome in results:
                    break
            emu.config.faults = FaultConfig()
            emu.config.generation_seconds = 3600  # the next job is still running when cancelled
            # a job awaited and cancelled mid-poll
            job = await client.videos.image_to_video(
                img_id=image.img_id, prompt="cancel me", model="v5", duration=5, quality="540p"
            )
            waiter = asyncio.create_task(job.wait())
            await asyncio.sleep(0.01)  # the waiter starts polling
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            done = [o for o in outcomes if o.ok]
            video = done[0].video
            assert video is not None
            await client.videos.download(video, tmp_path / "v.mp4")
        await answers_held_until_sent(emu)
    states: dict[OutcomeState, int] = {}
    for outcome in outcomes:
        states[outcome.state] = states.get(outcome.state, 0) + 1
    return states


def test_batch_under_asyncio_debug_leaves_nothing_behind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    fds_before = open_fds()
    unraisable: list[Any] = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        # Recorded rather than raised: a warning raised inside __del__ would only be printed.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            states = asyncio.run(_debug_batch(tmp_path), debug=True)
            gc.collect()  # a task or session dropped without closing complains now
    finally:
        sys.unraisablehook = hook
    assert [str(w.message) for w in caught] == []
    assert [(u.exc_value, u.object) for u in unraisable] == []
    assert states[OutcomeState.SUCCEEDED] > 60, states
    out, err = capfd.readouterr()
    logged = caplog.text
    for marker in LEAK_MARKERS:
        assert marker not in logged, f"{marker!r} in the logs"
        assert marker not in err and marker not in out, f"{marker!r} on stderr/stdout"
    assert [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR] == []
    assert open_fds() <= fds_before + 2


async def test_ten_thousand_status_requests_keep_fds_and_tasks_flat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.0) as emu:
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, connection_limit=LONG_RUN_CONCURRENCY
        ) as client:
            job = await client.videos.text_to_video(
                prompt="long run", model="v5", duration=5, quality="540p", aspect_ratio="16:9"
            )
            sem = asyncio.Semaphore(LONG_RUN_CONCURRENCY)

            async def one() -> int:
                async with sem:
                    return (await client.videos.get(job.video_id)).id

            async def burst(n: int) -> list[int]:
                return await asyncio.gather(*(one() for _ in range(n)))

            warm = 1000
            await burst(warm)  # warm-up: the connection pool fills up
            fds_warm, tasks_warm = open_fds(), len(asyncio.all_tasks())
            samples: list[tuple[int, int]] = []
            started = time.monotonic()
            done = warm
            while done < LONG_RUN_REQUESTS:
                n = min(1500, LONG_RUN_REQUESTS - done)
                ids = await burst(n)
                assert ids == [job.video_id] * n  # nothing lost, nothing mixed up
                done += n
                samples.append((open_fds(), len(asyncio.all_tasks())))
            elapsed = time.monotonic() - started
            fds_end, tasks_end = open_fds(), len(asyncio.all_tasks())
        status_calls = len(emu.state.requests_to("/openapi/v2/video/result/"))
    print(
        f"\nlong run: {LONG_RUN_REQUESTS} status requests, concurrency {LONG_RUN_CONCURRENCY}, "
        f"{(LONG_RUN_REQUESTS - warm) / elapsed:.0f} req/s; fds {fds_warm} -> {fds_end}, "
        f"tasks {tasks_warm} -> {tasks_end}; samples {samples}"
    )
    assert status_calls == LONG_RUN_REQUESTS
    assert all(r.status == 200 for r in emu.state.requests)
    slack = 5
    assert max(f for f, _ in samples) <= fds_warm + slack, samples
    assert max(t for _, t in samples) <= tasks_warm + slack, samples
    assert fds_end <= fds_warm + slack and tasks_end <= tasks_warm + slack


def _leftovers(loop: Any) -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks(loop) if not t.done()]


async def test_client_close_leaves_no_tasks_or_sockets() -> None:
    async with Emulator(api_keys={API_KEY}) as emu:
        before_fds = open_fds()
        before = set(asyncio.all_tasks())
        for _ in range(20):
            async with PixVerse(api_key=API_KEY, base_url=emu.base_url) as client:
                await asyncio.gather(*(client.account.balance() for _ in range(10)))
        loop = asyncio.get_running_loop()
        after = await settled(lambda: {t for t in _leftovers(loop) if t not in before})
        assert after == set(), after
        assert open_fds() <= before_fds + 2
