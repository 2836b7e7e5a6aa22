"""Every endpoint through the client against the emulator, and every request rule on both sides.

- Round trips: each generation kind, mask selection, status, both catalogs and the balance
  return their typed answers; the emulator's records show the exact JSON the client sent.
- Rules: for each validation rule of the request classes, the client raises
  :class:`ValidationError` naming the field and sends nothing, and the same body sent raw to
  the emulator is refused with the documented ``ErrCode`` without starting a generation.
  Rules only the client enforces (stricter than the service) are marked :class:`ClientOnly`
  with the reason, and the emulator's actual answer is pinned.
- References: unknown image ids answer 400032 (InvalidParameterError), unknown videos and media
  500008 (NotFoundError); a swap's mask must come from a selection on the same video/keyframe.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest

from pixverse_async import (
    APIError,
    Balance,
    GenerationJob,
    InvalidParameterError,
    MaskInfo,
    MaskSelectionResult,
    NotFoundError,
    PixVerse,
    RestyleEffect,
    RestylePage,
    Speaker,
    SpeakerPage,
    ValidationError,
    Video,
    VideoStatus,
)
from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER, ErrCode, Paths
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.state import Generation, Upload
from pixverse_async.emulator.state import MaskSelection as SelectedMasks
from pixverse_async.models import REQUEST_KINDS, MaskSelection, Model, build_request, to_json
from pixverse_async.models.requests import _from_mapping as from_mapping

from .conftest import API_KEY, FAST_POLL, FAST_RETRY

EMPTY = ErrCode.EMPTY_PARAMETER  # 400011
WRONG = ErrCode.WRONG_PARAMETER  # 400013
INVALID = ErrCode.INVALID_PARAMETER  # 400017
TOO_LONG = ErrCode.PROMPT_TOO_LONG  # 400018
NEG_TOO_LONG = ErrCode.NEGATIVE_PROMPT_TOO_LONG  # 400019
BAD_IMAGE = ErrCode.INVALID_IMAGE_ID  # 400032
NOT_FOUND = ErrCode.NOT_FOUND  # 500008
ACCEPTED = ErrCode.SUCCESS

GENERATION_KINDS = list(REQUEST_KINDS)
KINDS: dict[str, type[Any]] = {**REQUEST_KINDS, "mask_selection": MaskSelection}
METHOD = {kind: kind for kind in GENERATION_KINDS} | {"mask_selection": "select_mask"}

LONG = "p" * 2049
TTS_LONG = "t" * 141


# --- ids the emulator knows ---------------------------------------------------------------------


def register_upload(emu: Emulator, kind: str) -> int:
    """An image, video or audio upload, registered as the upload routes would."""
    upload_id = emu.state.next_id()
    mime = {"image": "image/png", "video": "video/mp4", "audio": "audio/mpeg"}[kind]
    emu.state.uploads[upload_id] = Upload(upload_id, kind, mime, Path(f"{kind}.bin"), 1, API_KEY)
    return upload_id


def register_video(emu: Emulator) -> int:
    """A generation that already finished successfully (a valid ``source_video_id``)."""
    video_id = emu.state.next_id()
    emu.state.add_generation(
        Generation(
            video_id=video_id,
            api_key=API_KEY,
            path=Paths.TEXT_TO_VIDEO,
            body={"prompt": "registered"},
            trace_id=None,
            created_at=0.0,
            done_at=0.0,
            outcome="success",
            credits=0,
            seed=1,
            width=960,
            height=540,
        )
    )
    return video_id


@dataclass(frozen=True)
class Refs:
    image: int
    image2: int
    video: int  # a finished generation
    media: int  # an uploaded video
    audio: int  # an uploaded audio
    mask: str  # selected on (video_media_id=media, keyframe_id=1)


def register_refs(emu: Emulator, video: int | None = None) -> Refs:
    media = register_upload(emu, "video")
    mask = str(emu.state.next_id())
    emu.state.masks[mask] = SelectedMasks("video_media_id", media, 1, (mask,))
    return Refs(
        image=register_upload(emu, "image"),
        image2=register_upload(emu, "image"),
        video=register_video(emu) if video is None else video,
        media=media,
        audio=register_upload(emu, "audio"),
        mask=mask,
    )


class Ref:
    """A placeholder for one of the :class:`Refs` ids in the tables below."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name.upper()


IMAGE, IMAGE2, VIDEO, MEDIA, AUDIO, MASK = (
    Ref(n) for n in ("image", "image2", "video", "media", "audio", "mask")
)
DROP = object()  # removes the key from the base body


def resolve(value: Any, refs: Refs) -> Any:
    if isinstance(value, Ref):
        return getattr(refs, value.name)
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


def frames(*durations: int | bool | None) -> list[dict[str, Any]]:
    images = [IMAGE, IMAGE2]
    return [
        {"img_id": images[i % 2]} if d is None else {"img_id": images[i % 2], "duration": d}
        for i, d in enumerate(durations)
    ]


def ref(type_: str, img: Any, name: Any) -> dict[str, Any]:
    return {"type": type_, "img_id": img, "ref_name": name}


# A valid body of each kind, as the client sends it and as the emulator accepts it.
BASE: dict[str, dict[str, Any]] = {
    "text_to_video": {
        "prompt": "a cat naps",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "16:9",
    },
    "image_to_video": {
        "prompt": "the cat yawns",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "img_id": IMAGE,
    },
    "transition": {
        "prompt": "transform into a puppy",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "first_frame_img": IMAGE,
        "last_frame_img": IMAGE2,
    },
    "multi_transition": {"model": "v5", "quality": "360p", "multi_transition": frames(3, None)},
    "extend": {
        "source_video_id": VIDEO,
        "prompt": "across the universe",
        "seed": 123123,
        "quality": "540p",
        "duration": 5,
        "model": "v4.5",
    },
    "fusion": {
        "image_references": [ref("subject", IMAGE, "dog"), ref("background", IMAGE2, "room")],
        "prompt": "@dog plays at @room",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "16:9",
        "seed": 123456789,
    },
    "restyle": {"source_video_id": VIDEO, "restyle_id": 3},
    "mask_selection": {"video_media_id": MEDIA},
    "swap": {
        "video_media_id": MEDIA,
        "keyframe_id": 1,
        "mask_id": MASK,
        "img_id": IMAGE,
        "quality": "360p",
    },
    "lip_sync": {"source_video_id": VIDEO, "audio_media_id": AUDIO},
    "sound_effect": {"source_video_id": VIDEO},
    "mimic": {"img_id": IMAGE, "video_media_id": MEDIA, "quality": "540p"},
    "modify": {"source_video_id": VIDEO, "prompt": "remove @selection0"},
}


