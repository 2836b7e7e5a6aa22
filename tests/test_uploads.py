"""Uploads end to end: ``client.images`` / ``client.media`` against the emulator over loopback.

The client checks files before sending; the emulator checks them again from the received
bytes. Both sides are tested: the SDK path, and raw multipart bodies straight at the emulator.
Files are a few KB, built from headers; sizes over the limits use sparse files.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import pickle
import random
import socket
import sys
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.payload import AsyncIterablePayload

from pixverse_async import InvalidParameterError, PixVerse, PixVerseError, SubmissionUnknownError
from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER, ErrCode, Limits, Paths
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.models import ImageUpload, MediaUpload
from pixverse_async.retry import RetryPolicy
from pixverse_async.uploads import (
    CHUNK_SIZE,
    AsyncSizedSource,
    EmptyFileError,
    ExtensionMismatchError,
    FileChangedError,
    FileMissingError,
    FileTooLargeError,
    FileUnreadableError,
    ImageDimensionsError,
    TruncatedFileError,
    UnsupportedFileTypeError,
    file_error,
    inspect_upload,
    make_payload,
)

from .conftest import API_KEY, FAST_RETRY, ScriptedServer
from .test_upload_checks import (
    ADTS_FRAME,
    MPEG_FRAME,
    ftyp,
    id3,
    jpeg,
    png,
    sparse,
    wav,
    webm,
    webp_vp8,
    webp_vp8l,
    webp_vp8x,
    write,
)

MiB = 1024 * 1024


def tail(n: int = 3000, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


# name, content, endpoint kind, stored kind, stored mime
TYPES = [
    ("a.png", png(320, 200) + tail(), "image", "image", "image/png"),
    ("a.jpg", jpeg(640, 480) + tail(), "image", "image", "image/jpeg"),
    ("a.webp", webp_vp8(100, 80), "image", "image", "image/webp"),
    ("b.webp", webp_vp8l(4000, 4000), "image", "image", "image/webp"),
    ("c.webp", webp_vp8x(17, 3999), "image", "image", "image/webp"),
    ("a.mp4", ftyp(b"isom", b"isom", b"mp42") + tail(), "media", "video", "video/mp4"),
    ("a.mov", ftyp(b"qt  ", b"qt  ") + tail(), "media", "video", "video/quicktime"),
    ("a.webm", webm() + tail(), "media", "video", "video/webm"),
    ("a.mp3", id3(MPEG_FRAME) + tail(), "media", "audio", "audio/mpeg"),
    ("b.mp3", MPEG_FRAME + tail(), "media", "audio", "audio/mpeg"),
    ("a.wav", wav(), "media", "audio", "audio/wav"),
    ("a.m4a", ftyp(b"M4A ", b"M4A ", b"isom") + tail(), "media", "audio", "audio/x-m4a"),
    ("b.m4a", ftyp(b"mp42", b"isom") + tail(), "media", "audio", "audio/x-m4a"),
    ("a.aac", ADTS_FRAME + tail(), "media", "audio", "audio/aac"),
    ("b.aac", id3(ADTS_FRAME), "media", "audio", "audio/aac"),
]


def headers() -> dict[str, str]:
    return {API_KEY_HEADER: API_KEY, TRACE_ID_HEADER: str(uuid.uuid4())}


async def fetch(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def raw_post(emu: Emulator, path: str, data: Any) -> tuple[int, dict[str, Any]]:
    """POST ``data`` (FormData, a MultipartWriter...) to the emulator as any client would."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(emu.base_url + path, data=data, headers=headers()) as resp,
    ):
        return resp.status, await resp.json()


def form(field: str, data: bytes, filename: str = "f.bin", **more: str) -> aiohttp.FormData:
    fd = aiohttp.FormData()
    fd.add_field(field, data, filename=filename, content_type="application/octet-stream")
    for name, value in more.items():
        fd.add_field(name, value)
    return fd


def stored_files(emu: Emulator) -> list[str]:
    return sorted(p.name for p in emu.app.storage.iterdir())


async def settled(emu: Emulator, path: str, count: int = 1) -> None:
    """Wait until the emulator has answered ``count`` requests to ``path``."""
    for _ in range(200):
        records = emu.state.requests_to(path)
        if len(records) >= count and all(r.status for r in records):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the emulator did not finish {path}")


# ------------------------------------------------------------------------ accepted types


