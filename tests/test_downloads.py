"""Downloads against the emulator with scripted media faults: folders, retries, resume, 416,
size mismatches; all through the client's one retry policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
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


async def reference_bytes(client: PixVerse, video: Video, tmp_path: Path) -> bytes:
    """The file as a clean download gets it (whatever the emulator serves)."""
    saved = await client.videos.download(video, tmp_path / "reference" / "clean.mp4")
    return saved.read_bytes()


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


async def test_media_host_errors_are_retried_by_the_client_policy(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    expected = await reference_bytes(client, video, tmp_path)
    faults.requests.clear()
    faults.queue[:] = ["error_503", "error_503"]  # the policy allows two retries
    saved = await client.videos.download(video, tmp_path / "v.mp4")
    assert saved.read_bytes() == expected
    assert [r.fault for r in faults.requests] == ["error_503", "error_503", None]


async def test_retries_past_the_policy_raise_a_download_error(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    faults.queue[:] = ["error_503"] * 3
    with pytest.raises(DownloadError, match="HTTP 503") as info:
        await client.videos.download(video, tmp_path / "v.mp4")
    assert info.value.attempts == 3  # RETRY allows two retries after the first attempt
    assert len(faults.requests) == 3
    assert not (tmp_path / "v.mp4").exists()


async def test_max_retries_per_download_replaces_the_policy_count(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    faults.queue[:] = ["error_503"] * 3
    with pytest.raises(DownloadError):
        await client.videos.download(video, tmp_path / "v.mp4", max_retries=0)
    assert len(faults.requests) == 1


# Resume, 416, size mismatch --------------------------------------------------------------------


async def test_a_dropped_connection_is_retried(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    expected = await reference_bytes(client, video, tmp_path)
    faults.requests.clear()
    faults.queue[:] = ["cut"]
    saved = await client.videos.download(video, tmp_path / "v.mp4")
    assert saved.read_bytes() == expected
    assert [r.fault for r in faults.requests] == ["cut", None]
    assert not (tmp_path / "v.mp4.part").exists()


async def test_an_interrupted_transfer_resumes_with_a_range_request(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    expected = await reference_bytes(client, video, tmp_path)
    faults.requests.clear()
    faults.queue[:] = ["stall"]  # half the bytes, then silence until the client gives up
    stalled = aiohttp.ClientTimeout(total=None, sock_read=0.5)
    saved = await client.videos.download(video, tmp_path / "v.mp4", timeout=stalled)
    assert saved.read_bytes() == expected
    first, resumed = faults.requests
    assert (first.range, first.fault) == (None, "stall")
    assert resumed.range == f"bytes={len(expected) // 2}-"  # only the missing half again
    assert not (tmp_path / "v.mp4.part").exists()


async def test_a_server_that_ignores_range_restarts_the_file(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    expected = await reference_bytes(client, video, tmp_path)
    (tmp_path / "v.mp4.part").write_bytes(expected[:100])
    faults.requests.clear()
    faults.queue[:] = ["ignore_range"]
    saved = await client.videos.download(video, tmp_path / "v.mp4")
    assert saved.read_bytes() == expected  # written from the start, not appended
    assert [r.range for r in faults.requests] == ["bytes=100-"]


async def test_a_416_to_a_resume_restarts_from_the_first_byte(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    expected = await reference_bytes(client, video, tmp_path)
    (tmp_path / "v.mp4.part").write_bytes(b"\0" * 50)
    faults.requests.clear()
    faults.queue[:] = ["refuse_range"]
    saved = await client.videos.download(video, tmp_path / "v.mp4", max_retries=1)
    assert saved.read_bytes() == expected
    assert [r.range for r in faults.requests] == ["bytes=50-", None]


async def test_a_part_longer_than_the_file_is_answered_416_and_replaced(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    expected = await reference_bytes(client, video, tmp_path)
    (tmp_path / "v.mp4.part").write_bytes(expected + b"junk")
    faults.requests.clear()
    saved = await client.videos.download(video, tmp_path / "v.mp4", max_retries=1)
    assert saved.read_bytes() == expected
    assert [r.range for r in faults.requests] == [f"bytes={len(expected) + 4}-", None]


async def test_a_size_that_disagrees_with_the_announced_total_is_retried(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    expected = await reference_bytes(client, video, tmp_path)
    faults.requests.clear()
    faults.queue[:] = ["wrong_total"]
    saved = await client.videos.download(video, tmp_path / "v.mp4")
    assert saved.read_bytes() == expected
    # 100 bytes short of the announced total: resume asks for them, the server has none
    # (416), and the download starts over.
    assert [r.range for r in faults.requests] == [None, f"bytes={len(expected)}-", None]


async def test_a_size_mismatch_past_the_retries_is_a_download_error(
    client: PixVerse, faults: MediaFaults, tmp_path: Path
) -> None:
    video = await finished(client)
    expected = await reference_bytes(client, video, tmp_path)
    faults.queue[:] = ["wrong_total"]
    size = len(expected)
    with pytest.raises(DownloadError, match=f"got {size} of {size + 100} bytes"):
        await client.videos.download(video, tmp_path / "v.mp4", max_retries=0)
    assert not (tmp_path / "v.mp4").exists()  # never renamed onto the destination