def body_of(kind: str, refs: Refs, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    merged = {**BASE[kind], **(overrides or {})}
    return resolve({k: v for k, v in merged.items() if v is not DROP}, refs)


# --- raw requests -------------------------------------------------------------------------------


@dataclass
class RawReply:
    status: int
    body: dict[str, Any]

    @property
    def err_code(self) -> int:
        code = self.body.get("ErrCode", self.body.get("err_code"))
        assert isinstance(code, int), self.body
        return code


@pytest.fixture
async def raw(emulator: Emulator) -> AsyncIterator[Callable[..., Any]]:
    """POST a JSON body as-is, with the headers every call carries."""
    async with aiohttp.ClientSession() as session:

        async def post(path: str, body: Any) -> RawReply:
            headers = {API_KEY_HEADER: API_KEY, TRACE_ID_HEADER: str(uuid.uuid4())}
            async with session.post(emulator.base_url + path, json=body, headers=headers) as r:
                return RawReply(r.status, await r.json())

        yield post


@pytest.fixture
async def source_video(client: PixVerse) -> int:
    """A source video from a finished text-to-video job."""
    job = await client.videos.text_to_video(
        prompt="a source clip", model="v5", duration=5, quality="540p", aspect_ratio="16:9"
    )
    video = await job.wait()
    assert video.status is VideoStatus.SUCCESSFUL
    return job.video_id


@pytest.fixture
def refs(emulator: Emulator, source_video: int) -> Refs:
    return register_refs(emulator, video=source_video)


def generation(emu: Emulator, job: GenerationJob) -> Generation:
    return emu.state.generations[job.video_id]


def assert_json_body(body: dict[str, Any]) -> None:
    """What any body the client sends looks like: no nulls, plain JSON types."""
    assert None not in body.values()
    assert json.loads(json.dumps(body)) == body


# --- generation round trips --------------------------------------------------------------------

ROUND_TRIPS: dict[str, Callable[[Refs], dict[str, Any]]] = {
    "text_to_video": lambda r: {
        "prompt": "a lighthouse at dawn",
        "model": "v3.5",
        "duration": 8,
        "quality": "720p",
        "aspect_ratio": "9:16",
        "negative_prompt": "blur",
        "style": "anime",
        "seed": 7,
        "camera_movement": "zoom_in",
        "sound_effect_switch": True,
        "sound_effect_content": "waves",
    },
    "image_to_video": lambda r: {
        "img_id": r.image,
        "prompt": "the cat yawns",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "motion_mode": "fast",
        "lip_sync_switch": True,
        "lip_sync_tts_speaker_id": "Auto",
        "lip_sync_tts_content": "hello",
    },
    "transition": lambda r: {
        "prompt": "transform into a puppy",
        "model": "v5",
        "duration": 5,
        "quality": "360p",
        "first_frame_img": r.image,
        "last_frame_img": r.image2,
        "sound_effect_switch": True,
        "lip_sync_switch": False,
    },
    "multi_transition": lambda r: {
        "model": "v5",
        "quality": "360p",
        # the last frame's duration is optional and not counted (the page's example sends 0)
        "multi_transition": [
            {"img_id": r.image, "duration": 10, "prompt": "a"},
            {"img_id": r.image2, "duration": 10},
            {"img_id": r.image, "duration": 10},
            {"img_id": r.image2, "duration": 0},
        ],
    },
    "extend": lambda r: {
        "source_video_id": r.video,
        "prompt": "across the universe",
        "seed": 123123,
        "quality": "540p",
        "duration": 5,
        "model": "v4.5",
    },
    "fusion": lambda r: {
        "image_references": [
            {"type": "subject", "img_id": r.image, "ref_name": "dog"},
            {"type": "background", "img_id": r.image2, "ref_name": "room"},
        ],
        "prompt": "@dog plays at @room",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "16:9",
        "seed": 123456789,
    },
    "restyle": lambda r: {"video_media_id": r.media, "restyle_prompt": "as a watercolour"},
    "swap": lambda r: {
        "video_media_id": r.media,
        "keyframe_id": 1,
        "mask_id": r.mask,
        "img_id": r.image,
        "quality": "720p",
    },
    "lip_sync": lambda r: {
        "source_video_id": r.video,
        "lip_sync_tts_speaker_id": "Auto",
        "lip_sync_tts_content": "hello there",
    },
    "sound_effect": lambda r: {
        "video_media_id": r.media,
        "original_sound_switch": True,
        "sound_effect_content": "rain",
    },
    "mimic": lambda r: {"img_id": r.image, "video_media_id": r.media, "quality": "720p"},
    "modify": lambda r: {
        "video_media_id": r.media,
        "prompt": "swap @selection0 for @img0",
        "quality": "720p",
    },
}


def test_round_trips_cover_every_generation_kind() -> None:
    assert set(ROUND_TRIPS) == set(GENERATION_KINDS) and len(GENERATION_KINDS) == 12


@pytest.mark.parametrize("form", ["keywords", "object"])
@pytest.mark.parametrize("kind", GENERATION_KINDS)
async def test_generation_round_trip(
    emulator: Emulator, client: PixVerse, refs: Refs, kind: str, form: str
) -> None:
    fields = ROUND_TRIPS[kind](refs)
    request = build_request({"kind": kind, **fields})
    method = getattr(client.videos, METHOD[kind])
    before = len(emulator.state.generations)
    job = await (method(**fields) if form == "keywords" else method(request))

    assert isinstance(job, GenerationJob)
    assert job.request == request
    gen = generation(emulator, job)
    assert len(emulator.state.generations) == before + 1
    assert gen.path == type(request).path
    assert gen.body == to_json(request)  # the emulator received exactly the client's JSON
    assert_json_body(gen.body)
    assert job.credits == gen.credits and job.credits > 0
    record = emulator.state.requests_to(gen.path, "POST")[-1]
    assert record.status == 200 and record.err_code is None
    assert record.trace_id == gen.trace_id and uuid.UUID(record.trace_id or "").version == 4

    video = await job.wait()
    assert isinstance(video, Video)
    assert video.id == job.video_id and video.status is VideoStatus.SUCCESSFUL
    assert video.is_successful and video.url and video.url.endswith(f"/{job.video_id}.mp4")


async def test_text_to_video_body_exactly(emulator: Emulator, client: PixVerse) -> None:
    job = await client.videos.text_to_video(
        prompt="a red kite",
        model="v4",
        duration=5,
        quality="1080p",
        aspect_ratio="1:1",
        seed=0,
        negative_prompt=None,  # None means "not given": never sent as null
        motion_mode="normal",
    )
    assert generation(emulator, job).body == {
        "prompt": "a red kite",
        "model": "v4",
        "duration": 5,
        "quality": "1080p",
        "aspect_ratio": "1:1",
        "motion_mode": "normal",
        "seed": 0,
    }
    video = await job.wait()
    assert (video.output_width, video.output_height, video.seed) == (1080, 1080, 0)  # 1:1 at 1080p


async def test_transition_switches_are_json_booleans(
    emulator: Emulator, client: PixVerse, refs: Refs
) -> None:
    job = await client.videos.transition(
        prompt="into a puppy",
        model="v4.5",
        duration=5,
        quality="540p",
        first_frame_img=refs.image,
        last_frame_img=refs.image2,
        sound_effect_switch=False,
        lip_sync_switch=True,
        lip_sync_tts_speaker_id="7",
        lip_sync_tts_content="woof",
    )
    body = generation(emulator, job).body
    assert body == {
        "prompt": "into a puppy",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "first_frame_img": refs.image,
        "last_frame_img": refs.image2,
        "sound_effect_switch": False,
        "lip_sync_switch": True,
        "lip_sync_tts_speaker_id": "7",
        "lip_sync_tts_content": "woof",
    }
    assert body["sound_effect_switch"] is False and body["lip_sync_switch"] is True
    assert (await job.wait()).is_successful


# --- mask selection and swap --------------------------------------------------------------------


async def test_select_mask_then_swap_on_the_same_source(
    emulator: Emulator, client: PixVerse, refs: Refs
) -> None:
    masks = await client.videos.select_mask(source_video_id=refs.video, keyframe_id=2)
    assert isinstance(masks, MaskSelectionResult)
    # 2 credits: PixVerse's published price of a mask selection
    assert masks.keyframe_id == 2 and masks.keyframe_url and masks.credits == 2
    assert masks.mask_info and all(isinstance(m, MaskInfo) for m in masks.mask_info)
    assert len({m.mask_id for m in masks.mask_info}) == len(masks.mask_info)
    assert emulator.state.requests_to(Paths.MASK_SELECTION)[-1].status == 200
    assert not emulator.state.generations_for(Paths.MASK_SELECTION)  # not a generation

    job = await client.videos.swap(
        source_video_id=refs.video,
        keyframe_id=masks.keyframe_id,
        mask_id=masks.mask_info[-1].mask_id,
        img_id=refs.image,
        quality="540p",
    )
    assert generation(emulator, job).body == {
        "source_video_id": refs.video,
        "keyframe_id": 2,
        "mask_id": masks.mask_info[-1].mask_id,
        "img_id": refs.image,
        "quality": "540p",
    }
    assert (await job.wait()).is_successful


async def test_swap_keyframe_defaults_to_the_selection_default(
    emulator: Emulator, client: PixVerse, refs: Refs
) -> None:
    masks = await client.videos.select_mask(video_media_id=refs.media)
    assert masks.keyframe_id == 1
    job = await client.videos.swap(
        video_media_id=refs.media, mask_id=masks.mask_info[0].mask_id, img_id=refs.image,
        quality="360p",
    )  # fmt: skip
    assert generation(emulator, job).body["keyframe_id"] == 1  # always sent
    assert (await job.wait()).is_successful


@pytest.mark.parametrize(
    "change",
    [
        {"source_video_id": VIDEO, "video_media_id": DROP},  # another video than the selection's
        {"keyframe_id": 2},  # another keyframe than the selection's
        {"mask_id": "no-such-mask"},
    ],
)
async def test_swap_mask_must_come_from_the_same_selection(
    emulator: Emulator, client: PixVerse, refs: Refs, raw: Any, change: dict[str, Any]
) -> None:
    fields = body_of("swap", refs, change)
    before = len(emulator.state.generations)
    with pytest.raises(InvalidParameterError) as info:
        await client.videos.swap(**fields)
    assert info.value.err_code == INVALID
    reply = await raw(Paths.SWAP, fields)
    assert reply.err_code == INVALID
    assert len(emulator.state.generations) == before


# --- status, catalogs, balance ------------------------------------------------------------------


async def test_get_status_of_a_running_and_a_finished_video() -> None:
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=30) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, poll=FAST_POLL) as c,
    ):
        job = await c.videos.text_to_video(
            prompt="slow", model="v5", duration=5, quality="540p", aspect_ratio="16:9"
        )
        video = await c.videos.get(job.video_id)
        assert isinstance(video, Video) and video.id == job.video_id
        assert video.status is VideoStatus.GENERATING and not video.is_done and not video.url
        assert (await job.status()) == video and job.last_video == video
        assert emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX, "GET")[-1].status == 200