@pytest.mark.parametrize(("name", "data", "endpoint", "kind", "mime"), TYPES)
async def test_every_type_round_trips(
    client: PixVerse,
    emulator: Emulator,
    tmp_path: Path,
    name: str,
    data: bytes,
    endpoint: str,
    kind: str,
    mime: str,
) -> None:
    path = write(tmp_path, name, data)
    if endpoint == "image":
        image = await client.images.upload(path)
        assert isinstance(image, ImageUpload)
        upload_id, url = image.img_id, image.img_url
    else:
        media = await client.media.upload(path)
        assert isinstance(media, MediaUpload) and media.media_type == kind
        upload_id, url = media.media_id, media.url
    stored = emulator.state.uploads[upload_id]
    assert (stored.kind, stored.mime, stored.size, stored.api_key) == (
        kind,
        mime,
        len(data),
        API_KEY,
    )
    status, content_type, body = await fetch(url)
    assert (status, content_type, body) == (200, mime, data)
    # stored under its id, never under the client's file name
    assert stored_files(emulator) == [stored.path.name]
    assert stored.path.name.startswith(str(upload_id))


async def test_bytes_and_stream_sources(client: PixVerse, emulator: Emulator) -> None:
    data = png(8, 8) + tail(CHUNK_SIZE + 10)
    image = await client.images.upload(data, name="dot.png")
    assert (await fetch(image.img_url))[2] == data

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    source = AsyncSizedSource(chunks, size=len(data), filename="s.png")
    image = await client.images.upload(source)
    assert (await fetch(image.img_url))[2] == data
    clip = ftyp(b"isom") + tail(5000)
    media = await client.media.upload(bytearray(clip), name="clip")  # extension completed
    assert media.media_type == "video" and (await fetch(media.url))[2] == clip
    ids = [r.trace_id for r in emulator.state.requests_to("/openapi/v2/")]
    assert len(ids) == 3 and len(set(ids)) == 3


async def test_ids_are_accepted_by_later_calls(client: PixVerse, emulator: Emulator) -> None:
    image = await client.images.upload(png(), name="p.png")
    job = await client.session.request(
        "POST",
        Paths.IMAGE_TO_VIDEO,
        json_body={
            "img_id": image.img_id,
            "prompt": "a cat",
            "model": "v5",
            "duration": 5,
            "quality": "540p",
        },
        paid=True,
    )
    assert job["video_id"] in emulator.state.generations


async def test_concurrent_uploads(client: PixVerse, emulator: Emulator) -> None:
    files = [png(10 + i, 10) + tail(2000, seed=i) for i in range(8)]
    results = await asyncio.gather(
        *(client.images.upload(f, name=f"{i}.png") for i, f in enumerate(files))
    )
    assert len({r.img_id for r in results}) == 8
    for data, result in zip(files, results, strict=True):
        assert (await fetch(result.img_url))[2] == data


async def test_serving_only_stored_uploads(client: PixVerse, emulator: Emulator) -> None:
    image = await client.images.upload(png(), name="p.png")
    base = f"{emulator.base_url}/media/uploads/"
    assert (await fetch(base + f"{image.img_id}.png"))[0] == 200
    for name in (f"{image.img_id}.jpg", "1.png", "..%2Fetc%2Fpasswd", f"{image.img_id}"):
        assert (await fetch(base + name))[0] == 404
    linked = await client.images.upload("https://example.com/x.png")
    assert (await fetch(base + f"{linked.img_id}.url"))[0] == 404


# --------------------------------------------------------------------------------- URLs


async def test_url_sources(client: PixVerse, emulator: Emulator) -> None:
    url = "https://media.pixverse.ai/openapi%2Ff4c512d1-test_image_auto.jpg"
    image = await client.images.upload(url, progress=lambda s, t: None)
    assert image.img_url == url
    stored = emulator.state.uploads[image.img_id]
    assert (stored.kind, stored.mime, stored.size) == ("image", "image/jpeg", 0)
    assert stored.path.read_text().strip() == url

    video = await client.media.upload("http://cdn.example.com/clips/a.MOV?sig=1")
    audio = await client.media.upload("https://cdn.example.com/voice.m4a")
    assert (video.media_type, audio.media_type) == ("video", "audio")
    assert emulator.state.uploads[audio.media_id].mime == "audio/x-m4a"

    with pytest.raises(InvalidParameterError) as err:
        await client.media.upload("https://cdn.example.com/notes.txt")
    assert err.value.err_code == ErrCode.INVALID_PARAMETER


