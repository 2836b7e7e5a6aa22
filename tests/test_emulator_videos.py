"""The emulator's videos hold what their status reports: the size and the requested duration.

The served MP4's header is read here with a parser of its own (not the emulator's), from the
``tkhd`` and ``avc1`` boxes (width, height) and the ``mvhd`` box (duration).
"""

from __future__ import annotations

import struct
from typing import Any

import aiohttp
import pytest

from pixverse_async import PixVerse
from pixverse_async.constants import Vocab
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.app import sample_video_path

PNG = (sample_video_path().parent / "sample.png").read_bytes()
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def boxes(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, bytes]:
    """The payload of the first box of each type, searching containers depth first."""
    end = len(data) if end is None else end
    found: dict[bytes, bytes] = {}
    while start < end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        assert size >= 8, f"box {kind!r} of size {size}"
        found.setdefault(kind, data[start + 8 : start + size])
        inner_start = start + 8 + (8 if kind == b"stsd" else 0)  # version, flags, entry count
        if kind in CONTAINERS or kind == b"stsd":
            for inner, payload in boxes(data, inner_start, start + size).items():
                found.setdefault(inner, payload)
        start += size
    return found


def mp4_header(data: bytes) -> tuple[int, int, float]:
    """(width, height, seconds) as the file's ``tkhd`` and ``mvhd`` say; the ``avc1`` sample
    entry (the coded picture's size) must agree with ``tkhd``."""
    found = boxes(data)
    assert data[4:8] == b"ftyp"
    mvhd, tkhd = found[b"mvhd"], found[b"tkhd"]
    if mvhd[0] == 0:
        timescale, duration = struct.unpack(">II", mvhd[12:20])
    else:
        timescale, duration = struct.unpack(">IQ", mvhd[20:32])
    at = 76 if tkhd[0] == 0 else 88
    width, height = struct.unpack(">II", tkhd[at : at + 8])
    # avc1: 6 reserved bytes, data reference index, 16 bytes of pre-defined/reserved fields
    coded = struct.unpack(">HH", found[b"avc1"][24:28])
    assert coded == (width >> 16, height >> 16), (coded, width >> 16, height >> 16)
    return width >> 16, height >> 16, duration / timescale


CASES = [
    ("v5", "360p", 5),
    ("v5", "540p", 8),
    ("v4.5", "720p", 5),
    ("v5", "1080p", 5),
    ("v6", "540p", 1),  # v6 takes any whole duration from 1 to 15 s
    ("v6", "720p", 11),
    ("v6", "1080p", 15),
]


@pytest.mark.parametrize("model, quality, duration", CASES)
async def test_the_served_file_has_the_reported_size_and_requested_duration(
    client: PixVerse, model: str, quality: str, duration: int
) -> None:
    job = await client.videos.text_to_video(
        prompt="a paper boat", model=model, quality=quality, duration=duration, aspect_ratio="16:9"
    )
    video = await job.wait()
    async with aiohttp.ClientSession() as http, http.get(video.url) as resp:
        assert resp.status == 200 and resp.content_type == "video/mp4"
        data = await resp.read()
    short = int(quality.removesuffix("p"))
    assert (video.output_width, video.output_height) == (short * 16 // 9, short)
    assert mp4_header(data) == (video.output_width, video.output_height, duration)
    assert video.size == len(data)


async def test_a_v6_1080p_15_s_text_to_video_is_sent_as_asked_and_lasts_15_s(
    client: PixVerse, emulator: Emulator
) -> None:
    # v6 (PixVerse's parameter matrix, read 2026-12-05): "duration 1-15, 1080p supports up to 15s"
    job = await client.videos.text_to_video(
        prompt="a paper boat", model="v6", quality="1080p", duration=15, aspect_ratio="9:16"
    )
    sent = emulator.state.generations[job.video_id].body
    assert {k: sent[k] for k in ("model", "quality", "duration", "aspect_ratio")} == {
        "model": "v6",
        "quality": "1080p",
        "duration": 15,
        "aspect_ratio": "9:16",
    }
    video = await job.wait()
    async with aiohttp.ClientSession() as http, http.get(video.url) as resp:
        data = await resp.read()
    assert mp4_header(data) == (1080, 1920, 15)


#: The short side each quality names, the long one from the ratio (the emulator's rule)
EXPECTED_SIZE = {
    ("16:9", 360): (640, 360),  # 1280x720 at 720p, 1920x1080 at 1080p
    ("4:3", 360): (480, 360),
    ("1:1", 360): (360, 360),
    ("3:4", 360): (360, 480),
    ("9:16", 360): (360, 640),
    ("3:2", 360): (540, 360),
    ("2:3", 360): (360, 540),
    ("21:9", 360): (840, 360),
}


@pytest.mark.parametrize("quality", Vocab.QUALITIES)
async def test_every_listed_aspect_ratio_and_quality_has_the_size_its_status_reports(
    client: PixVerse, quality: str
) -> None:
    # the eight ratios of text-to-video (v6 parameter matrix), the four qualities
    short = int(quality.removesuffix("p"))
    for ratio in Vocab.ASPECT_RATIOS:
        job = await client.videos.text_to_video(
            prompt="a paper boat", model="v6", quality=quality, duration=2, aspect_ratio=ratio
        )
        video = await job.wait()
        async with aiohttp.ClientSession() as http, http.get(video.url) as resp:
            data = await resp.read()
        w, h = EXPECTED_SIZE[ratio, 360]
        assert (video.output_width, video.output_height) == (w * short // 360, h * short // 360)
        assert mp4_header(data) == (video.output_width, video.output_height, 2), ratio
        assert video.size == len(data)


async def test_a_multi_transition_lasts_as_long_as_its_frames(client: PixVerse) -> None:
    first = await client.images.upload(PNG)
    frames: list[dict[str, Any]] = [
        {"img_id": first.img_id, "duration": 3},
        {"img_id": first.img_id, "duration": 4},
        {"img_id": first.img_id},
    ]
    job = await client.videos.multi_transition(multi_transition=frames, model="v5", quality="720p")
    video = await job.wait()
    async with aiohttp.ClientSession() as http, http.get(video.url) as resp:
        data = await resp.read()
    assert mp4_header(data) == (1280, 720, 7)