async def test_get_finished_video_and_unknown_id(client: PixVerse, source_video: int) -> None:
    video = await client.videos.get(source_video)
    assert video.status is VideoStatus.SUCCESSFUL and video.prompt == "a source clip"
    assert (video.output_width, video.output_height) == (960, 540) and video.size
    with pytest.raises(NotFoundError) as info:
        await client.videos.get(999)
    assert info.value.err_code == NOT_FOUND


async def test_speakers_list_and_iterate_every_page(emulator: Emulator, client: PixVerse) -> None:
    page = await client.speakers.list(page_num=2, page_size=4)
    assert isinstance(page, SpeakerPage) and page.total == 15 and len(page.data) == 4
    assert all(isinstance(s, Speaker) and s.speaker_id and s.name for s in page.data)
    first = await client.speakers.list()
    assert len(first.data) == 15  # default page size 20
    assert (await client.speakers.list(page_num=5, page_size=4)).data == ()

    emulator.state.requests.clear()
    speakers = [s async for s in client.speakers.iterate(page_size=4)]
    assert speakers == list(first.data)  # every page, in order, no duplicates
    assert len(emulator.state.requests_to(Paths.TTS_LIST, "GET")) == 4

    emulator.state.requests.clear()
    assert len([s async for s in client.speakers.iterate(page_size=5)]) == 15
    assert len(emulator.state.requests_to(Paths.TTS_LIST)) == 3  # no extra empty page