@pytest.mark.parametrize(
    ("path", "fields", "code"),
    [
        (Paths.IMAGE_UPLOAD, {"image_url": "ftp://example.com/a.png"}, ErrCode.INVALID_PARAMETER),
        (Paths.IMAGE_UPLOAD, {"image_url": "https://"}, ErrCode.INVALID_PARAMETER),
        (Paths.IMAGE_UPLOAD, {"image_url": "   "}, ErrCode.EMPTY_PARAMETER),
        (Paths.IMAGE_UPLOAD, {"other": "x"}, ErrCode.EMPTY_PARAMETER),
        (Paths.MEDIA_UPLOAD, {"file_url": "https://example.com/a"}, ErrCode.INVALID_PARAMETER),
        (Paths.MEDIA_UPLOAD, {"file_url": "https://example.com/a.gif"}, ErrCode.INVALID_PARAMETER),
        (Paths.MEDIA_UPLOAD, {"image_url": "https://x.com/a.mp4"}, ErrCode.EMPTY_PARAMETER),
        (
            Paths.IMAGE_UPLOAD,
            {"image_url": "https://x.co/" + "a" * 9000},
            ErrCode.INVALID_PARAMETER,
        ),
    ],
)
async def test_emulator_checks_urls(
    emulator: Emulator, path: str, fields: dict[str, str], code: int
) -> None:
    fd = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        fd.add_field(name, value)
    status, body = await raw_post(emulator, path, fd)
    assert (status, body["ErrCode"]) == (200, code), body
    assert not emulator.state.uploads and stored_files(emulator) == []


# ------------------------------------------------------- client-side checks: nothing sent


def bad_files(tmp: Path) -> list[tuple[str, Path, type[Exception]]]:
    return [
        ("image", write(tmp, "empty.png", b""), EmptyFileError),
        ("image", sparse(tmp, "huge.png", png(), Limits.IMAGE_MAX_BYTES), FileTooLargeError),
        ("image", write(tmp, "a.gif", b"GIF89a" + bytes(100)), UnsupportedFileTypeError),
        ("image", write(tmp, "clip.png", ftyp(b"isom")), UnsupportedFileTypeError),
        ("image", write(tmp, "cat.png", jpeg()), ExtensionMismatchError),
        ("image", write(tmp, "cut.png", png()[:20]), TruncatedFileError),
        ("image", write(tmp, "cut.jpg", jpeg()[:12]), TruncatedFileError),
        ("image", write(tmp, "wide.png", png(10001, 10)), ImageDimensionsError),
        ("image", write(tmp, "tall.jpg", jpeg(10, 10001)), ImageDimensionsError),
        ("media", write(tmp, "empty.mp4", b""), EmptyFileError),
        (
            "media",
            sparse(tmp, "huge.mp4", ftyp(b"isom"), Limits.MEDIA_MAX_BYTES + 1),
            FileTooLargeError,
        ),
        ("media", write(tmp, "photo.mp4", png()), UnsupportedFileTypeError),
        ("media", write(tmp, "text.mp3", b"hello world, not audio"), UnsupportedFileTypeError),
        ("media", write(tmp, "song.mp3", ADTS_FRAME), ExtensionMismatchError),
        ("media", write(tmp, "cut.mp4", ftyp(b"isom", b"isom", b"mp42")[:20]), TruncatedFileError),
    ]


async def test_image_dimensions_up_to_10000_px_upload(
    client: PixVerse, emulator: Emulator, tmp_path: Path
) -> None:
    # PixVerse's llm.txt page (read 2026-12-05): "JPG/PNG/WebP, max 20MB and max 10000px";
    # the FAQ's 4000 x 4000 px is out of date, so 4001-10000 px must reach the service
    for w, h in ((6000, 10), (10000, 10000)):
        image = await client.images.upload(write(tmp_path, f"{w}x{h}.png", png(w, h)))
        assert emulator.state.uploads[image.img_id].kind == "image"
    with pytest.raises(ImageDimensionsError) as err:
        await client.images.upload(write(tmp_path, "wider.png", png(10001, 10)))
    assert (err.value.width, err.value.max_side) == (10001, Limits.IMAGE_MAX_SIDE_PX)
    assert len(emulator.state.requests_to(Paths.IMAGE_UPLOAD)) == 2  # nothing sent for 10001


