"""Waiting for one job, and downloading its video."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pixverse_async import (
    JobTimeoutError,
    PixVerse,
    PollPolicy,
    VideoDeletedError,
    VideoFailedError,
    VideoModeratedError,
)
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.videos import frame_size, render
from pixverse_async.models import VideoStatus

from .conftest import API_KEY, FAST_POLL, FAST_RETRY


def client_tasks() -> set[asyncio.Task[object]]:
    """Running tasks other than this test and the emulator's connection handlers."""
    return {
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and not t.get_coro().__qualname__.startswith("RequestHandler")  # type: ignore[union-attr]
    }


FIELDS = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}


async def test_wait_returns_the_finished_video(client: PixVerse) -> None:
    job = await client.videos.text_to_video(prompt="a boat", **FIELDS)
    assert job.video_id > 0 and job.credits
    video = await job.wait()
    assert video.id == job.video_id
    assert video.status is VideoStatus.SUCCESSFUL and video.url


@pytest.mark.parametrize(
    ("marker", "error", "status"),
    [
        ("#fail", VideoFailedError, VideoStatus.FAILED),
        ("#moderated", VideoModeratedError, VideoStatus.MODERATION_FAILED),
        ("#deleted", VideoDeletedError, VideoStatus.DELETED),
    ],
)
async def test_failed_videos_raise_typed_errors_with_id_and_status(
    client: PixVerse, marker: str, error: type[Exception], status: VideoStatus
) -> None:
    job = await client.videos.text_to_video(prompt=f"a boat {marker}", **FIELDS)
    with pytest.raises(error) as info:
        await job.wait()
    assert info.value.video_id == job.video_id  # type: ignore[attr-defined]
    assert info.value.status == status  # type: ignore[attr-defined]


async def test_timeout_carries_the_last_status_and_the_job_can_be_awaited_again() -> None:
    async with Emulator(api_keys={API_KEY}, generation_seconds=3600) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client:
            job = await client.videos.text_to_video(prompt="slow", **FIELDS)
            short = PollPolicy(first_delay=0.01, interval=0.02, jitter=0, timeout=0.1)
            with pytest.raises(JobTimeoutError) as info:
                await job.wait(short)
            assert info.value.status == VideoStatus.GENERATING
            assert info.value.video_id == job.video_id and info.value.waited >= 0.1
            # the timeout counts from each call: waiting again gets its own 0.1 s
            with pytest.raises(JobTimeoutError) as again:
                await job.wait(short)
            assert again.value.waited >= 0.1
            emu.finish(job.video_id)  # it finishes now
            video = await job.wait()
            assert video.status is VideoStatus.SUCCESSFUL


async def test_cancelling_wait_stops_polling_promptly() -> None:
    async with Emulator(api_keys={API_KEY}, generation_seconds=30) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client:
            job = await client.videos.text_to_video(prompt="forever", **FIELDS)
            waiter = asyncio.create_task(job.wait())
            await asyncio.sleep(0.2)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            polls = len(emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX))
            await asyncio.sleep(0.2)
            assert len(emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX)) == polls
            assert client_tasks() == set()


async def test_polling_rides_out_transient_status_failures() -> None:
    from pixverse_async.emulator import FaultConfig

    faults = FaultConfig(error_500=0.5, seed=3, paths=(Paths.VIDEO_RESULT_PREFIX,))
    async with (
        Emulator(api_keys={API_KEY}, faults=faults) as emu,
        PixVerse(
            api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=FAST_RETRY
        ) as client,
    ):
        job = await client.videos.text_to_video(prompt="flaky", **FIELDS)
        video = await job.wait()
        assert video.status is VideoStatus.SUCCESSFUL
        assert any(r.fault for r in emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX))


async def test_download_streams_the_mp4_atomically(client: PixVerse, tmp_path: Path) -> None:
    job = await client.videos.text_to_video(prompt="a boat", **FIELDS)
    video = await job.wait()
    seen: list[tuple[int, int | None]] = []
    saved = await client.videos.download(
        video, tmp_path / "boat.mp4", progress=lambda s, t: seen.append((s, t))
    )
    expected = render(*frame_size(FIELDS["quality"], FIELDS["aspect_ratio"]), FIELDS["duration"])
    assert saved == tmp_path / "boat.mp4" and saved.read_bytes() == expected
    assert not (tmp_path / "boat.mp4.part").exists()
    assert seen[-1] == (len(expected), len(expected))


async def test_download_into_a_folder_uses_our_name_not_the_servers(
    client: PixVerse, tmp_path: Path
) -> None:
    job = await client.videos.text_to_video(prompt="a boat", **FIELDS)
    await job.wait()
    saved = await client.videos.download(job.video_id, tmp_path)
    assert saved == tmp_path / f"{job.video_id}.mp4"
    assert list(tmp_path.iterdir()) == [saved]


async def test_download_resumes_a_partial_file_with_range(
    client: PixVerse, emulator: Emulator, tmp_path: Path
) -> None:
    job = await client.videos.text_to_video(prompt="a boat", **FIELDS)
    video = await job.wait()
    expected = render(*frame_size(FIELDS["quality"], FIELDS["aspect_ratio"]), FIELDS["duration"])
    (tmp_path / "boat.mp4.part").write_bytes(expected[:1000])
    saved = await client.videos.download(video, tmp_path / "boat.mp4")
    assert saved.read_bytes() == expected


async def test_download_of_an_unfinished_video_is_refused(client: PixVerse, tmp_path: Path) -> None:
    from pixverse_async import PixVerseError

    job = await client.videos.text_to_video(prompt="a boat #fail", **FIELDS)
    with pytest.raises(VideoFailedError):
        await job.wait()
    with pytest.raises(PixVerseError, match="no file to download"):
        await client.videos.download(job.video_id, tmp_path / "x.mp4")
    assert not list(tmp_path.iterdir())