async def test_restyles_list_and_iterate(emulator: Emulator, client: PixVerse) -> None:
    page = await client.restyles.list(page_num=1, page_size=5)
    assert isinstance(page, RestylePage) and page.total == 12 and len(page.data) == 5
    effect = page.data[0]
    assert isinstance(effect, RestyleEffect)
    assert (effect.restyle_id, effect.name) == (1, "Anime") and effect.thumbnail

    emulator.state.requests.clear()
    effects = [e async for e in client.restyles.iterate(page_size=5)]
    assert [e.restyle_id for e in effects] == list(range(1, 13))
    assert len(emulator.state.requests_to(Paths.RESTYLE_LIST, "GET")) == 3


@pytest.mark.parametrize(("page_num", "page_size"), [(0, 5), (1, 0), (1, True)])
async def test_catalog_paging_is_validated_before_sending(
    emulator: Emulator, client: PixVerse, page_num: Any, page_size: Any
) -> None:
    with pytest.raises(ValidationError):
        await client.speakers.list(page_num=page_num, page_size=page_size)
    with pytest.raises(ValidationError):
        await client.restyles.list(page_num=page_num, page_size=page_size)
    assert emulator.state.requests == []


async def test_restyle_with_an_effect_from_the_list(
    emulator: Emulator, client: PixVerse, refs: Refs
) -> None:
    effect = (await client.restyles.list(page_size=1)).data[0]
    job = await client.videos.restyle(source_video_id=refs.video, restyle_id=effect.restyle_id)
    assert generation(emulator, job).body == {
        "source_video_id": refs.video,
        "restyle_id": effect.restyle_id,
    }
    assert (await job.wait()).is_successful


async def test_balance_goes_down_by_the_credits_charged(client: PixVerse) -> None:
    before = await client.account.balance()
    assert isinstance(before, Balance) and before.account_id == 1001
    assert before.credit_monthly is not None and before.credit_package == 0
    job = await client.videos.text_to_video(
        prompt="a cat", model="v5", duration=8, quality="720p", aspect_ratio="4:3"
    )
    after = await client.account.balance()
    assert job.credits == 120  # published v5 720p 8 s
    assert after.credit_monthly == before.credit_monthly - job.credits


# --- unknown references and models ---------------------------------------------------------------

UNKNOWN = 777_000_000_000_001


@pytest.mark.parametrize(
    ("kind", "change", "error", "code"),
    [
        ("image_to_video", {"img_id": UNKNOWN}, InvalidParameterError, BAD_IMAGE),
        ("transition", {"last_frame_img": UNKNOWN}, InvalidParameterError, BAD_IMAGE),
        ("multi_transition", {"multi_transition": [{"img_id": IMAGE, "duration": 2},
                                                   {"img_id": UNKNOWN}]},
         InvalidParameterError, BAD_IMAGE),
        ("fusion", {"image_references": [ref("subject", IMAGE, "dog"),
                                         ref("background", UNKNOWN, "room")]},
         InvalidParameterError, BAD_IMAGE),
        ("swap", {"img_id": UNKNOWN}, InvalidParameterError, BAD_IMAGE),
        ("image_to_video", {"img_id": AUDIO}, InvalidParameterError, BAD_IMAGE),
        ("extend", {"source_video_id": UNKNOWN}, NotFoundError, NOT_FOUND),
        ("restyle", {"source_video_id": UNKNOWN}, NotFoundError, NOT_FOUND),
        ("lip_sync", {"source_video_id": UNKNOWN}, NotFoundError, NOT_FOUND),
        ("sound_effect", {"source_video_id": UNKNOWN}, NotFoundError, NOT_FOUND),
        ("mask_selection", {"video_media_id": UNKNOWN}, NotFoundError, NOT_FOUND),
        ("lip_sync", {"audio_media_id": UNKNOWN}, NotFoundError, NOT_FOUND),
        ("lip_sync", {"audio_media_id": MEDIA}, NotFoundError, NOT_FOUND),
        ("extend", {"source_video_id": DROP, "video_media_id": UNKNOWN}, NotFoundError,
         NOT_FOUND),
    ],
)  # fmt: skip
async def test_unknown_reference_ids_are_typed_errors(
    emulator: Emulator,
    client: PixVerse,
    raw: Any,
    kind: str,
    change: dict[str, Any],
    error: type[APIError],
    code: int,
) -> None:
    refs = register_refs(emulator)
    fields = body_of(kind, refs, change)
    before = len(emulator.state.generations)
    with pytest.raises(error) as info:
        await getattr(client.videos, METHOD[kind])(**fields)
    assert type(info.value) is error and info.value.err_code == code
    assert emulator.state.requests[-1].err_code == code
    reply = await raw(KINDS[kind].path, fields)
    assert reply.status == 200 and reply.err_code == code
    assert len(emulator.state.generations) == before


async def test_a_source_video_still_generating_is_refused(client: PixVerse, raw: Any) -> None:
    job = await client.videos.text_to_video(
        prompt="not yet", model="v5", duration=5, quality="540p", aspect_ratio="16:9"
    )
    with pytest.raises(InvalidParameterError) as info:
        await client.videos.sound_effect(source_video_id=job.video_id)
    assert info.value.err_code == INVALID


async def test_unknown_model_passes_through_both_sides(
    emulator: Emulator, client: PixVerse, raw: Any, refs: Refs
) -> None:
    # v6 is no Model member: sent as given, and the v5-only/v3.5-only rules do not apply
    fields = {**body_of("text_to_video", refs), "model": "v9", "duration": 10, "style": "clay"}
    job = await client.videos.text_to_video(**fields, motion_mode="normal")
    assert not isinstance(job.request.model, Model)
    body = generation(emulator, job).body
    assert body["model"] == "v9" and body["duration"] == 10 and body["style"] == "clay"
    assert (await job.wait()).is_successful

    i2v = await client.videos.image_to_video(**{**body_of("image_to_video", refs), "model": "v9"})
    assert generation(emulator, i2v).body["model"] == "v9"

    reply = await raw(Paths.EXTEND, {**body_of("extend", refs), "model": "v9", "duration": 12})
    assert (
        reply.err_code == ACCEPTED and reply.body["Resp"]["video_id"] in emulator.state.generations
    )


# --- every rule, on both sides -----------------------------------------------------------------


@dataclass(frozen=True)
class ServerOnly:
    """Sent as written (no confirmed source lets the client refuse it); the emulator answers
    ``code``. ``client_fills``: the client sends the request class's default instead."""

    code: int
    client_fills: bool = False


@dataclass(frozen=True)
class ClientOnly:
    """A rule only the client enforces; the emulator (like the service) answers ``code``."""

    reason: str
    code: int = ACCEPTED