async def test_client_checks_send_nothing(
    client: PixVerse, emulator: Emulator, tmp_path: Path
) -> None:
    for endpoint, path, error in bad_files(tmp_path):
        upload = client.images.upload if endpoint == "image" else client.media.upload
        with pytest.raises(error) as err:
            await upload(path)
        assert str(err.value).startswith(f"{path}: ")
        assert isinstance(err.value, ValueError)
    assert emulator.state.requests_to(Paths.IMAGE_UPLOAD) == []
    assert emulator.state.requests_to(Paths.MEDIA_UPLOAD) == []
    with pytest.raises(TypeError):
        await client.images.upload(12345)  # type: ignore[arg-type]
    assert emulator.state.requests == []


async def test_a_missing_file_is_an_sdk_error_and_a_file_not_found_error(
    client: PixVerse, emulator: Emulator, tmp_path: Path
) -> None:
    for upload in (client.images.upload, client.media.upload):
        with pytest.raises(FileMissingError) as info:
            await upload(tmp_path / "missing.png")
        err = info.value
        assert isinstance(err, PixVerseError) and isinstance(err, FileNotFoundError)
        assert (err.errno, err.filename) == (errno.ENOENT, str(tmp_path / "missing.png"))
        assert (
            str(err)
            == f"{tmp_path / 'missing.png'}: cannot read the file (No such file or directory)"
        )
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is FileMissingError and str(again) == str(err)
    assert emulator.state.requests == []


async def test_an_unreadable_file_is_an_sdk_error_and_an_os_error(
    client: PixVerse, emulator: Emulator, tmp_path: Path
) -> None:
    folder_like = tmp_path / "dir.png"
    folder_like.mkdir()
    with pytest.raises(UnsupportedFileTypeError):  # not a regular file: refused by type
        await client.images.upload(folder_like)
    err = file_error("image", "x.png", PermissionError(errno.EACCES, "Permission denied", "x.png"))
    assert type(err) is FileUnreadableError
    assert isinstance(err, OSError) and isinstance(err, PixVerseError)
    assert not isinstance(err, FileNotFoundError) and err.errno == errno.EACCES
    assert emulator.state.requests == []


# ------------------------------------------------------- the emulator checks the bytes too


RAW_REJECTS = [
    (Paths.IMAGE_UPLOAD, "image", b"GIF89a" + bytes(100), ErrCode.IMAGE_BAD_FORMAT),
    (Paths.IMAGE_UPLOAD, "image", ftyp(b"isom"), ErrCode.IMAGE_BAD_FORMAT),
    (Paths.IMAGE_UPLOAD, "image", ftyp(b"heic", b"mif1"), ErrCode.IMAGE_BAD_FORMAT),
    (Paths.IMAGE_UPLOAD, "image", b"hello", ErrCode.IMAGE_BAD_FORMAT),
    (Paths.IMAGE_UPLOAD, "image", png()[:20], ErrCode.IMAGE_UNREADABLE),
    (Paths.IMAGE_UPLOAD, "image", b"\x89PNG", ErrCode.IMAGE_UNREADABLE),
    (Paths.IMAGE_UPLOAD, "image", jpeg()[:12], ErrCode.IMAGE_UNREADABLE),
    (Paths.IMAGE_UPLOAD, "image", b"\xff\xd8\xff\xd9" + bytes(20), ErrCode.IMAGE_UNREADABLE),
    (Paths.IMAGE_UPLOAD, "image", webp_vp8x()[:-2], ErrCode.IMAGE_UNREADABLE),
    (Paths.IMAGE_UPLOAD, "image", png(10001, 10), ErrCode.IMAGE_BAD_DIMENSIONS),
    (Paths.IMAGE_UPLOAD, "image", jpeg(10, 10001), ErrCode.IMAGE_BAD_DIMENSIONS),
    (Paths.IMAGE_UPLOAD, "image", webp_vp8(10001, 10), ErrCode.IMAGE_BAD_DIMENSIONS),
    (Paths.IMAGE_UPLOAD, "image", webp_vp8x(10001, 10001), ErrCode.IMAGE_BAD_DIMENSIONS),
    (Paths.IMAGE_UPLOAD, "image", b"", ErrCode.EMPTY_PARAMETER),
    (Paths.IMAGE_UPLOAD, "file", png(), ErrCode.EMPTY_PARAMETER),
    (Paths.MEDIA_UPLOAD, "file", png(), ErrCode.INVALID_PARAMETER),
    (Paths.MEDIA_UPLOAD, "file", b"GIF89a" + bytes(100), ErrCode.INVALID_PARAMETER),
    (Paths.MEDIA_UPLOAD, "file", ftyp(b"isom", b"isom", b"mp42")[:20], ErrCode.IMAGE_UNREADABLE),
    (Paths.MEDIA_UPLOAD, "file", id3(b"", tag_size=10_000)[:200], ErrCode.IMAGE_UNREADABLE),
    (Paths.MEDIA_UPLOAD, "file", b"RIFF\x00\x01", ErrCode.IMAGE_UNREADABLE),
    (Paths.MEDIA_UPLOAD, "file", b"", ErrCode.EMPTY_PARAMETER),
    (Paths.MEDIA_UPLOAD, "image", ftyp(b"isom"), ErrCode.EMPTY_PARAMETER),
]


