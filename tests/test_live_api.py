"""Today's PixVerse API (the API notes) end to end against the emulator: what is sent as written,
what a sourced rule still refuses, per-call options, the live endpoints and trace-id resends."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pixverse_async import (
    APIError,
    PixVerse,
    RateLimitError,
    SubmissionUnknownError,
    ValidationError,
)
from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER, ErrCode, Paths
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.faults import FaultConfig
from pixverse_async.emulator.state import Upload
from pixverse_async.types import MaskSelection, TextToVideo

from .conftest import API_KEY, FAST_POLL, FAST_RETRY

# The five calls at the top of issue 11: each was refused before anything was sent.
FIVE_CALLS: list[dict[str, Any]] = [
    {"prompt": "x", "model": "v6", "duration": 15, "quality": "1080p", "aspect_ratio": "21:9"},
    {
        "prompt": "x",
        "model": "v5.5",
        "duration": 5,
        "quality": "720p",
        "aspect_ratio": "16:9",
        "generate_audio_switch": True,
    },
    {"prompt": "x", "model": "v5.5", "thinking_type": "auto"},
    {"prompt": "x", "model": "v5", "webhook_id": "1234"},
    {"prompt": "x", "model": "c1", "duration": 7, "quality": "1080p", "aspect_ratio": "3:2"},
]
V5_5_FIELDS = {
    "generate_audio_switch": True,
    "generate_multi_clip_switch": False,
    "thinking_type": "enabled",
    "webhook_id": "77",
}


def image(emu: Emulator, tmp_path: Path | None = None) -> int:
    upload_id = emu.state.next_id()
    path = (tmp_path or Path(".")) / f"{upload_id}.png"
    if tmp_path is not None:
        path.write_bytes(b"\x89PNG\r\n\x1a\n")
    emu.state.uploads[upload_id] = Upload(upload_id, "image", "image/png", path, 8, API_KEY)
    return upload_id


def media_video(emu: Emulator) -> int:
    upload_id = emu.state.next_id()
    emu.state.uploads[upload_id] = Upload(
        upload_id, "video", "video/mp4", Path("v.mp4"), 1, API_KEY
    )
    return upload_id


@pytest.mark.parametrize("fields", FIVE_CALLS)
async def test_the_five_calls_are_sent_as_given(
    emulator: Emulator, client: PixVerse, fields: dict[str, Any]
) -> None:
    job = await client.videos.text_to_video(**fields)
    body = emulator.state.generations[job.video_id].body
    assert body.items() >= fields.items()  # every field as written; defaults fill the rest
    assert body == {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"} | (
        fields
    )


async def test_new_fields_on_image_to_video_and_transition_are_sent(
    emulator: Emulator, client: PixVerse
) -> None:
    img, last = image(emulator), image(emulator)
    i2v = await client.videos.image_to_video(img_id=img, prompt="x", model="v5.5", **V5_5_FIELDS)
    tr = await client.videos.transition(
        first_frame_img=img, last_frame_img=last, prompt="x", model="v5.5", **V5_5_FIELDS
    )
    for job in (i2v, tr):
        assert emulator.state.generations[job.video_id].body.items() >= V5_5_FIELDS.items()


async def test_a_sourced_rule_still_refuses_before_sending(
    emulator: Emulator, client: PixVerse
) -> None:
    with pytest.raises(ValidationError) as info:
        await client.videos.text_to_video(prompt="x", model="v5.5", duration=10, quality="1080p")
    assert info.value.field == "duration" and "1080p" in info.value.rule
    with pytest.raises(ValidationError, match="generate_audio_switch: not supported on model v5"):
        await client.videos.text_to_video(prompt="x", model="v5", generate_audio_switch=True)
    assert emulator.state.requests == []


async def test_an_unknown_value_is_sent_and_the_service_answers(
    emulator: Emulator, client: PixVerse
) -> None:
    with pytest.raises(APIError) as info:
        await client.videos.text_to_video(prompt="x", quality="4k")
    assert info.value.err_code == ErrCode.INVALID_PARAMETER
    assert "quality" in str(info.value)
    assert len(emulator.state.requests) == 1 and emulator.state.generations == {}


async def test_extra_body_and_extra_headers_reach_the_service(
    emulator: Emulator, client: PixVerse
) -> None:
    job = await client.videos.text_to_video(
        prompt="x",
        extra_body={"off_peak_mode": True},
        extra_headers={"X-Experiment": "a"},
        timeout=5.0,
        max_retries=0,
    )
    assert emulator.state.generations[job.video_id].body["off_peak_mode"] is True
    assert emulator.state.requests[-1].headers["X-Experiment"] == "a"
    # the same on a request object, and on submit
    request = TextToVideo(prompt="y", extra_body={"off_peak_mode": False})
    job = await client.videos.text_to_video(request, extra_headers={"X-Experiment": "b"})
    assert emulator.state.generations[job.video_id].body["off_peak_mode"] is False
    assert emulator.state.requests[-1].headers["X-Experiment"] == "b"
    job = await client.videos.submit(TextToVideo(prompt="z"), extra_body={"seed_hint": 3})
    assert emulator.state.generations[job.video_id].body["seed_hint"] == 3


async def test_extra_body_may_not_shadow_a_typed_field(
    emulator: Emulator, client: PixVerse
) -> None:
    with pytest.raises(ValidationError) as info:
        await client.videos.text_to_video(prompt="x", extra_body={"model": "v6"})
    assert info.value.field == "extra_body.model"
    with pytest.raises(ValidationError):
        await client.videos.submit(TextToVideo(prompt="x"), extra_body={"prompt": "y"})
    assert emulator.state.requests == []


async def test_per_call_max_retries_overrides_the_client() -> None:
    faults = FaultConfig(
        rate_limited=1.0, retry_after="0", paths=(Paths.TEXT_TO_VIDEO, Paths.MASK_SELECTION)
    )
    async with (
        Emulator(api_keys={API_KEY}, faults=faults) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client,
    ):
        with pytest.raises(RateLimitError):
            await client.videos.text_to_video(prompt="x", max_retries=0)
        assert len(emu.state.requests) == 1
        with pytest.raises(RateLimitError):
            await client.videos.text_to_video(prompt="x")  # the client's 2 retries
        assert len(emu.state.requests) == 1 + 3
        with pytest.raises(RateLimitError):
            await client.videos.select_mask(video_media_id=1, max_retries=0)
        assert len(emu.state.requests) == 1 + 3 + 1


@pytest.fixture
async def slow_emulator() -> AsyncIterator[Emulator]:
    faults = FaultConfig(slow=1.0, slow_seconds=5.0, paths=(Paths.TEXT_TO_VIDEO,))
    async with Emulator(api_keys={API_KEY}, faults=faults) as emu:
        yield emu


async def test_a_float_timeout_per_call_then_resend_with_the_same_trace_id(
    slow_emulator: Emulator,
) -> None:
    emu = slow_emulator
    async with PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client:
        with pytest.raises(SubmissionUnknownError) as info:
            await client.videos.text_to_video(prompt="a kite", timeout=0.3)
        error = info.value
        assert len(emu.state.generations) == 1  # the service acted; the answer was late
        (first,) = emu.state.generations.values()
        assert first.trace_id == error.trace_id
        emu.config.faults.paths = (Paths.BALANCE,)  # the network is fine again
        job = await client.videos.resend(error)
        assert job.video_id == first.video_id  # the same video: no second generation
        assert len(emu.state.generations) == 1
        assert emu.state.requests[-1].trace_id == error.trace_id
        assert (await job.wait()).is_successful


async def test_a_reused_trace_id_never_creates_a_second_video(emulator: Emulator) -> None:
    headers = {API_KEY_HEADER: API_KEY, TRACE_ID_HEADER: str(uuid.uuid4())}
    body = {"prompt": "x", "model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "1:1"}
    async with aiohttp.ClientSession() as http:
        answers = []
        for _ in range(3):
            url = emulator.base_url + Paths.TEXT_TO_VIDEO
            async with http.post(url, json=body, headers=headers) as r:
                answers.append((await r.json())["Resp"]["video_id"])
    assert len(set(answers)) == 1 and len(emulator.state.generations) == 1


async def test_mimic_end_to_end_and_its_errors(emulator: Emulator, client: PixVerse) -> None:
    img, video = image(emulator), media_video(emulator)
    job = await client.videos.mimic(img_id=img, video_media_id=video, quality="720p")
    assert job.credits is not None  # the answer names it "credit"
    assert emulator.state.generations[job.video_id].path == Paths.MIMIC
    assert (await job.wait()).is_successful
    emulator.app.live.no_subject_images.add(img)
    with pytest.raises(APIError) as info:
        await client.videos.mimic(img_id=img, video_media_id=video)
    assert info.value.err_code == ErrCode.MOTION_CONTROL_INPUT_REJECTED
    other = image(emulator)
    emulator.app.live.no_person_videos.add(video)
    with pytest.raises(APIError) as info:
        await client.videos.mimic(img_id=other, video_media_id=video)
    assert info.value.err_code == ErrCode.MOTION_CONTROL_INPUT_REJECTED_2


async def test_template_video_is_image_to_video_with_a_template(
    emulator: Emulator, client: PixVerse
) -> None:
    img = image(emulator)
    job = await client.videos.image_to_video(img_id=img, template_id=302325299692608, prompt="x")
    assert emulator.state.generations[job.video_id].body["template_id"] == 302325299692608


async def test_a_generic_generation_endpoint_polls_and_downloads(
    emulator: Emulator, client: PixVerse, tmp_path: Path
) -> None:
    source = await (await client.videos.text_to_video(prompt="a source")).wait()
    job = await client.videos.generate(Paths.VIDEO_UPSCALE, {"source_video_id": source.id})
    assert emulator.state.generations[job.video_id].body == {"source_video_id": source.id}
    video = await job.wait()
    saved = await client.videos.download(video, tmp_path / "up.mp4")
    assert saved.stat().st_size > 0
    with pytest.raises(APIError):  # the service's rules, not the SDK's
        await client.videos.generate(Paths.VIDEO_UPSCALE, {"colour": "red"})
    with pytest.raises(ValidationError):
        await client.videos.generate("video/upscale", {})


async def test_64_bit_unsigned_ids_are_sent(emulator: Emulator, client: PixVerse) -> None:
    with pytest.raises(APIError) as info:  # a valid id the service does not know
        await client.videos.image_to_video(img_id=2**63, prompt="x")
    assert info.value.err_code == ErrCode.INVALID_IMAGE_ID
    with pytest.raises(ValidationError):
        await client.videos.image_to_video(img_id=2**64, prompt="x")


async def test_select_mask_takes_the_call_options(emulator: Emulator, client: PixVerse) -> None:
    video = media_video(emulator)
    result = await client.videos.select_mask(
        video_media_id=video, extra_headers={"X-Experiment": "m"}, timeout=5
    )
    assert result.mask_info
    assert emulator.state.requests[-1].headers["X-Experiment"] == "m"
    result = await client.videos.select_mask(MaskSelection(video_media_id=video), max_retries=0)
    assert result.keyframe_id == 1


async def test_reported_only_limits_reach_the_service_as_written(
    emulator: Emulator, client: PixVerse
) -> None:
    # c1 reference-to-video (third-party reports only): "1-7 references", "ref_name at most
    # 30 bytes"; modify (how-to-use-modify page, reported part): "quality 360p/540p/720p
    # only". Reported is not a refusal: each is sent as written and the service decides.
    names = [f"ref{i}" for i in range(7)] + ["n" * 31]
    refs = [{"type": "subject", "img_id": image(emulator), "ref_name": n} for n in names]
    prompt = "".join(f"@{n} " for n in names)
    job = await client.videos.fusion(
        image_references=refs, prompt=prompt, model="c1", duration=12, seed=3
    )
    sent = emulator.state.generations[job.video_id].body
    assert sent["image_references"] == refs and sent["model"] == "c1"
    video = await job.wait()
    job = await client.videos.modify(
        source_video_id=video.id, prompt="@selection0 holds @img0", quality="1080p"
    )
    sent = emulator.state.generations[job.video_id].body
    assert sent == {"source_video_id": video.id, "prompt": "@selection0 holds @img0",
                    "quality": "1080p"}  # fmt: skip
    with pytest.raises(ValidationError):  # the confirmed rule: the two sources exclude
        await client.videos.modify(
            source_video_id=video.id, video_media_id=media_video(emulator), prompt="x"
        )
    assert len(emulator.state.requests_to(Paths.VIDEO_MODIFY)) == 1


def test_the_docs_sample_of_todays_api_runs_as_pasted(tmp_path: Path) -> None:
    page = Path(__file__).parent.parent / "docs" / "guides" / "endpoints.md"
    section = page.read_text(encoding="utf-8")[
        page.read_text(encoding="utf-8").index("## Today's API") :
    ]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "sample.py"
    script.write_text(code, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "/media/images/" in run.stdout  # the image template's result
