"""The emulator under abuse: hostile file names, oversize and malformed bodies, 1,000 connections.

(That it binds 127.0.0.1 by default is tested in test_emulator_core.py; the upload size
limits while streaming in test_uploads.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import threading
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
import pytest
from aiohttp import MultipartWriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixverse_async import PixVerse, RetryPolicy
from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER, Paths
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.emulator.app import sample_video_path
from pixverse_async.emulator.validation import VALIDATORS

from .conftest import API_KEY

CONNECTIONS = 1000
JSON_BODY_EXAMPLES = 300
PNG = (sample_video_path().parent / "sample.png").read_bytes()


def headers() -> dict[str, str]:
    return {API_KEY_HEADER: API_KEY, TRACE_ID_HEADER: str(uuid.uuid4())}


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# --- upload file names cannot escape the storage folder ----------------------------------------

HOSTILE_NAMES = [
    "../../evil.png",
    "../../../../../../tmp/evil-{tag}.png",
    "/tmp/evil-{tag}.png",
    "{abs}",
    "..\\..\\evil.png",
    "sub/dir/evil.png",
    ".incoming-evil.png",
    "1.png",
    "..",
    ".",
    "",
    "evil\u202egnp.exe",
    "%2e%2e%2fevil.png",
]


@pytest.fixture
async def storage_emu(tmp_path: Path) -> AsyncIterator[tuple[Emulator, Path]]:
    storage = tmp_path / "area" / "storage"
    async with Emulator(api_keys={API_KEY}, storage_dir=storage) as emu:
        yield emu, storage


@pytest.mark.parametrize("endpoint", ["image", "media"])
async def test_upload_file_names_cannot_escape_storage(
    storage_emu: tuple[Emulator, Path], tmp_path: Path, endpoint: str
) -> None:
    emu, storage = storage_emu
    tag = uuid.uuid4().hex
    outside = tmp_path / f"abs-evil-{tag}.png"
    data = PNG if endpoint == "image" else sample_video_path().read_bytes()
    field, path = (
        ("image", Paths.IMAGE_UPLOAD) if endpoint == "image" else ("file", Paths.MEDIA_UPLOAD)
    )
    before_tmp = set(os.listdir("/tmp"))
    before_parent = set(os.listdir(tmp_path.parent))
    stored: list[str] = []
    async with aiohttp.ClientSession() as http:
        for template in HOSTILE_NAMES:
            name = template.format(tag=tag, abs=outside)
            form = MultipartWriter("form-data")
            part = form.append(data)
            part.set_content_disposition("form-data", name=field, filename=name, quote_fields=False)
            async with http.post(emu.base_url + path, data=form, headers=headers()) as resp:
                body = await resp.json()
            assert resp.status == 200, (name, body)
            assert body["ErrCode"] == 0, (name, body)
            upload_id = body["Resp"]["img_id" if endpoint == "image" else "media_id"]
            upload = emu.state.uploads[upload_id]
            assert upload.path.parent == storage
            assert upload.path.name.startswith(str(upload_id)), (name, upload.path)
            stored.append(upload.path.name)
            # the served copy is the same, at the id's name, and "../" cannot reach outside
            url = body["Resp"]["img_url" if endpoint == "image" else "url"]
            async with http.get(url) as served:
                assert served.status == 200 and await served.read() == data
            for probe in ("..%2F..%2Fevil.png", "..%2Fstorage", "%2Fetc%2Fpasswd"):
                async with http.get(emu.base_url + "/media/uploads/" + probe) as served:
                    assert served.status == 404
    # everything written is inside storage, under names the emulator chose
    assert sorted(tree(tmp_path)) == sorted(
        ["area", "area/storage", *(f"area/storage/{n}" for n in stored)]
    )
    assert set(os.listdir(tmp_path.parent)) == before_parent
    assert {n for n in set(os.listdir("/tmp")) - before_tmp if tag in n} == set()
    assert not outside.exists()


async def test_sdk_upload_with_a_hostile_name(storage_emu: tuple[Emulator, Path]) -> None:
    emu, storage = storage_emu
    async with PixVerse(api_key=API_KEY, base_url=emu.base_url) as client:
        image = await client.images.upload(PNG, name="../../../evil.png")
    assert [p.name for p in storage.iterdir()] == [f"{image.img_id}.png"]


# --- oversize and malformed JSON bodies -----------------------------------------------------------


async def _stream(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    block = b'{"prompt":"' + b"x" * (chunk - 11)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_oversize_json_body_is_refused_without_buffering(framing: str) -> None:
    size = 10 * 1024 * 1024
    async with Emulator(api_keys={API_KEY}) as emu, aiohttp.ClientSession() as http:
        extra = {"Content-Type": "application/json"}
        if framing == "content-length":
            extra["Content-Length"] = str(size)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            async with http.post(
                emu.base_url + Paths.TEXT_TO_VIDEO, data=_stream(size), headers=headers() | extra
            ) as resp:
                status = resp.status
                await resp.read()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert status == 413
        print(f"\n{size}-byte JSON body ({framing}): HTTP {status}, peak {peak} bytes traced")
        assert peak < 4 * 1024 * 1024, f"{peak} bytes held for a {size}-byte body"
        assert emu.state.generations == {}
        # the emulator still answers
        async with http.get(emu.base_url + Paths.BALANCE, headers=headers()) as resp:
            assert resp.status == 200


class ThreadedEmulator:
    """The emulator in a background thread with its own loop, for synchronous clients."""

    def __init__(self, **config: Any) -> None:
        self.emu = Emulator(api_keys={API_KEY}, **config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Emulator:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.emu.start(), self.loop).result(10)
        return self.emu

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.emu.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def threaded() -> Iterator[tuple[Emulator, httpx.Client]]:
    with ThreadedEmulator() as emu, httpx.Client(base_url=emu.base_url, timeout=10) as http:
        yield emu, http


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = ["prompt", "model", "duration", "quality", "aspect_ratio", "img_id", "img_ids",
          "template_id", "seed", "multi_transition", "image_references", "source_video_id",
          "video_media_id", "audio_media_id", "keyframe_id", "mask_id", "restyle_id",
          "first_frame_img", "last_frame_img", "lip_sync_switch", "lip_sync_tts_speaker_id",
          "lip_sync_tts_content", "sound_effect_switch", "sound_effect_content", "motion_mode",
          "style", "camera_movement", "negative_prompt", "restyle_prompt"]  # fmt: skip
PLAUSIBLE = st.sampled_from(
    ["v5", "v4.5", "540p", "1080p", "16:9", 5, 8, 1, 0, -1, 2**63, "1", True, None, [], {},
     [{"img_id": 1, "duration": 5}], [{"type": "subject", "img_id": 1, "ref_name": "a"}]]
)  # fmt: skip


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(["object", "object", "object", "any", "raw", "deep"]))
    if shape == "raw":
        return draw(st.binary(max_size=100))
    if shape == "deep":
        depth = draw(st.sampled_from([100, 5000, 200_000]))
        return b"[" * depth + b"]" * depth
    if shape == "any":
        return json.dumps(draw(JSON)).encode()
    keys = st.sampled_from(FIELDS) | st.text(max_size=8)
    body = draw(st.dictionaries(keys, PLAUSIBLE | JSON, max_size=8))
    return json.dumps(body).encode()


@settings(max_examples=JSON_BODY_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(sorted(VALIDATORS)), body=json_bodies())
def test_generate_routes_answer_any_body_with_an_envelope(
    threaded: tuple[Emulator, httpx.Client], path: str, body: bytes
) -> None:
    _emu, http = threaded
    resp = http.post(path, content=body, headers=headers() | {"Content-Type": "application/json"})
    assert resp.status_code in (200, 413), (resp.status_code, resp.text[:300])
    if resp.status_code == 200:
        doc = resp.json()
        assert isinstance(doc["ErrCode"], int) and "Resp" in doc


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    segment=st.text(max_size=30).map(lambda s: quote(s, safe="")),
    page=st.dictionaries(
        st.sampled_from(["page_num", "page_size", "x"]), st.text(max_size=12), max_size=3
    ),
)
def test_read_routes_answer_any_id_or_query_with_an_envelope(
    threaded: tuple[Emulator, httpx.Client], segment: str, page: dict[str, str]
) -> None:
    _emu, http = threaded
    for resp in (
        http.get(Paths.VIDEO_RESULT_PREFIX + segment, headers=headers()),
        http.get(Paths.TTS_LIST, params=page, headers=headers()),
        http.get(Paths.RESTYLE_LIST, params=page, headers=headers()),
    ):
        assert resp.status_code in (200, 404), (resp.url, resp.status_code, resp.text[:200])
        if resp.status_code == 200:
            assert isinstance(resp.json()["ErrCode"], int)
    for media in ("/media/videos/" + segment + ".mp4", "/media/uploads/" + segment + ".png"):
        assert http.get(media).status_code == 404, media


# --- 1,000 concurrent connections ---------------------------------------------------------------


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        pytest.skip(f"needs {needed} open files, the hard limit is {soft}")


async def test_thousand_concurrent_connections() -> None:
    """1,000 balance calls held open together (a 0.5 s "slow" fault) on 1,000 connections."""
    _raise_fd_limit(2 * CONNECTIONS + 200)
    hold = 0.5
    faults = FaultConfig(slow=1.0, slow_seconds=hold, paths=(Paths.BALANCE,))
    with ThreadedEmulator(faults=faults) as emu:  # its own thread: 2 cores, 2 loops
        async with PixVerse(
            api_key=API_KEY,
            base_url=emu.base_url,
            connection_limit=CONNECTIONS,
            retry=RetryPolicy(max_retries=0),
            timeout=aiohttp.ClientTimeout(total=30),
        ) as client:
            fds = [len(os.listdir("/proc/self/fd"))]
            stop = asyncio.Event()

            async def sample() -> None:
                while not stop.is_set():
                    fds.append(len(os.listdir("/proc/self/fd")))
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            started = time.monotonic()
            results = await asyncio.gather(
                *(client.account.balance() for _ in range(CONNECTIONS)), return_exceptions=True
            )
            elapsed = time.monotonic() - started
            stop.set()
            await sampler
            connector = client.session.client_session().connector
            assert connector is not None
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], errors[:3]
    records = emu.state.requests_to(Paths.BALANCE)
    assert len(records) == CONNECTIONS and all(r.status == 200 for r in records)
    # held together: one hold, not 1,000 in a row; client and server sockets open at once
    assert elapsed < 30, elapsed  # one after another would take 1,000 x 0.5 s
    assert max(fds) - fds[0] >= 2 * CONNECTIONS * 0.9, (fds[0], max(fds))
    print(f"\n{CONNECTIONS} concurrent connections: all answered in {elapsed:.2f}s, "
          f"open fds {fds[0]} -> peak {max(fds)}")  # fmt: skip
