"""Upload preflight checks, sniffing, header parsing and streaming payloads.

Every file is built here from header bytes; sizes over the limits use sparse files.
"""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pixverse_async.constants import Limits, Vocab
from pixverse_async.errors import ValidationError
from pixverse_async.uploads import (
    CHUNK_SIZE,
    HEADER_READ_LIMIT,
    AsyncSizedSource,
    EmptyFileError,
    ExtensionMismatchError,
    FileChangedError,
    FileTooLargeError,
    FileUploadPayload,
    ImageDimensionsError,
    SourceConsumedError,
    TruncatedFileError,
    UnsupportedFileTypeError,
    build_multipart,
    inspect_upload,
    is_url,
    make_payload,
    sniff,
    upload_error_from,
)

MiB = 1024 * 1024

# ------------------------------------------------------------------------- file makers


def png(width: int = 64, height: int = 48) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def jpeg(width: int = 64, height: int = 48, *, sof: int = 0xC0, before_sof: bytes = b"") -> bytes:
    app0 = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    sof_body = struct.pack(">BHHB", 8, height, width, 3) + bytes(
        [1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]
    )
    return b"\xff\xd8" + app0 + before_sof + segment(sof, sof_body) + b"\xff\xd9"


def riff(form: bytes, body: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + form + body


def webp_vp8(width: int = 64, height: int = 48) -> bytes:
    frame = b"\x9d\x01\x2a"
    data = b"\x10\x02\x00" + frame + struct.pack("<HH", width, height) + bytes(8)
    return riff(b"WEBP", b"VP8 " + struct.pack("<I", len(data)) + data)


def webp_vp8l(width: int = 64, height: int = 48) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    data = b"\x2f" + struct.pack("<I", bits) + bytes(5)
    return riff(b"WEBP", b"VP8L" + struct.pack("<I", len(data)) + data)


def webp_vp8x(width: int = 64, height: int = 48) -> bytes:
    data = (
        b"\x10\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return riff(b"WEBP", b"VP8X" + struct.pack("<I", len(data)) + data)


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    box = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    return box + struct.pack(">I", 16) + b"mdat" + bytes(8)


def webm() -> bytes:
    doctype = b"\x42\x82\x84webm"
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(doctype)]) + doctype + bytes(16)


MPEG_FRAME = b"\xff\xfb\x90\x64" + bytes(28)  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz
ADTS_FRAME = b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(9)  # AAC LC, 44.1 kHz, 16-byte frame


def id3(body: bytes, tag_size: int = 32) -> bytes:
    size = bytes(
        [(tag_size >> 21) & 0x7F, (tag_size >> 14) & 0x7F, (tag_size >> 7) & 0x7F, tag_size & 0x7F]
    )
    return b"ID3\x03\x00\x00" + size + bytes(tag_size) + body


def wav() -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    return riff(
        b"WAVE",
        b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 4) + bytes(4),
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def sparse(tmp_path: Path, name: str, head: bytes, size: int) -> Path:
    path = tmp_path / name
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