@pytest.mark.parametrize(("path", "field", "data", "code"), RAW_REJECTS)
async def test_emulator_rejects_bad_files(
    emulator: Emulator, path: str, field: str, data: bytes, code: int
) -> None:
    status, body = await raw_post(emulator, path, form(field, data))
    assert (status, body["ErrCode"]) == (200, code), body
    assert body["ErrMsg"]
    record = emulator.state.requests_to(path)[0]
    assert record.err_code == code
    assert not emulator.state.uploads and stored_files(emulator) == []


async def test_emulator_form_rules(emulator: Emulator) -> None:
    # an empty file next to a URL (the spec's curl example): the URL is used
    status, body = await raw_post(
        emulator, Paths.IMAGE_UPLOAD, form("image", b"", image_url="https://x.com/a.png")
    )
    assert body["ErrCode"] == 0 and body["Resp"]["img_url"] == "https://x.com/a.png"
    # a file and a URL: refused
    status, body = await raw_post(
        emulator, Paths.IMAGE_UPLOAD, form("image", png(), image_url="https://x.com/a.png")
    )
    assert body["ErrCode"] == ErrCode.INVALID_PARAMETER
    # two files: refused
    fd = form("file", ftyp(b"isom"))
    fd.add_field("file", ftyp(b"isom"), filename="b.mp4")
    status, body = await raw_post(emulator, Paths.MEDIA_UPLOAD, fd)
    assert body["ErrCode"] == ErrCode.INVALID_PARAMETER
    # not multipart
    status, body = await raw_post(emulator, Paths.IMAGE_UPLOAD, b'{"image_url": "x"}')
    assert body["ErrCode"] == ErrCode.INVALID_PARAMETER
    # the client's file name never names a stored file
    status, body = await raw_post(
        emulator, Paths.IMAGE_UPLOAD, form("image", png(), filename="../../escape.png")
    )
    assert body["ErrCode"] == 0
    assert set(stored_files(emulator)) == {f"{body['Resp']['img_id']}.png", "300000000000001.url"}
    # an audio Content-Type makes a plain-brand ISO-BMFF file M4A
    fd = aiohttp.FormData()
    fd.add_field("file", ftyp(b"isom"), filename="x", content_type="audio/mp4")
    status, body = await raw_post(emulator, Paths.MEDIA_UPLOAD, fd)
    assert (status, body["Resp"]["media_type"]) == (200, "audio")


# ----------------------------------------------------------------------- size limits


async def test_emulator_limits_while_streaming() -> None:
    """The limit is enforced on the bytes received, whatever the headers say."""
    async with (
        Emulator(api_keys={API_KEY}, max_image_bytes=1000, max_media_bytes=2000) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client,
    ):
        at = png() + bytes(1000 - len(png()))
        assert (await client.images.upload(at, name="at.png")).img_id
        with pytest.raises(InvalidParameterError) as err:
            await client.images.upload(at + b"x", name="over.png")
        assert (err.value.err_code, err.value.http_status) == (ErrCode.IMAGE_TOO_LARGE, 413)
        clip = ftyp(b"isom") + bytes(2000 - len(ftyp(b"isom")))
        assert (await client.media.upload(clip, name="at.mp4")).media_type == "video"
        with pytest.raises(InvalidParameterError) as err:
            await client.media.upload(clip + b"x", name="over.mp4")
        assert err.value.err_code == ErrCode.IMAGE_TOO_LARGE
        assert len(emu.state.uploads) == 2 and len(stored_files(emu)) == 2