ID_RANGE = (
    "ids are 1..2**63-1 in the client; the emulator types them uint64 and answers an "
    "unknown id from its state"
)
BLANK = (
    "the client refuses a blank value it would otherwise send; the emulator reads a blank "
    "string as 'not given'"
)
AUDIO_OPT_IN = (
    "sound/TTS content without its switch would be silently ignored by the "
    "service: the client refuses it (models/requests.py decisions)"
)
MODEL_NAME = "a model name with spaces or over 64 characters is no model: client typo guard"
TEMPLATE = "img_ids is for multi-image templates, so the client requires template_id"
UNKNOWN_KEY = "the client refuses keys a request class does not have; the service ignores them"
REF_NAME = "a ref_name with a space or '@' cannot be mentioned as @ref_name: client-only check"
KEYFRAME_NONE = (
    "keyframe_id=None is refused by the client (default 1 when left out); JSON null "
    "is 'not given' (the page's default 1) for the emulator"
)

# (kind, changes to BASE[kind], field the client names, emulator ErrCode or ClientOnly)
RULES: list[tuple[str, dict[str, Any], str, int | ClientOnly]] = [
    # prompt, negative prompt
    ("text_to_video", {"prompt": LONG}, "prompt", TOO_LONG),
    ("text_to_video", {"prompt": ""}, "prompt", EMPTY),
    ("text_to_video", {"prompt": "   "}, "prompt", EMPTY),
    ("text_to_video", {"prompt": 123}, "prompt", WRONG),
    ("text_to_video", {"prompt": None}, "prompt", EMPTY),
    ("text_to_video", {"prompt": DROP}, "prompt", EMPTY),
    ("text_to_video", {"negative_prompt": LONG}, "negative_prompt", NEG_TOO_LONG),
    ("text_to_video", {"negative_prompt": ["x"]}, "negative_prompt", WRONG),
    ("image_to_video", {"negative_prompt": LONG}, "negative_prompt", NEG_TOO_LONG),
    ("transition", {"prompt": LONG}, "prompt", TOO_LONG),
    ("extend", {"prompt": ""}, "prompt", EMPTY),
    ("extend", {"prompt": LONG}, "prompt", TOO_LONG),
    # model
    ("text_to_video", {"model": ""}, "model", EMPTY),
    ("text_to_video", {"model": 5}, "model", WRONG),
    ("text_to_video", {"model": None}, "model", EMPTY),
    ("text_to_video", {"model": "v 6"}, "model", ClientOnly(MODEL_NAME)),
    ("text_to_video", {"model": " v6"}, "model", ClientOnly(MODEL_NAME)),
    ("text_to_video", {"model": "v" * 65}, "model", ClientOnly(MODEL_NAME)),
    ("multi_transition", {"model": 4}, "model", WRONG),
    # duration and its combinations
    ("text_to_video", {"duration": 6}, "duration", INVALID),
    ("text_to_video", {"duration": 10}, "duration", INVALID),
    ("text_to_video", {"duration": 0}, "duration", INVALID),
    ("text_to_video", {"duration": True}, "duration", WRONG),
    ("text_to_video", {"duration": "5"}, "duration", WRONG),
    ("text_to_video", {"duration": 5.0}, "duration", WRONG),
    ("text_to_video", {"duration": DROP}, "duration", ServerOnly(EMPTY, client_fills=True)),
    ("text_to_video", {"duration": 8, "quality": "1080p"}, "duration", INVALID),
    ("text_to_video", {"model": "v5.5", "duration": 10, "quality": "1080p"}, "duration", INVALID),
    ("text_to_video", {"model": "v6", "duration": 15, "quality": "1080p"}, "duration",
     ServerOnly(ACCEPTED)),  # v6 limits are only reported: no check on either side
    ("image_to_video", {"duration": 8, "quality": "1080p"}, "duration", INVALID),
    ("transition", {"duration": 7}, "duration", INVALID),
    ("extend", {"duration": 8, "quality": "1080p"}, "duration", INVALID),
    ("fusion", {"duration": 8, "quality": "1080p"}, "duration", INVALID),
    # quality, aspect ratio
    ("text_to_video", {"quality": "4k"}, "quality", ServerOnly(INVALID)),
    ("text_to_video", {"quality": 540}, "quality", WRONG),
    ("text_to_video", {"aspect_ratio": "2:1"}, "aspect_ratio", ServerOnly(INVALID)),
    ("text_to_video", {"aspect_ratio": None}, "aspect_ratio", EMPTY),
    ("multi_transition", {"quality": "2k"}, "quality", ServerOnly(INVALID)),
    ("fusion", {"aspect_ratio": "2:1"}, "aspect_ratio", ServerOnly(INVALID)),
    # motion mode
    ("text_to_video", {"motion_mode": "slow"}, "motion_mode", ServerOnly(INVALID)),
    ("text_to_video", {"motion_mode": "fast", "duration": 8}, "motion_mode", INVALID),
    ("text_to_video", {"motion_mode": "fast", "quality": "1080p"}, "motion_mode", INVALID),
    ("text_to_video", {"model": "v5", "motion_mode": "normal"}, "motion_mode", INVALID),
    ("text_to_video", {"motion_mode": ""}, "motion_mode", ClientOnly(BLANK)),
    ("transition", {"model": "v5", "motion_mode": "normal"}, "motion_mode", INVALID),
    ("extend", {"motion_mode": "fast", "duration": 8}, "motion_mode", INVALID),
    ("extend", {"model": "v5", "motion_mode": "normal"}, "motion_mode", INVALID),
    # style
    ("text_to_video", {"model": "v5", "style": "anime"}, "style", INVALID),
    ("text_to_video", {"model": "v3.5", "style": "watercolor"}, "style", ServerOnly(INVALID)),
    ("image_to_video", {"style": "anime"}, "style", INVALID),
    ("extend", {"style": "anime"}, "style", INVALID),
    # seed
    ("text_to_video", {"seed": -1}, "seed", INVALID),
    ("text_to_video", {"seed": 2147483648}, "seed", INVALID),
    ("text_to_video", {"seed": "x"}, "seed", WRONG),
    ("text_to_video", {"seed": ""}, "seed", WRONG),
    ("text_to_video", {"seed": True}, "seed", WRONG),
    ("text_to_video", {"seed": 1.5}, "seed", WRONG),
    ("transition", {"seed": 2**31}, "seed", INVALID),
    ("extend", {"seed": None}, "seed", EMPTY),
    ("fusion", {"seed": DROP}, "seed", EMPTY),
    ("restyle", {"seed": -3}, "seed", INVALID),
    # template id and camera movement
    ("text_to_video", {"template_id": -5}, "template_id", INVALID),
    ("text_to_video", {"template_id": True}, "template_id", WRONG),
    ("text_to_video", {"template_id": "302325299692608"}, "template_id", WRONG),
    ("text_to_video", {"template_id": 2**64}, "template_id", INVALID),
    ("text_to_video", {"template_id": 0}, "template_id", ClientOnly(ID_RANGE)),
    ("text_to_video", {"template_id": 2**64}, "template_id", INVALID),
    ("text_to_video", {"camera_movement": "spin"}, "camera_movement", ServerOnly(INVALID)),
    ("image_to_video", {"camera_movement": 3}, "camera_movement", WRONG),
    # sound effect and lip sync on the generation pages
    ("text_to_video", {"sound_effect_switch": "true"}, "sound_effect_switch", WRONG),
    ("text_to_video", {"sound_effect_switch": 1}, "sound_effect_switch", WRONG),
    ("transition", {"sound_effect_switch": "true"}, "sound_effect_switch", WRONG),
    ("text_to_video", {"sound_effect_switch": True, "sound_effect_content": 3},
     "sound_effect_content", WRONG),
    ("text_to_video", {"sound_effect_content": "rain"}, "sound_effect_switch",
     ClientOnly(AUDIO_OPT_IN)),
    ("text_to_video", {"lip_sync_switch": "true"}, "lip_sync_switch", WRONG),
    ("transition", {"lip_sync_switch": []}, "lip_sync_switch", WRONG),
    ("text_to_video", {"lip_sync_switch": True}, "lip_sync_tts_speaker_id", EMPTY),
    ("image_to_video", {"lip_sync_switch": True}, "lip_sync_tts_speaker_id", EMPTY),
    ("text_to_video", {"lip_sync_switch": True, "lip_sync_tts_speaker_id": "Auto"},
     "lip_sync_tts_content", EMPTY),
    ("text_to_video", {"lip_sync_switch": True, "lip_sync_tts_speaker_id": "Auto",
                       "lip_sync_tts_content": " "}, "lip_sync_tts_content", EMPTY),
    ("text_to_video", {"lip_sync_switch": True, "lip_sync_tts_speaker_id": "",
                       "lip_sync_tts_content": "hi"}, "lip_sync_tts_speaker_id", EMPTY),
    ("text_to_video", {"lip_sync_switch": True, "lip_sync_tts_speaker_id": "1",
                       "lip_sync_tts_content": TTS_LONG}, "lip_sync_tts_content", INVALID),
    ("text_to_video", {"lip_sync_tts_speaker_id": "1", "lip_sync_tts_content": "hi"},
     "lip_sync_switch", ClientOnly(AUDIO_OPT_IN)),
    ("transition", {"lip_sync_switch": False, "lip_sync_tts_speaker_id": "1",
                    "lip_sync_tts_content": "hi"}, "lip_sync_switch", ClientOnly(AUDIO_OPT_IN)),
    # image to video: img_id / img_ids
    ("image_to_video", {"img_ids": [IMAGE, IMAGE2], "template_id": 5}, "img_id", INVALID),
    ("image_to_video", {"img_id": DROP}, "img_id", EMPTY),
    ("image_to_video", {"img_id": None}, "img_id", EMPTY),
    ("image_to_video", {"img_id": DROP, "img_ids": []}, "img_ids", EMPTY),
    ("image_to_video", {"img_id": DROP, "img_ids": [IMAGE, True], "template_id": 5},
     "img_ids[1]", WRONG),
    ("image_to_video", {"img_id": DROP, "img_ids": "12", "template_id": 5}, "img_ids", WRONG),
    ("image_to_video", {"img_id": DROP, "img_ids": [IMAGE, IMAGE2]}, "img_ids",
     ClientOnly(TEMPLATE)),
    ("image_to_video", {"img_id": DROP, "img_ids": [0], "template_id": 5}, "img_ids[0]",
     ClientOnly(ID_RANGE, BAD_IMAGE)),
    ("image_to_video", {"img_id": True}, "img_id", WRONG),
    ("image_to_video", {"img_id": -1}, "img_id", INVALID),
    ("image_to_video", {"img_id": 0}, "img_id", ClientOnly(ID_RANGE, BAD_IMAGE)),
    ("image_to_video", {"img_id": 2**64}, "img_id", INVALID),
    ("image_to_video", {"img_id": 2**63}, "img_id", ServerOnly(BAD_IMAGE)),  # valid, unknown
    # transition frames
    ("transition", {"first_frame_img": 0}, "first_frame_img", ClientOnly(ID_RANGE, BAD_IMAGE)),
    ("transition", {"last_frame_img": "1"}, "last_frame_img", WRONG),
    ("transition", {"first_frame_img": DROP}, "first_frame_img", EMPTY),
    ("transition", {"lip_sync_tts_content": "hi"}, "lip_sync_switch", ClientOnly(AUDIO_OPT_IN)),
    # multi transition
    ("multi_transition", {"multi_transition": frames(3)}, "multi_transition", INVALID),
    ("multi_transition", {"multi_transition": frames(*[1] * 7, None)}, "multi_transition",
     INVALID),
    ("multi_transition", {"multi_transition": frames(None, None)},
     "multi_transition[0].duration", EMPTY),
    ("multi_transition", {"multi_transition": frames(3, None, None)},
     "multi_transition[1].duration", EMPTY),
    ("multi_transition", {"multi_transition": frames(10, 10, 11, 0)}, "multi_transition",
     INVALID),
    ("multi_transition", {"multi_transition": frames(0, None)},
     "multi_transition[0].duration", INVALID),
    ("multi_transition", {"multi_transition": frames(3, -1)},
     "multi_transition[1].duration", INVALID),
    ("multi_transition", {"multi_transition": frames(True, None)},
     "multi_transition[0].duration", WRONG),
    ("multi_transition", {"multi_transition": [{"img_id": IMAGE, "duration": 3}, {"duration": 2}]},
     "multi_transition[1].img_id", EMPTY),
    ("multi_transition", {"multi_transition": [{"img_id": IMAGE, "duration": 3}, {"img_id": 0}]},
     "multi_transition[1].img_id", ClientOnly(ID_RANGE, BAD_IMAGE)),
    ("multi_transition", {"multi_transition": [{"img_id": IMAGE, "duration": 3, "prompt": LONG},
                                               {"img_id": IMAGE2}]},
     "multi_transition[0].prompt", TOO_LONG),
    ("multi_transition", {"multi_transition": [{"img_id": IMAGE, "duration": 3, "foo": 1},
                                               {"img_id": IMAGE2}]},
     "multi_transition[0].foo", ClientOnly(UNKNOWN_KEY)),
    ("multi_transition", {"multi_transition": [5, {"img_id": IMAGE2}]}, "multi_transition[0]",
     WRONG),
    ("multi_transition", {"multi_transition": "abc"}, "multi_transition", WRONG),
    ("multi_transition", {"multi_transition": None}, "multi_transition", EMPTY),
    # extend: one video source
    ("extend", {"video_media_id": MEDIA}, "source_video_id", INVALID),
    ("extend", {"source_video_id": DROP}, "source_video_id", EMPTY),
    ("extend", {"source_video_id": "7"}, "source_video_id", WRONG),
    ("extend", {"source_video_id": 0}, "source_video_id", ClientOnly(ID_RANGE, NOT_FOUND)),
    # fusion
    ("fusion", {"image_references": []}, "image_references", EMPTY),
    ("fusion", {"image_references": None}, "image_references", EMPTY),
    ("fusion", {"image_references": "dog"}, "image_references", WRONG),
    ("fusion", {"image_references": [ref("subject", IMAGE, "dog"),
                                     ref("background", IMAGE2, "dog")]},
     "image_references[1].ref_name", INVALID),
    ("fusion", {"prompt": "@dog plays"}, "prompt", INVALID),
    ("fusion", {"prompt": "@dog plays at @roomy"}, "prompt", INVALID),
    ("fusion", {"prompt": "dog plays at room"}, "prompt", INVALID),
    ("fusion", {"prompt": "@dog @room " + "p" * 2048}, "prompt", TOO_LONG),
    ("fusion", {"image_references": [ref(7, IMAGE, "dog")], "prompt": "@dog"},
     "image_references[0].type", WRONG),
    ("fusion", {"image_references": [ref("foreground", IMAGE, "dog")], "prompt": "@dog"},
     "image_references[0].type", ServerOnly(INVALID)),
    ("fusion", {"image_references": [ref("subject", IMAGE, "")], "prompt": "@dog"},
     "image_references[0].ref_name", EMPTY),
    ("fusion", {"image_references": [ref("subject", -1, "dog")], "prompt": "@dog"},
     "image_references[0].img_id", INVALID),
    ("fusion", {"image_references": [{"type": "subject", "img_id": IMAGE}], "prompt": "@dog"},
     "image_references[0].ref_name", EMPTY),
    ("fusion", {"image_references": ["dog"]}, "image_references[0]", WRONG),
    ("fusion", {"image_references": [ref("subject", IMAGE, "my dog")], "prompt": "@my dog"},
     "image_references[0].ref_name", ClientOnly(REF_NAME)),
    # restyle
    ("restyle", {"restyle_prompt": "anime"}, "restyle_id", INVALID),
    ("restyle", {"restyle_id": DROP}, "restyle_id", EMPTY),
    ("restyle", {"restyle_id": DROP, "restyle_prompt": LONG}, "restyle_prompt", TOO_LONG),
    ("restyle", {"restyle_id": DROP, "restyle_prompt": " "}, "restyle_prompt", EMPTY),
    ("restyle", {"restyle_prompt": " "}, "restyle_prompt", ClientOnly(BLANK)),
    ("restyle", {"restyle_id": True}, "restyle_id", WRONG),
    ("restyle", {"video_media_id": MEDIA}, "source_video_id", INVALID),
    ("restyle", {"source_video_id": DROP}, "source_video_id", EMPTY),
    # mask selection
    ("mask_selection", {"keyframe_id": 0}, "keyframe_id", INVALID),
    ("mask_selection", {"keyframe_id": "1"}, "keyframe_id", WRONG),
    ("mask_selection", {"video_media_id": DROP}, "source_video_id", EMPTY),
    ("mask_selection", {"source_video_id": VIDEO}, "source_video_id", INVALID),
    # swap
    ("swap", {"quality": "1080p"}, "quality", INVALID),
    ("swap", {"quality": "4k"}, "quality", ServerOnly(INVALID)),
    ("swap", {"quality": DROP}, "quality", ServerOnly(EMPTY, client_fills=True)),
    ("swap", {"mask_id": ""}, "mask_id", EMPTY),
    ("swap", {"mask_id": 12}, "mask_id", WRONG),
    ("swap", {"keyframe_id": 0}, "keyframe_id", INVALID),
    ("swap", {"keyframe_id": "1"}, "keyframe_id", WRONG),
    ("swap", {"keyframe_id": None}, "keyframe_id", ClientOnly(KEYFRAME_NONE)),
    ("swap", {"img_id": None}, "img_id", EMPTY),
    ("swap", {"video_media_id": DROP}, "source_video_id", EMPTY),
    ("swap", {"source_video_id": VIDEO}, "source_video_id", INVALID),
    # lip sync: one video, one voice
    ("lip_sync", {"lip_sync_tts_speaker_id": "1", "lip_sync_tts_content": "hi"},
     "audio_media_id", INVALID),
    ("lip_sync", {"audio_media_id": DROP}, "audio_media_id", EMPTY),
    ("lip_sync", {"audio_media_id": DROP, "lip_sync_tts_speaker_id": "1"},
     "lip_sync_tts_content", EMPTY),
    ("lip_sync", {"audio_media_id": DROP, "lip_sync_tts_content": "hi"},
     "lip_sync_tts_speaker_id", EMPTY),
    ("lip_sync", {"audio_media_id": DROP, "lip_sync_tts_speaker_id": "1",
                  "lip_sync_tts_content": TTS_LONG}, "lip_sync_tts_content", INVALID),
    ("lip_sync", {"audio_media_id": DROP, "lip_sync_tts_speaker_id": "1",
                  "lip_sync_tts_content": ""}, "lip_sync_tts_content", EMPTY),
    ("lip_sync", {"lip_sync_tts_content": ""}, "lip_sync_tts_content", ClientOnly(BLANK)),
    ("lip_sync", {"audio_media_id": True}, "audio_media_id", WRONG),
    ("lip_sync", {"video_media_id": MEDIA}, "source_video_id", INVALID),
    ("lip_sync", {"source_video_id": DROP}, "source_video_id", EMPTY),
    # sound effect
    ("mimic", {"img_id": DROP}, "img_id", EMPTY),
    ("mimic", {"video_media_id": DROP}, "video_media_id", EMPTY),
    ("mimic", {"img_id": "1"}, "img_id", WRONG),
    # modify: the how-to-use-modify page makes the two video sources mutually exclusive
    ("modify", {"source_video_id": DROP}, "source_video_id", EMPTY),
    ("modify", {"video_media_id": MEDIA}, "source_video_id", INVALID),
    ("modify", {"prompt": DROP}, "prompt", EMPTY),
    ("modify", {"prompt": LONG}, "prompt", TOO_LONG),
    ("sound_effect", {"original_sound_switch": "yes"}, "original_sound_switch", WRONG),
    ("sound_effect", {"original_sound_switch": ""}, "original_sound_switch", WRONG),
    ("sound_effect", {"sound_effect_content": 5}, "sound_effect_content", WRONG),
    ("sound_effect", {"source_video_id": DROP}, "source_video_id", EMPTY),
    ("sound_effect", {"video_media_id": MEDIA}, "source_video_id", INVALID),
]  # fmt: skip


