"""The MP4 files the emulator serves: one black frame of the requested size and duration.

A video's size follows its request: the quality is the short side (``720p``: 720 px) and the
aspect ratio sets the long one, so ``9:16`` at 720p is 720x1280 and ``21:9`` at 1080p is
2520x1080 (:func:`frame_size`); a request without an aspect ratio is 16:9. Each size, for every
quality and aspect ratio PixVerse lists, has a one-frame H.264 MP4 in ``assets/``
(``black-960x540.mp4``: 1.6 KB), made once with ffmpeg, for each ``W`` x ``H``::

    ffmpeg -f lavfi -i color=c=black:s=WxH:r=1 -frames:v 1 -c:v libx264 -preset veryslow \
        -crf 51 -bf 0 -pix_fmt yuv420p -an -map_metadata -1 -fflags +bitexact \
        -flags +bitexact black-WxH.mp4

A video of ``n`` seconds is that file with the
frame shown for ``n`` seconds: the durations in ``mvhd``, ``tkhd``, ``mdhd``, ``elst`` and the
one ``stts`` entry are rewritten in place, so any whole duration (v6 takes 1 to 15 s, a
multi-transition up to 30 s) plays as long as the request asked, at the size the status
reports. No ffmpeg is needed at run time.

>>> frame_size("720p", "9:16")
(720, 1280)
>>> header = read_header(render(*frame_size("720p", "16:9"), 8))
>>> (header.width, header.height, header.duration)
(1280, 720, 8.0)
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from ..constants import Vocab

DEFAULT_QUALITY = "540p"
DEFAULT_ASPECT_RATIO = "16:9"
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}


def _boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Each box between ``start`` and ``end``, depth first: (type, payload start, box end)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"malformed MP4 box {kind!r} at offset {pos}")
        yield kind, pos + header, pos + size
        if kind in _CONTAINERS:
            yield from _boxes(data, pos + header, pos + size)
        pos += size


def _find(data: bytes | bytearray) -> dict[bytes, int]:
    """The payload offset of the first box of each type (the files hold one video track)."""
    found: dict[bytes, int] = {}
    for kind, payload, _ in _boxes(data, 0, len(data)):
        found.setdefault(kind, payload)
    return found


# Offsets of (timescale, duration) after a full box's version byte, by version.
_MVHD = {0: (12, 16, "I"), 1: (20, 24, "Q")}
_TKHD_DURATION = {0: (20, "I"), 1: (28, "Q")}


@dataclass(frozen=True)
class Mp4Header:
    """What an MP4's header says: the video track's size and the movie's duration (s)."""

    width: int
    height: int
    duration: float


def read_header(data: bytes) -> Mp4Header:
    """Width and height (``tkhd``) and duration (``mvhd``) of an MP4."""
    boxes = _find(data)
    mvhd, tkhd = boxes[b"mvhd"], boxes[b"tkhd"]
    ts_at, dur_at, fmt = _MVHD[data[mvhd]]
    timescale = struct.unpack_from(">I", data, mvhd + ts_at)[0]
    duration = struct.unpack_from(">" + fmt, data, mvhd + dur_at)[0]
    size_at = 76 if data[tkhd] == 0 else 88  # after the matrix; 16.16 fixed point
    width, height = struct.unpack_from(">II", data, tkhd + size_at)
    return Mp4Header(width >> 16, height >> 16, duration / timescale)


def with_duration(template: bytes, seconds: int) -> bytes:
    """``template`` (a one-sample video MP4) with its sample shown for ``seconds``."""
    data = bytearray(template)
    boxes = _find(data)
    mvhd = boxes[b"mvhd"]
    ts_at, dur_at, fmt = _MVHD[data[mvhd]]
    movie_scale = struct.unpack_from(">I", data, mvhd + ts_at)[0]
    struct.pack_into(">" + fmt, data, mvhd + dur_at, seconds * movie_scale)
    tkhd = boxes[b"tkhd"]
    at, fmt = _TKHD_DURATION[data[tkhd]]
    struct.pack_into(">" + fmt, data, tkhd + at, seconds * movie_scale)
    mdhd = boxes[b"mdhd"]
    ts_at, dur_at, fmt = _MVHD[data[mdhd]]
    media_scale = struct.unpack_from(">I", data, mdhd + ts_at)[0]
    struct.pack_into(">" + fmt, data, mdhd + dur_at, seconds * media_scale)
    stts = boxes[b"stts"]
    count, samples = struct.unpack_from(">II", data, stts + 4)
    if count != 1 or samples != 1:
        raise ValueError("the template must hold exactly one video sample")
    struct.pack_into(">I", data, stts + 12, seconds * media_scale)
    if b"elst" in boxes:  # the edit list plays the whole track
        elst = boxes[b"elst"]
        fmt = "I" if data[elst] == 0 else "Q"
        struct.pack_into(">" + fmt, data, elst + 8, seconds * movie_scale)
    return bytes(data)


def frame_size(quality: object, aspect_ratio: object) -> tuple[int, int]:
    """Width and height of a video: the quality's lines on the short side, the ratio's long
    side; a quality or ratio PixVerse does not list gives 540p or 16:9."""
    if quality not in Vocab.QUALITIES:
        quality = DEFAULT_QUALITY
    if aspect_ratio not in Vocab.ASPECT_RATIOS:
        aspect_ratio = DEFAULT_ASPECT_RATIO
    short = int(str(quality).removesuffix("p"))
    across, down = (int(n) for n in str(aspect_ratio).split(":"))
    if across >= down:
        return short * across // down, short
    return short, short * down // across


@functools.lru_cache(maxsize=32)
def _template(width: int, height: int) -> bytes:
    name = f"black-{width}x{height}.mp4"
    return (resources.files("pixverse_async.emulator") / "assets" / name).read_bytes()


@functools.lru_cache(maxsize=256)
def render(width: int, height: int, seconds: int) -> bytes:
    """The MP4 of a ``width`` x ``height`` video (a :func:`frame_size`) lasting ``seconds``."""
    return with_duration(_template(width, height), seconds)