async def sparse_chunks(path: Path, sent: list[int]) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            sent.append(len(chunk))
            yield chunk
            await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("path", "field", "head", "size"),
    [
        (Paths.IMAGE_UPLOAD, "image", png(), 80 * MiB),
        (Paths.MEDIA_UPLOAD, "file", ftyp(b"isom"), 120 * MiB),
    ],
)
async def test_emulator_cuts_off_oversize_body(
    emulator: Emulator, tmp_path: Path, path: str, field: str, head: bytes, size: int
) -> None:
    big = sparse(tmp_path, "big.bin", head, size)
    # chunked (no Content-Length): only the bytes can tell, and they are cut off
    sent: list[int] = []
    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append_payload(AsyncIterablePayload(sparse_chunks(big, sent)))
    part.set_content_disposition("form-data", name=field, filename="big.bin")
    status, body = await raw_post(emulator, path, writer)
    assert (status, body["ErrCode"]) == (413, ErrCode.IMAGE_TOO_LARGE)
    # answered once the limit was passed, long before the client had sent it all
    assert sum(sent) < size
    # with a Content-Length that already says too much: refused before reading
    with open(big, "rb") as f:
        fd = aiohttp.FormData()
        fd.add_field(field, f, filename="big.bin")
        status, body = await raw_post(emulator, path, fd)
    assert (status, body["ErrCode"]) == (413, ErrCode.IMAGE_TOO_LARGE)
    assert not emulator.state.uploads and stored_files(emulator) == []


# -------------------------------------------------------------------- while streaming


@pytest.mark.parametrize("change", ["grow", "shrink"])
async def test_file_changing_during_upload(
    client: PixVerse, emulator: Emulator, tmp_path: Path, change: str
) -> None:
    path = write(tmp_path, "v.mp4", ftyp(b"isom") + tail(3 * CHUNK_SIZE))

    def progress(sent: int, total: int) -> None:
        if sent == CHUNK_SIZE:
            with open(path, "r+b") as f:
                if change == "grow":
                    f.seek(0, os.SEEK_END)
                    f.write(b"more")
                else:
                    f.truncate(CHUNK_SIZE + 5)

    with pytest.raises(FileChangedError) as err:
        await client.media.upload(path, progress=progress)
    assert str(err.value).startswith(f"{path}: the file changed while uploading")
    await settled(emulator, Paths.MEDIA_UPLOAD)
    (record,) = emulator.state.requests_to(Paths.MEDIA_UPLOAD)  # never retried
    assert record.err_code == ErrCode.IMAGE_UPLOAD_FAILED  # the body stopped short
    assert not emulator.state.uploads and stored_files(emulator) == []


async def test_progress(client: PixVerse, tmp_path: Path) -> None:
    data = jpeg(30, 20) + tail(2 * CHUNK_SIZE + 77)
    path = write(tmp_path, "p.jpg", data)
    calls: list[tuple[int, int]] = []
    await client.images.upload(path, progress=lambda sent, total: calls.append((sent, total)))
    assert [s for s, _ in calls] == [CHUNK_SIZE, 2 * CHUNK_SIZE, len(data)]
    assert {t for _, t in calls} == {len(data)}


async def test_request_has_content_length(
    scripted: ScriptedServer, scripted_client: PixVerse, tmp_path: Path
) -> None:
    data = png(12, 12) + tail(5000)
    path = write(tmp_path, "cat.png", data)
    scripted.json({"ErrCode": 0, "ErrMsg": "success", "Resp": {"img_id": 7, "img_url": "u"}})
    scripted.json(
        {"ErrCode": 0, "ErrMsg": "success", "Resp": {"img_id": 8, "img_url": "https://x/y.jpg"}}
    )
    assert (await scripted_client.images.upload(path)).img_id == 7
    assert (await scripted_client.images.upload("https://x/y.jpg")).img_id == 8
    file_req, url_req = scripted.requests
    for req in scripted.requests:
        hdrs = req["headers"]
        assert req["path"] == Paths.IMAGE_UPLOAD and req["method"] == "POST"
        assert hdrs["Content-Length"] == str(len(req["body"]))
        assert "Transfer-Encoding" not in hdrs
        assert hdrs["Content-Type"].startswith("multipart/form-data; boundary=")
        assert hdrs[API_KEY_HEADER] == API_KEY and uuid.UUID(hdrs[TRACE_ID_HEADER])
    assert b'name="image"; filename="cat.png"' in file_req["body"]
    assert b"Content-Type: image/png" in file_req["body"] and data in file_req["body"]
    assert b'name="image_url"' in url_req["body"] and b"https://x/y.jpg" in url_req["body"]
    assert b"filename" not in url_req["body"]


