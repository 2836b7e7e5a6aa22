"""The API key never leaks: not in logs, reprs, exception texts or tracebacks, not to media hosts.

Every endpoint and failure path runs against the emulator with DEBUG logging on for every
logger, and everything a user might print or log afterwards is searched for the key.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pixverse_async import (
    AuthenticationError,
    ImageToVideo,
    InvalidParameterError,
    PixVerse,
    PixVerseError,
    RetryPolicy,
    SubmissionUnknownError,
    TextToVideo,
    TransportError,
    ValidationError,
)
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.emulator.app import sample_video_path
from pixverse_async.models import Video, VideoStatus
from pixverse_async.runner import OutcomeState

from .conftest import FAST_POLL, ScriptedServer, answers_held_until_sent

SECRET = "sk-SECRET-1234567890"
WRONG = "sk-SECRET-WRONG-0987654321"
FRAGMENTS = (SECRET, WRONG, "SECRET-1234", "SECRET-WRONG")
PNG = (Path(sample_video_path()).parent / "sample.png").read_bytes()
MP4 = sample_video_path().read_bytes()
RETRY = RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.002)


def t2v(prompt: str) -> TextToVideo:
    return TextToVideo(prompt=prompt, model="v5", duration=5, quality="540p", aspect_ratio="16:9")


class Evidence:
    """Everything a user could print: objects (repr/str) and exceptions (text, tracebacks)."""

    def __init__(self) -> None:
        self.objects: list[Any] = []
        self.errors: list[BaseException] = []

    def keep(self, *objects: Any) -> None:
        self.objects.extend(objects)

    @contextmanager
    def expect(self, cls: type[BaseException] = PixVerseError) -> Iterator[None]:
        try:
            yield
        except cls as exc:
            self.errors.append(exc)
        else:
            raise AssertionError(f"{cls.__name__} was not raised")

    def texts(self) -> Iterator[str]:
        for obj in self.objects:
            yield repr(obj)
            yield str(obj)
        for exc in self.errors:
            yield "".join(traceback.format_exception(exc))  # chained causes included
            for link in _chain(exc):
                yield str(link)
                yield repr(link)
                yield repr(getattr(link, "__dict__", {}))
                yield repr(link.args)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        link = todo.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        todo += [e for e in (link.__cause__, link.__context__) if e is not None]


def assert_no_secret(caplog: pytest.LogCaptureFixture, evidence: Evidence, *more: str) -> None:
    texts = [caplog.text, *more, *evidence.texts()]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    for text in texts:
        for fragment in FRAGMENTS:
            assert fragment not in text, f"the key leaked into: {text[:300]!r}"
    assert caplog.records, "DEBUG logging captured nothing: the check would be vacuous"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="pixverse_async")
    return caplog


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(api_keys={SECRET}, generation_seconds=0.02) as e:
        yield e


@contextmanager
def faults(emu: Emulator, **rates: Any) -> Iterator[None]:
    saved = emu.config.faults
    emu.config.faults = FaultConfig(**rates)
    try:
        yield
    finally:
        emu.config.faults = saved


def client_for(emu: Emulator, **options: Any) -> PixVerse:
    options.setdefault("retry", RETRY)
    return PixVerse(api_key=SECRET, base_url=emu.base_url, poll=FAST_POLL, **options)


async def test_every_endpoint_keeps_the_key_secret(
    emu: Emulator, tmp_path: Path, debug_logs: pytest.LogCaptureFixture, capfd: Any
) -> None:
    ev = Evidence()
    async with client_for(emu) as client:
        ev.keep(client, client.session, client.videos, client.runner())
        image = await client.images.upload(PNG, name="cat.png")
        media = await client.media.upload(MP4, name="clip.mp4")
        url_media = await client.media.upload("https://example.com/voice.mp3")
        balance = await client.account.balance()
        speakers = await client.speakers.list(page_num=1, page_size=5)
        restyles = [effect async for effect in client.restyles.iterate(page_size=5)]
        request = ImageToVideo(img_id=image.img_id, prompt="a cat", model="v5", duration=5,
                               quality="540p")  # fmt: skip
        job = await client.videos.image_to_video(request)
        video = await job.wait()
        masks = await client.videos.select_mask(video_media_id=media.media_id)
        swap = await client.videos.swap(
            video_media_id=media.media_id, keyframe_id=masks.keyframe_id,
            mask_id=masks.mask_info[0].mask_id, img_id=image.img_id, quality="360p",
        )  # fmt: skip
        sound = await client.videos.sound_effect(source_video_id=video.id)
        saved = await client.videos.download(video, tmp_path)
        ev.keep(image, media, url_media, balance, speakers, restyles, request, job, video,
                masks, swap, sound, saved, await swap.wait(), await sound.wait())  # fmt: skip
    out, err = capfd.readouterr()
    assert_no_secret(debug_logs, ev, out, err)
    assert {u.api_key for u in emu.state.uploads.values()} == {SECRET}  # the key was used
    assert all(r.status == 200 for r in emu.state.requests)


async def test_every_failure_keeps_the_key_secret(
    emu: Emulator, tmp_path: Path, debug_logs: pytest.LogCaptureFixture, capfd: Any
) -> None:
    ev = Evidence()
    async with client_for(emu) as client:
        # 4xx-style envelopes (HTTP 200 with an ErrCode) and the moderation 500 lowercase
        with ev.expect(InvalidParameterError):
            await client.videos.image_to_video(img_id=999, prompt="p", model="v5", duration=5,
                                               quality="540p")  # fmt: skip
        with ev.expect(PixVerseError):
            await client.videos.get(123)
        with ev.expect(PixVerseError):
            await client.videos.submit(t2v("no #reject"))
        # injected faults: 500 lowercase, 502 HTML, reset, 429 beyond the cap, 500044
        for name, expected in (
            ("error_500", SubmissionUnknownError),  # after resends: a 500 is ambiguous too
            ("html_502", SubmissionUnknownError),
            ("reset", SubmissionUnknownError),
            ("concurrency_limited", PixVerseError),
        ):
            with faults(emu, **{name: 1.0}), ev.expect(expected):
                await client.videos.submit(t2v(f"fault {name}"))
            with faults(emu, **{name: 1.0}), ev.expect(PixVerseError):
                await client.account.balance()
        with faults(emu, rate_limited=1.0, retry_after="3600"), ev.expect(PixVerseError):
            await client.account.balance()
        # job failures
        for marker in ("#fail", "#moderated", "#deleted"):
            job = await client.videos.submit(t2v(f"ends {marker}"))
            with ev.expect(PixVerseError):
                await job.wait()
        # upload errors: refused before sending, and refused by the service
        with ev.expect(ValidationError):
            await client.images.upload(b"not an image", name="x.png")
        with ev.expect(ValidationError):
            await client.media.upload(PNG, name="x.mp4")
        with ev.expect(InvalidParameterError):
            await client.media.upload("https://example.com/file.xyz")
        with ev.expect(PixVerseError):
            await client.videos.download(Video(id=1, status=VideoStatus(5)), tmp_path)
    # timeouts: a read that times out, a submit that times out
    timeout = aiohttp.ClientTimeout(total=0.3)
    async with client_for(emu, timeout=timeout) as client:
        with faults(emu, slow=1.0, slow_seconds=1.0):
            with ev.expect(SubmissionUnknownError):
                await client.videos.submit(t2v("slow"))
            with ev.expect(TransportError):
                await client.account.balance()
    # nothing listens: connection refused
    async with PixVerse(api_key=SECRET, base_url="http://127.0.0.1:9", retry=RETRY) as client:
        with ev.expect(TransportError):
            await client.account.balance()
    await answers_held_until_sent(emu)  # their server-side logs are part of the evidence
    out, err = capfd.readouterr()
    assert_no_secret(debug_logs, ev, out, err)
    assert len(ev.errors) >= 20


async def test_a_wrong_key_is_not_echoed(
    emu: Emulator, debug_logs: pytest.LogCaptureFixture
) -> None:
    ev = Evidence()
    async with PixVerse(api_key=WRONG, base_url=emu.base_url, retry=RETRY) as client:
        ev.keep(client, client.session)
        with ev.expect(AuthenticationError):
            await client.account.balance()
        with ev.expect(AuthenticationError):
            await client.videos.submit(t2v("wrong key"))
        with ev.expect(AuthenticationError):
            await client.images.upload(PNG, name="cat.png")
    assert [r.status for r in emu.state.requests] == [401, 401, 401]
    assert_no_secret(debug_logs, ev)


async def test_runner_outcomes_keep_the_key_secret(
    emu: Emulator, tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    ev = Evidence()
    requests = [t2v(f"batch {i}" + (" #fail" if i % 4 == 1 else "")) for i in range(12)]
    async with client_for(emu) as client:
        with faults(emu, reset=0.2, error_500=0.2, seed=3, paths=("/openapi/v2/video/text",)):
            hold = RetryPolicy(max_retries=7, base_delay=0.01)
            runner = client.runner(concurrency=4, journal=tmp_path / "j.sqlite", hold=hold)
            outcomes = await runner.gather(requests)
    ev.keep(runner, *outcomes, *requests)
    ev.errors += [o.error for o in outcomes if o.error is not None]
    states = {o.state for o in outcomes}
    assert OutcomeState.SUCCEEDED in states and OutcomeState.FAILED in states
    journal = [p.read_bytes().decode("latin-1") for p in tmp_path.glob("j.sqlite*")]
    assert journal
    assert_no_secret(debug_logs, ev, *journal)


# --- the key goes to the API host only -----------------------------------------------------------


async def test_download_does_not_send_the_key(
    scripted: ScriptedServer, tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    media = scripted.base_url + "/cdn/v.mp4"

    async def video_file(request: web.Request) -> web.StreamResponse:
        return web.Response(body=MP4, content_type="video/mp4")

    scripted.json({"ErrCode": 0, "ErrMsg": "ok", "Resp": {"id": 5, "status": 1, "url": media}})
    scripted.add(video_file)
    async with PixVerse(api_key=SECRET, base_url=scripted.base_url, retry=RETRY) as client:
        path = await client.videos.download(5, tmp_path / "v.mp4")
    assert path.read_bytes() == MP4
    status_call, download = scripted.requests
    assert status_call["headers"]["API-KEY"] == SECRET  # the API call carries it ...
    assert download["path"] == "/cdn/v.mp4"
    assert all(SECRET not in v for v in download["headers"].values())  # ... the media GET not
    assert "api-key" not in {k.lower() for k in download["headers"]}
    assert_no_secret(debug_logs, Evidence())


async def _other_host() -> tuple[web.AppRunner, str, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    async def record(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        return web.json_response({"ErrCode": 0, "ErrMsg": "", "Resp": {"account_id": 1}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0)  # another origin than 127.0.0.1
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://localhost:{port}", seen


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_api_redirects_do_not_carry_the_key_elsewhere(
    scripted: ScriptedServer, status: int, debug_logs: pytest.LogCaptureFixture
) -> None:
    """aiohttp drops only Authorization and Cookie on a cross-origin redirect, so the SDK
    follows no redirect on API calls: a 3xx is an error and the key stays with the API."""
    runner, other, seen = await _other_host()
    try:

        async def redirect(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": other + "/steal"})

        scripted.default = redirect
        ev = Evidence()
        async with PixVerse(api_key=SECRET, base_url=scripted.base_url, retry=RETRY) as client:
            with ev.expect(PixVerseError):
                await client.account.balance()
            with ev.expect(PixVerseError):
                await client.videos.submit(t2v("redirected"))
        assert seen == [], "the API key was sent to the redirect target"
        assert_no_secret(debug_logs, ev)
    finally:
        await runner.cleanup()