def rule_id(rule: tuple[str, dict[str, Any], str, Any]) -> str:
    kind, _, field, expected = rule
    if isinstance(expected, ServerOnly):
        return f"{kind}-{field}-server_only{expected.code}"
    code = expected.code if isinstance(expected, ClientOnly) else expected
    return f"{kind}-{field}-{'client_only' if isinstance(expected, ClientOnly) else code}"


def test_rules_cover_every_kind_and_code() -> None:
    assert {kind for kind, *_ in RULES} == set(KINDS)
    codes = {e for *_, e in RULES if isinstance(e, int)}
    assert codes == {EMPTY, WRONG, INVALID, TOO_LONG, NEG_TOO_LONG}


@pytest.mark.parametrize(("kind", "change", "field", "expected"), RULES, ids=map(rule_id, RULES))
async def test_rule_on_both_sides(
    emulator: Emulator,
    client: PixVerse,
    raw: Any,
    kind: str,
    change: dict[str, Any],
    field: str,
    expected: int | ClientOnly | ServerOnly,
) -> None:
    refs = register_refs(emulator)
    fields = body_of(kind, refs, change)
    if isinstance(expected, ServerOnly):  # the client sends it; the emulator's answer tells
        method = getattr(client.videos, METHOD[kind])
        if expected.code == ACCEPTED or expected.client_fills:
            job = await method(**fields)
            sent = emulator.state.generations[job.video_id].body
            assert sent.items() >= fields.items()
            if expected.client_fills:  # the request class's default was sent
                assert sent[field] == attrs.fields_dict(KINDS[kind])[field].default
        else:
            with pytest.raises(APIError) as api_error:
                await method(**fields)
            assert api_error.value.err_code == expected.code
        reply = await raw(KINDS[kind].path, fields)
        assert reply.err_code == expected.code, reply.body
        return

    # the client refuses it before sending anything; leaving out a required keyword of the
    # method is a ValidationError naming it, as it is for build_request (batch files)
    cls = KINDS[kind]
    required = {n for n, a in attrs.fields_dict(cls).items() if a.default is attrs.NOTHING}
    if any(v is DROP and k in required for k, v in change.items()):
        with pytest.raises(ValidationError, match=f"^{field}: is required"):
            await getattr(client.videos, METHOD[kind])(**fields)
        with pytest.raises(ValidationError) as info:
            from_mapping(cls, fields)
    else:
        with pytest.raises(ValidationError) as info:
            await getattr(client.videos, METHOD[kind])(**fields)
    assert info.value.field == field, info.value
    assert emulator.state.requests == []

    # the same JSON sent raw: the documented ErrCode, and no generation
    before = set(emulator.state.generations)
    reply = await raw(KINDS[kind].path, fields)
    code = expected.code if isinstance(expected, ClientOnly) else expected
    assert reply.err_code == code, reply.body
    assert emulator.state.requests[-1].err_code == (None if code == ACCEPTED else code)
    created = set(emulator.state.generations) - before
    if code == ACCEPTED:  # a rule only the client has: the emulator takes the body as it is
        assert reply.status == 200 and len(created) == 1
        assert emulator.state.generations[created.pop()].body == fields
    else:
        assert reply.status == 200 and reply.body["Resp"] is None and not created
        if code != BAD_IMAGE and code != NOT_FOUND:
            assert str(reply.body["ErrMsg"]).split(":")[0].split(".")[0].split("[")[0] in {
                field.split(".")[0].split("[")[0],
                *_ALTERNATIVE_FIELDS.get(field, ()),
            }, reply.body["ErrMsg"]