# ------------------------------------------------------------------------------ retries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_retry_after_refused_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pixverse_async")
    data = png(5, 5) + tail(2 * CHUNK_SIZE)
    path = write(tmp_path, "late.png", data)
    port = free_port()
    retry = RetryPolicy(max_retries=30, base_delay=0.05, max_delay=0.05)
    async with PixVerse(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", retry=retry
    ) as client:
        task = asyncio.create_task(client.images.upload(path))
        await asyncio.sleep(0.05)  # the first attempts are refused
        async with Emulator(api_keys={API_KEY}, port=port) as emu:
            image = await asyncio.wait_for(task, 10)
            assert (await fetch(image.img_url))[2] == data  # the file was sent whole again
            assert len(emu.state.uploads) == 1
            assert len(emu.state.requests_to(Paths.IMAGE_UPLOAD)) == 1
    assert any("retry POST /openapi/v2/image/upload" in r.message for r in caplog.records)
    assert any("TransportError" in r.message for r in caplog.records)


def seed_for(rate: float) -> int:
    """A seed whose first fault roll hits ``rate`` and whose second misses."""
    for seed in range(1000):
        rng = random.Random(seed)
        if rng.random() < rate <= rng.random():
            return seed
    raise AssertionError("no seed")


async def test_retry_after_rate_limit(tmp_path: Path) -> None:
    data = ftyp(b"isom") + tail(2 * CHUNK_SIZE)
    path = write(tmp_path, "c.mp4", data)
    faults = FaultConfig(
        rate_limited=0.5, retry_after="0", paths=(Paths.MEDIA_UPLOAD,), seed=seed_for(0.5)
    )
    calls: list[int] = []
    async with (
        Emulator(api_keys={API_KEY}, faults=faults) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client,
    ):
        media = await client.media.upload(path, progress=lambda s, t: calls.append(s))
        first, second = emu.state.requests_to(Paths.MEDIA_UPLOAD)
        assert (first.status, first.fault, second.status) == (429, "rate_limited", 200)
        assert first.trace_id == second.trace_id
        assert list(emu.state.uploads) == [media.media_id]
        assert (await fetch(media.url))[2] == data
    assert calls[-1] == len(data)


async def test_ambiguous_failure_is_not_retried(tmp_path: Path) -> None:
    path = write(tmp_path, "r.png", png() + tail())
    faults = FaultConfig(reset=1.0, paths=(Paths.IMAGE_UPLOAD,))
    async with (
        Emulator(api_keys={API_KEY}, faults=faults) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client,
    ):
        with pytest.raises(SubmissionUnknownError) as err:
            await client.images.upload(path)
        assert err.value.path == Paths.IMAGE_UPLOAD
        (record,) = emu.state.requests_to(Paths.IMAGE_UPLOAD)
        assert record.trace_id == err.value.trace_id
        assert len(emu.state.uploads) == 1  # the service did store it


async def test_cancelled_body_write_closes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp cancels the body write when an answer comes early (429): no file may leak."""
    path = write(tmp_path, "c.mp4", ftyp(b"isom") + tail())
    info = await inspect_upload(path, kind="media")
    leaked: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: leaked.append(u.object))

    class Sink:
        async def write(self, data: bytes) -> None:
            pass

    for _ in range(20):
        task = asyncio.create_task(make_payload(info, path).write(Sink()))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the file is being opened in a worker thread
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.005)
        gc.collect()
    assert leaked == []


# ------------------------------------------------------------------------------- memory


async def test_large_upload_streams_in_small_memory(
    client: PixVerse, emulator: Emulator, tmp_path: Path
) -> None:
    size = 20 * MiB
    path = sparse(tmp_path, "big.mp4", ftyp(b"isom", b"mp42"), size)
    progress: Callable[[int, int], None] = lambda s, t: None  # noqa: E731
    await client.media.upload(write(tmp_path, "warm.mp4", ftyp(b"isom")))  # warm up
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        media = await client.media.upload(path, progress=progress)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert emulator.state.uploads[media.media_id].size == size
    # client and emulator together: a few chunks in flight, never the file
    assert peak - before < 4 * MiB, f"peak {(peak - before) / MiB:.1f} MiB"