class MemWriter:
    """Stands in for aiohttp's stream writer."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.writes = 0

    async def write(self, data: bytes) -> None:
        self.buf += data
        self.writes += 1


# ------------------------------------------------------------------------------ sniffing

CASES = [
    ("a.png", png(), "image", "PNG", "image/png"),
    ("a.jpg", jpeg(), "image", "JPEG", "image/jpeg"),
    ("a.jpeg", jpeg(), "image", "JPEG", "image/jpeg"),
    ("a.webp", webp_vp8(), "image", "WebP", "image/webp"),
    ("a.mp4", ftyp(b"isom", b"isom", b"mp42"), "video", "MP4", "video/mp4"),
    ("a.mov", ftyp(b"qt  ", b"qt  "), "video", "MOV", "video/quicktime"),
    ("a.webm", webm(), "video", "WebM", "video/webm"),
    ("a.mp3", id3(MPEG_FRAME), "audio", "MP3", "audio/mpeg"),
    ("b.mp3", MPEG_FRAME, "audio", "MP3", "audio/mpeg"),
    ("a.wav", wav(), "audio", "WAV", "audio/wav"),
    ("a.m4a", ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), "audio", "M4A", "audio/x-m4a"),
    ("a.aac", ADTS_FRAME, "audio", "AAC", "audio/aac"),
]


@pytest.mark.parametrize(("name", "data", "kind", "fmt", "mime"), CASES)
async def test_every_type_sniffs(
    tmp_path: Path, name: str, data: bytes, kind: str, fmt: str, mime: str
) -> None:
    sniffed = sniff(data)
    assert sniffed is not None
    assert (sniffed.kind, sniffed.format, sniffed.mime) == (kind, fmt, mime)
    assert mime in Vocab.IMAGE_MIME_TYPES + Vocab.VIDEO_MIME_TYPES + Vocab.AUDIO_MIME_TYPES

    upload_kind: Literal["image", "media"] = "image" if kind == "image" else "media"
    info = await inspect_upload(write(tmp_path, name, data), kind=upload_kind)
    assert (info.kind, info.format, info.mime, info.size) == (kind, fmt, mime, len(data))
    assert info.filename == name
    assert info.field == ("image" if kind == "image" else "file")
    # the same answer from bytes and from a stream
    assert (await inspect_upload(data, kind=upload_kind, name=name)).type == info.type
    stream = AsyncSizedSource(lambda: chunked(data, 3), size=len(data), filename=name)
    assert (await inspect_upload(stream, kind=upload_kind)).type == info.type


def test_sniff_ignores_unknown_and_look_alikes() -> None:
    assert sniff(b"GIF89a" + bytes(20)) is None
    assert sniff(b"RIFF\x10\x00\x00\x00AVI LIST") is None
    assert sniff(ftyp(b"heic", b"mif1")) is None  # HEIF still image, not video
    assert sniff(b"\xff\xe0\x00\x00") is None  # sync but reserved version/layer
    assert sniff(b"") is None


async def test_id3_in_front_of_adts_is_aac(tmp_path: Path) -> None:
    info = await inspect_upload(write(tmp_path, "a.aac", id3(ADTS_FRAME)), kind="media")
    assert info.format == "AAC"
    # a tag larger than the sniffed head: the frame after it is read separately
    big = id3(ADTS_FRAME, tag_size=10_000)
    assert (await inspect_upload(big, kind="media", name="x.aac")).format == "AAC"
    assert (
        await inspect_upload(id3(MPEG_FRAME, 10_000), kind="media", name="x.mp3")
    ).format == "MP3"


async def test_isobmff_brand_and_extension(tmp_path: Path) -> None:
    # a generic brand: the extension picks among MP4/MOV/M4A, the same container
    assert (
        await inspect_upload(ftyp(b"mp42", b"isom"), kind="media", name="v.m4a")
    ).format == "M4A"
    assert (await inspect_upload(ftyp(b"isom"), kind="media", name="v.mov")).format == "MOV"
    # a specific brand wins over the extension
    assert (
        await inspect_upload(ftyp(b"qt  "), kind="media", name="v.mp4")
    ).mime == "video/quicktime"
    assert (await inspect_upload(ftyp(b"M4A "), kind="media", name="v.mp4")).format == "M4A"
    assert (await inspect_upload(ftyp(b"isom"), kind="media", name="v.bin")).format == "MP4"


# ---------------------------------------------------------------------------- dimensions


@pytest.mark.parametrize(
    ("name", "maker"),
    [
        ("a.png", png),
        ("a.jpg", jpeg),
        ("a.webp", webp_vp8),
        ("b.webp", webp_vp8l),
        ("c.webp", webp_vp8x),
    ],
)
async def test_dimensions_each_format(
    tmp_path: Path, name: str, maker: Callable[[int, int], bytes]
) -> None:
    # 4001-10000 px included: PixVerse's llm.txt page (2026-12-05) says "max 10000px"
    for w, h in ((1, 1), (640, 480), (4001, 4001), (6000, 10), (10000, 10000), (3999, 17)):
        info = await inspect_upload(write(tmp_path, name, maker(w, h)), kind="image")
        assert (info.width, info.height) == (w, h)


@pytest.mark.parametrize("maker", [png, jpeg, webp_vp8l, webp_vp8x])
@pytest.mark.parametrize(("w", "h"), [(10001, 10), (10, 10001), (10001, 10001)])
async def test_dimension_limit(
    tmp_path: Path, maker: Callable[[int, int], bytes], w: int, h: int
) -> None:
    ext = ".png" if maker is png else ".jpg" if maker is jpeg else ".webp"
    with pytest.raises(ImageDimensionsError) as err:
        await inspect_upload(write(tmp_path, "big" + ext, maker(w, h)), kind="image")
    assert (err.value.width, err.value.height) == (w, h)
    assert f"{w}x{h} px" in str(err.value) and "10000x10000" in str(err.value)
    assert str(err.value).startswith(str(tmp_path / ("big" + ext)) + ": ")


async def test_vp8_dimension_limit() -> None:
    # VP8 stores 14-bit sizes, so 10001 fits and must be caught
    with pytest.raises(ImageDimensionsError):
        await inspect_upload(webp_vp8(10001, 100), kind="image", name="x.webp")


async def test_jpeg_segment_scanning() -> None:
    dht = segment(0xC4, bytes(20))  # C4 is in the SOF range but is not a frame header
    dac = segment(0xCC, bytes(4))
    fill_and_standalone = b"\xff\xff\xff" + b"\xff\x01" + b"\xff\xd0"  # fill, TEM, RST0
    com = segment(0xFE, b"hello")
    data = jpeg(1234, 567, sof=0xC2, before_sof=dht + dac + fill_and_standalone + com)
    info = await inspect_upload(data, kind="image", name="p.jpg")
    assert (info.width, info.height) == (1234, 567)


async def test_jpeg_sof_far_in(tmp_path: Path) -> None:
    app1 = segment(0xE1, bytes(65533))  # largest segment
    data = jpeg(800, 600, before_sof=app1 * 20)  # frame header 1.3 MB in
    path = write(tmp_path, "far.jpg", data)
    # from a file, segments are skipped by seeking: found
    info = await inspect_upload(path, kind="image")
    assert (info.width, info.height) == (800, 600)
    # from a stream, skipped bytes must be consumed: past the budget, dimensions are unknown
    stream = AsyncSizedSource(lambda: chunked(data, 65536), size=len(data), filename="far.jpg")
    info = await inspect_upload(stream, kind="image")
    assert len(data) > HEADER_READ_LIMIT
    assert (info.width, info.height) == (None, None)


# --------------------------------------------------------------------------------- sizes


async def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(EmptyFileError) as err:
        await inspect_upload(write(tmp_path, "e.png", b""), kind="image")
    assert "e.png: the file is empty" in str(err.value)
    with pytest.raises(EmptyFileError, match=r"^<bytes>: the file is empty"):
        await inspect_upload(b"", kind="media")


async def test_image_size_limit_is_exclusive(tmp_path: Path) -> None:
    at = sparse(tmp_path, "at.png", png(), Limits.IMAGE_MAX_BYTES)
    with pytest.raises(FileTooLargeError) as err:
        await inspect_upload(at, kind="image")
    assert err.value.field == "image"
    assert str(err.value) == (f"{at}: 20971520 bytes, images must be under 20971520 bytes (20 MiB)")
    below = sparse(tmp_path, "below.png", png(), Limits.IMAGE_MAX_BYTES - 1)
    assert (await inspect_upload(below, kind="image")).size == Limits.IMAGE_MAX_BYTES - 1


async def test_media_size_limit_is_inclusive(tmp_path: Path) -> None:
    at = sparse(tmp_path, "at.mp4", ftyp(b"isom"), Limits.MEDIA_MAX_BYTES)
    assert (await inspect_upload(at, kind="media")).size == 50 * MiB
    over = sparse(tmp_path, "over.mp4", ftyp(b"isom"), Limits.MEDIA_MAX_BYTES + 1)
    with pytest.raises(FileTooLargeError) as err:
        await inspect_upload(over, kind="media")
    assert err.value.field == "file"
    assert "52428801 bytes" in str(err.value) and "at most 52428800 bytes (50 MiB)" in str(
        err.value
    )


async def test_size_checked_before_content(tmp_path: Path) -> None:
    # garbage content, but too large: the size error comes first, nothing is read
    path = sparse(tmp_path, "junk.png", b"", 21 * MiB)
    with pytest.raises(FileTooLargeError):
        await inspect_upload(path, kind="image")
    opened = 0

    def factory() -> AsyncIterator[bytes]:
        nonlocal opened
        opened += 1
        return chunked(b"x", 1)

    with pytest.raises(FileTooLargeError):
        await inspect_upload(AsyncSizedSource(factory, size=51 * MiB), kind="media")
    assert opened == 0


# --------------------------------------------------------------------- type and extension


async def test_extension_mismatch(tmp_path: Path) -> None:
    path = write(tmp_path, "cat.png", jpeg())
    with pytest.raises(ExtensionMismatchError) as err:
        await inspect_upload(path, kind="image")
    assert str(err.value) == f"{path}: the extension says PNG but the content is JPEG"
    assert (err.value.declared, err.value.detected, err.value.field) == ("PNG", "JPEG", "image")
    with pytest.raises(ExtensionMismatchError, match="says MP3 but the content is AAC"):
        await inspect_upload(ADTS_FRAME, kind="media", name="song.mp3")
    with pytest.raises(ExtensionMismatchError, match="says MP4 but the content is WebM"):
        await inspect_upload(webm(), kind="media", name="clip.MP4")


async def test_unknown_extension_allowed_and_completed(tmp_path: Path) -> None:
    assert (
        await inspect_upload(write(tmp_path, "photo", jpeg()), kind="image")
    ).filename == "photo.jpg"
    assert (await inspect_upload(png(), kind="image", name="x.bin")).filename == "x.bin.png"
    assert (await inspect_upload(png(), kind="image")).filename == "upload.png"
    assert (await inspect_upload(png(), kind="image", name="Cat.PNG")).filename == "Cat.PNG"


async def test_wrong_kind_and_unknown_content(tmp_path: Path) -> None:
    with pytest.raises(
        UnsupportedFileTypeError, match=r"MP4 \(video\); this upload takes PNG, JPEG or WebP"
    ):
        await inspect_upload(ftyp(b"isom"), kind="image", name="a.png")
    with pytest.raises(UnsupportedFileTypeError, match=r"PNG \(image\)"):
        await inspect_upload(png(), kind="media", name="a.mp4")
    with pytest.raises(UnsupportedFileTypeError, match="content is GIF") as err:
        await inspect_upload(write(tmp_path, "a.png", b"GIF89a" + bytes(40)), kind="image")
    assert err.value.detected == "GIF"
    with pytest.raises(UnsupportedFileTypeError, match="not recognised"):
        await inspect_upload(b"hello world", kind="media", name="a.mp4")
    with pytest.raises(UnsupportedFileTypeError, match="not a regular file"):
        await inspect_upload(tmp_path, kind="image")


# ------------------------------------------------------------------------------ truncated


async def test_truncated_headers(tmp_path: Path) -> None:
    cut = png()[:20]  # signature and part of IHDR
    with pytest.raises(TruncatedFileError) as err:
        await inspect_upload(write(tmp_path, "cut.png", cut), kind="image")
    assert (err.value.format, err.value.size, err.value.needed) == ("PNG", 20, 24)
    assert "cut.png: truncated PNG file: it has 20 bytes but its header needs at least 24" in str(
        err.value
    )

    with pytest.raises(TruncatedFileError, match="PNG"):
        await inspect_upload(b"\x89PNG", kind="image", name="a.png")
    with pytest.raises(TruncatedFileError, match="JPEG"):  # APP0 runs past the end
        await inspect_upload(jpeg()[:12], kind="image", name="a.jpg")
    with pytest.raises(TruncatedFileError, match="WebP"):  # RIFF claims more than there is
        await inspect_upload(webp_vp8x()[:-2], kind="image", name="a.webp")
    with pytest.raises(TruncatedFileError, match="MP3"):  # ID3 tag longer than the file
        await inspect_upload(id3(b"", tag_size=10_000)[:200], kind="media", name="a.mp3")
    with pytest.raises(TruncatedFileError, match="MP4"):  # ftyp box past the end
        await inspect_upload(ftyp(b"isom", b"isom", b"mp42")[:20], kind="media", name="a.mp4")


async def test_unreadable_headers() -> None:
    no_sof = b"\xff\xd8" + segment(0xE0, bytes(14)) + b"\xff\xd9"
    with pytest.raises(TruncatedFileError, match="unreadable JPEG header: end of image"):
        await inspect_upload(no_sof, kind="image", name="a.jpg")
    bad_png = bytearray(png())
    bad_png[12:16] = b"IDAT"
    with pytest.raises(TruncatedFileError, match="not IHDR"):
        await inspect_upload(bytes(bad_png), kind="image", name="a.png")
    dnl = jpeg(100, 0)
    with pytest.raises(UnsupportedFileTypeError, match="DNL"):
        await inspect_upload(dnl, kind="image", name="a.jpg")


# ------------------------------------------------------------------------- urls, errors


async def test_urls_are_not_inspected() -> None:
    assert is_url("https://media.pixverse.ai/a.jpg") and is_url("HTTP://x")
    assert not is_url("cat.png") and not is_url(b"https://x") and not is_url(Path("https:/x"))
    with pytest.raises(ValidationError, match="image_url"):
        await inspect_upload("https://media.pixverse.ai/a.jpg", kind="image")


async def test_errors_are_validation_errors_and_pickle(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as err:
        await inspect_upload(write(tmp_path, "cat.png", jpeg()), kind="image")
    exc = err.value
    assert isinstance(exc, ValidationError) and exc.field == "image"
    clone = pickle.loads(pickle.dumps(exc))
    assert type(clone) is ExtensionMismatchError and str(clone) == str(exc)
    assert clone.detected == "JPEG"


# ----------------------------------------------------------------------------- payloads


async def test_file_payload_streams_with_progress(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 123)
    path = write(tmp_path, "big.mp4", ftyp(b"isom") + data)
    info = await inspect_upload(path, kind="media")
    calls: list[tuple[int, int]] = []
    payload = make_payload(info, path, lambda sent, total: calls.append((sent, total)))
    assert isinstance(payload, FileUploadPayload) and payload.size == info.size
    assert payload.content_type == "video/mp4"
    for _attempt in range(2):  # a retry opens the file again and streams it all
        writer = MemWriter()
        await payload.write(writer)  # type: ignore[arg-type]
        assert bytes(writer.buf) == path.read_bytes()
        assert writer.writes == 4
    sents = [s for s, _ in calls]
    first = sents[:4]
    assert first == sorted(first) and len(set(first)) == 4
    assert calls[3] == (info.size, info.size) and calls[-1] == (info.size, info.size)
    assert all(total == info.size for _, total in calls)
    assert await payload.as_bytes() == path.read_bytes()


async def test_file_grown_or_shrunk_before_upload(tmp_path: Path) -> None:
    path = write(tmp_path, "a.png", png())
    info = await inspect_upload(path, kind="image")
    with open(path, "ab") as f:
        f.write(b"more")
    writer = MemWriter()
    with pytest.raises(FileChangedError) as err:
        await make_payload(info, path).write(writer)  # type: ignore[arg-type]
    assert writer.buf == b""  # detected before any byte is sent
    assert err.value.expected == info.size and err.value.actual == info.size + 4
    assert "a.png: the file changed while uploading" in str(err.value)
    with open(path, "r+b") as f:
        f.truncate(info.size - 10)
    with pytest.raises(FileChangedError):
        await make_payload(info, path).write(MemWriter())  # type: ignore[arg-type]


@pytest.mark.parametrize("change", ["grow", "shrink"])
async def test_file_changes_while_streaming(tmp_path: Path, change: str) -> None:
    path = write(tmp_path, "v.mp4", ftyp(b"isom") + bytes(3 * CHUNK_SIZE))
    info = await inspect_upload(path, kind="media")
    sent: list[int] = []

    class ChangingWriter(MemWriter):
        async def write(self, data: bytes) -> None:
            await super().write(data)
            if self.writes == 1:
                with open(path, "r+b") as f:
                    if change == "grow":
                        f.seek(0, os.SEEK_END)
                        f.write(b"tail")
                    else:
                        f.truncate(CHUNK_SIZE + 5)

    writer = ChangingWriter()
    with pytest.raises(FileChangedError):
        await make_payload(info, path, lambda s, t: sent.append(s)).write(writer)  # type: ignore[arg-type]
    assert len(writer.buf) < info.size  # the part is never completed
    assert sent and sent[-1] < info.size


async def test_bytes_payload(tmp_path: Path) -> None:
    data = bytearray(png() + bytes(2 * CHUNK_SIZE))
    info = await inspect_upload(data, kind="image", name="p.png")
    calls: list[int] = []
    payload = make_payload(info, data, lambda s, t: calls.append(s))
    writer = MemWriter()
    await payload.write(writer)  # type: ignore[arg-type]
    assert writer.buf == data and calls == [CHUNK_SIZE, 2 * CHUNK_SIZE, len(data)]
    del data[-1:]
    with pytest.raises(FileChangedError):
        await payload.write(MemWriter())  # type: ignore[arg-type]


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_stream_source_factory_and_size_checks() -> None:
    data = ftyp(b"isom") + os.urandom(100_000)
    closed = 0

    async def gen() -> AsyncIterator[bytes]:
        nonlocal closed
        try:
            async for chunk in chunked(data, 7000):
                yield chunk
        finally:
            closed += 1

    source = AsyncSizedSource(gen, size=len(data), filename="s.mp4")
    info = await inspect_upload(source, kind="media")
    assert closed == 1  # the peek closed its iterator
    calls: list[tuple[int, int]] = []
    payload = make_payload(info, source, lambda s, t: calls.append((s, t)))
    for _ in range(2):
        writer = MemWriter()
        await payload.write(writer)  # type: ignore[arg-type]
        assert writer.buf == data
    assert not payload.consumed and closed == 3
    assert calls[-1] == (len(data), len(data))

    longer = AsyncSizedSource(lambda: chunked(data + b"!", 7000), size=len(data), filename="s.mp4")
    with pytest.raises(FileChangedError, match="more than"):
        await make_payload(info, longer).write(MemWriter())  # type: ignore[arg-type]
    shorter = AsyncSizedSource(lambda: chunked(data[:-1], 7000), size=len(data), filename="s.mp4")
    writer = MemWriter()
    with pytest.raises(FileChangedError, match="ended after"):
        await make_payload(info, shorter).write(writer)  # type: ignore[arg-type]
    assert len(writer.buf) < len(data) - 1  # the last chunk was held back


async def test_single_use_stream_is_peeked_and_replayed() -> None:
    data = png(300, 200) + os.urandom(50_000)
    source = AsyncSizedSource.from_iterable(chunked(data, 1000), size=len(data), filename="p.png")
    info = await inspect_upload(source, kind="image")
    assert (info.width, info.height) == (300, 200)
    payload = make_payload(info, source)
    writer = MemWriter()
    await payload.write(writer)  # type: ignore[arg-type]
    assert writer.buf == data
    assert payload.consumed and not source.reusable
    with pytest.raises(SourceConsumedError):
        await payload.write(MemWriter())  # type: ignore[arg-type]


async def test_stream_shorter_than_declared_at_preflight() -> None:
    source = AsyncSizedSource(lambda: chunked(b"\x89PNG\r\n", 3), size=100, filename="p.png")
    with pytest.raises(FileChangedError, match="ended after 6 bytes"):
        await inspect_upload(source, kind="image")


# ---------------------------------------------------------------------------- multipart


async def test_multipart_has_known_size(tmp_path: Path) -> None:
    path = write(tmp_path, "cat.png", png(10, 10) + bytes(1000))
    info = await inspect_upload(path, kind="image")
    body = build_multipart("image", info, path)
    writer = MemWriter()
    await body.write(writer)  # type: ignore[arg-type]
    assert body.size == len(writer.buf)
    text = bytes(writer.buf)
    assert b'name="image"; filename="cat.png"' in text
    assert b"Content-Type: image/png" in text
    assert body.content_type.startswith("multipart/form-data; boundary=")


async def test_multipart_over_http(tmp_path: Path) -> None:
    content = ftyp(b"qt  ") + os.urandom(CHUNK_SIZE + 99)
    path = write(tmp_path, "clip.mov", content)
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["content_length"] = request.headers.get("Content-Length")
        seen["transfer_encoding"] = request.headers.get("Transfer-Encoding")
        reader = await request.multipart()
        part = await reader.next()
        assert isinstance(part, aiohttp.BodyPartReader)
        seen["name"], seen["filename"] = part.name, part.filename
        seen["type"] = part.headers.get("Content-Type")
        seen["body"] = await part.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/openapi/v2/media/upload", handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        url = server.make_url("/openapi/v2/media/upload")
        info = await inspect_upload(path, kind="media")
        body = build_multipart(info.field, info, path)
        for _ in range(2):  # the same body object can be sent again
            async with http.post(url, data=body) as resp:
                assert resp.status == 200
            assert seen["content_length"] == str(body.size)
            assert seen["transfer_encoding"] is None
            assert (seen["name"], seen["filename"], seen["type"]) == (
                "file",
                "clip.mov",
                "video/quicktime",
            )
            assert seen["body"] == content

        # a file that changed: the request fails, and the cause is recoverable
        with open(path, "ab") as f:
            f.write(b"x")
        with pytest.raises(aiohttp.ClientError) as err:
            async with http.post(url, data=build_multipart("file", info, path)):
                pass
        assert isinstance(upload_error_from(err.value), FileChangedError)


async def test_no_file_descriptors_leak(tmp_path: Path) -> None:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.exists():
        pytest.skip("needs /proc")
    path = write(tmp_path, "a.jpg", jpeg() + bytes(CHUNK_SIZE * 2))
    before = len(os.listdir(fd_dir))
    for _ in range(5):
        info = await inspect_upload(path, kind="image")
        await make_payload(info, path).write(MemWriter())  # type: ignore[arg-type]
        with pytest.raises(ExtensionMismatchError):
            await inspect_upload(path, kind="image", name="a.png")
    with open(path, "ab") as f:
        f.write(b"x")
    for _ in range(5):
        with pytest.raises(FileChangedError):
            await make_payload(info, path).write(MemWriter())  # type: ignore[arg-type]
    assert len(os.listdir(fd_dir)) == before