# Where the two sides name a different field of the same rule (cross-field rules).
_ALTERNATIVE_FIELDS = {
    "source_video_id": ("video_media_id",),
    "img_id": ("img_ids",),
    "img_ids": ("img_id",),
    "restyle_id": ("restyle_prompt",),
    "restyle_prompt": ("restyle_id",),
    "audio_media_id": ("lip_sync_tts_speaker_id", "lip_sync_tts_content"),
    "prompt": ("image_references",),
}


async def test_every_models_case_fails_through_the_client_without_sending(
    emulator: Emulator, client: PixVerse
) -> None:
    """test_models.CASES (the models' catalogue of failing cases) through the endpoints.

    Whether each case breaks a rule is test_models' business; here, every case the request
    class refuses is refused by the endpoint method with the same field, and nothing is sent.
    """
    models_tests = pytest.importorskip("tests.test_models")
    cases: list[tuple[type[Any], dict[str, Any], str]] = models_tests.CASES
    refused = 0
    for cls, overrides, _field in cases:
        fields = {**models_tests.BASE[cls], **overrides}
        fields = {k: v for k, v in fields.items() if v is not models_tests.DROP}
        try:
            cls(**fields)
        except ValidationError as exc:
            expected = exc.field
        else:
            continue
        with pytest.raises(ValidationError) as info:
            await getattr(client.videos, METHOD[cls.kind])(**fields)
        assert info.value.field == expected, (cls.__name__, overrides)
        refused += 1
    assert refused > 100
    assert emulator.state.requests == []


async def test_request_object_and_keywords_together_is_a_type_error(
    emulator: Emulator, client: PixVerse
) -> None:
    request = build_request({"kind": "sound_effect", "source_video_id": 1})
    with pytest.raises(TypeError):
        await client.videos.sound_effect(request, source_video_id=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await client.videos.extend(request)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await client.videos.submit(build_request({"kind": "mask_selection", "video_media_id": 1}))
    assert emulator.state.requests == []
