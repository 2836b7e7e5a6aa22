"""Downloads against the emulator with scripted media faults: folders, retries, resume, 416,
size mismatches; all through the client's one retry policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from pixverse_async import DownloadError, PixVerse, RetryPolicy, Video
from pixverse_async.emulator import Emulator, MediaFaults

from .conftest import API_KEY, FAST_POLL

RETRY = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.002)


@pytest.fixture
def faults() -> MediaFaults:
    return MediaFaults()


@pytest.fixture
async def emu(faults: MediaFaults) -> AsyncIterator[Emulator]:
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.01, media_faults=faults) as e:
        yield e


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[PixVerse]:
    async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=RETRY, poll=FAST_POLL) as c:
        yield c


async def finished(client: PixVerse, prompt: str = "a paper boat") -> Video:
    job = await client.videos.text_to_video(
        prompt=prompt, model="v5", duration=5, quality="540p", aspect_ratio="16:9"
    )
    return await job.wait()


@dataclass
class Media:
    """A finished video, its bytes as a clean download gets them (whatever the emulator
    serves), and the media host's scripted faults; the host's request log starts after the
    clean download."""

    client: PixVerse
    faults: MediaFaults
    video: Video
    expected: bytes
    target: Path

    @property
    def part(self) -> Path:
        """Where a download keeps the bytes it has so far."""
        return self.target.with_name(self.target.name + ".part")

    async def download(
        self,
        *faults: str,
        timeout: aiohttp.ClientTimeout | None = None,
        max_retries: int | None = None,
    ) -> Path:
        """Download the video to ``target``, the next media requests answered by ``faults``."""
        self.faults.queue[:] = faults
        return await self.client.videos.download(
            self.video, self.target, timeout=timeout, max_retries=max_retries
        )


@pytest.fixture
async def media(client: PixVerse, faults: MediaFaults, tmp_path: Path) -> Media:
    video = await finished(client)
    clean = await client.videos.download(video, tmp_path / "reference" / "clean.mp4")
    faults.requests.clear()
    return Media(client, faults, video, clean.read_bytes(), tmp_path / "v.mp4")


# A folder --------------------------------------------------------------------------------------


async def test_a_path_ending_in_a_separator_is_a_folder_created_on_demand(
    client: PixVerse, tmp_path: Path
) -> None:
    first, second = await finished(client, "one"), await finished(client, "two")
    out = str(tmp_path / "out") + "/"  # the README's form: "out/"
    saved_first = await client.videos.download(first, out)
    saved_second = await client.videos.download(second, out)
    assert saved_first == tmp_path / "out" / f"{first.id}.mp4"
    assert saved_second == tmp_path / "out" / f"{second.id}.mp4"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"{first.id}.mp4", f"{second.id}.mp4"]
    )


async def test_a_path_without_a_separator_that_is_no_folder_is_the_file(
    client: PixVerse, tmp_path: Path
) -> None:
    video = await finished(client)
    saved = await client.videos.download(video, str(tmp_path / "clip.mp4"))
    assert saved == tmp_path / "clip.mp4" and saved.is_file()


async def test_a_folder_that_cannot_be_created_is_a_download_error(
    client: PixVerse, tmp_path: Path
) -> None:
    video = await finished(client)
    (tmp_path / "taken").write_bytes(b"a file, not a folder")
    with pytest.raises(DownloadError, match="cannot create the folder"):
        await client.videos.download(video, str(tmp_path / "taken" / "sub") + "/")


# Retries ---------------------------------------------------------------------------------------


async def test_media_host_errors_are_retried_by_the_client_policy(media: Media) -> None:
    saved = await media.download("error_503", "error_503")  # the policy allows two retries
    assert saved.read_bytes() == media.expected
    assert [r.fault for r in media.faults.requests] == ["error_503", "error_503", None]


async def test_retries_past_the_policy_raise_a_download_error(media: Media) -> None:
    with pytest.raises(DownloadError, match="HTTP 503") as info:
        await media.download(*["error_503"] * 3)
    assert info.value.attempts == 3  # RETRY allows two retries after the first attempt
    assert len(media.faults.requests) == 3
    assert not media.target.exists()


async def test_max_retries_per_download_replaces_the_policy_count(media: Media) -> None:
    with pytest.raises(DownloadError):
        await media.download(*["error_503"] * 3, max_retries=0)
    assert len(media.faults.requests) == 1


# Resume, 416, size mismatch --------------------------------------------------------------------


async def test_a_dropped_connection_is_retried(media: Media) -> None:
    saved = await media.download("cut")
    assert saved.read_bytes() == media.expected
    assert [r.fault for r in media.faults.requests] == ["cut", None]
    assert not media.part.exists()


async def test_an_interrupted_transfer_resumes_with_a_range_request(media: Media) -> None:
    # "stall": half the bytes, then silence until the client gives up
    stalled = aiohttp.ClientTimeout(total=None, sock_read=0.5)
    saved = await media.download("stall", timeout=stalled)
    assert saved.read_bytes() == media.expected
    first, resumed = media.faults.requests
    assert (first.range, first.fault) == (None, "stall")
    assert resumed.range == f"bytes={len(media.expected) // 2}-"  # only the missing half again
    assert not media.part.exists()


async def test_a_server_that_ignores_range_restarts_the_file(media: Media) -> None:
    media.part.write_bytes(media.expected[:100])
    saved = await media.download("ignore_range")
    assert saved.read_bytes() == media.expected  # written from the start, not appended
    assert [r.range for r in media.faults.requests] == ["bytes=100-"]


async def test_a_416_to_a_resume_restarts_from_the_first_byte(media: Media) -> None:
    media.part.write_bytes(b"\0" * 50)
    saved = await media.download("refuse_range", max_retries=1)
    assert saved.read_bytes() == media.expected
    assert [r.range for r in media.faults.requests] == ["bytes=50-", None]


async def test_a_part_longer_than_the_file_is_answered_416_and_replaced(media: Media) -> None:
    media.part.write_bytes(media.expected + b"junk")
    saved = await media.download(max_retries=1)
    assert saved.read_bytes() == media.expected
    ranges = [r.range for r in media.faults.requests]
    assert ranges == [f"bytes={len(media.expected) + 4}-", None]


async def test_a_size_that_disagrees_with_the_announced_total_is_retried(media: Media) -> None:
    saved = await media.download("wrong_total")
    assert saved.read_bytes() == media.expected
    # 100 bytes short of the announced total: resume asks for them, the server has none
    # (416), and the download starts over.
    ranges = [r.range for r in media.faults.requests]
    assert ranges == [None, f"bytes={len(media.expected)}-", None]


async def test_a_size_mismatch_past_the_retries_is_a_download_error(media: Media) -> None:
    size = len(media.expected)
    with pytest.raises(DownloadError, match=f"got {size} of {size + 100} bytes"):
        await media.download("wrong_total", max_retries=0)
    assert not media.target.exists()  # never renamed onto the destination
