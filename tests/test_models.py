"""Tests of pixverse_async.models: validation rules, JSON bodies, response decoding."""

from __future__ import annotations

import contextlib
import copy
import doctest
import importlib
import logging
import timeit
from typing import Any

import attrs
import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixverse_async.constants import Limits, Paths, Vocab
from pixverse_async.endpoints._coerce import call_options
from pixverse_async.errors import ResponseDecodingError, ValidationError
from pixverse_async.models import (
    REQUEST_KINDS,
    AspectRatio,
    Balance,
    CameraMovement,
    Extend,
    Fusion,
    FusionReferenceType,
    GenerationRequest,
    GenerationResult,
    ImageReference,
    ImageToVideo,
    ImageUpload,
    LipSync,
    MaskInfo,
    MaskSelection,
    MaskSelectionResult,
    MediaUpload,
    Mimic,
    Model,
    Modify,
    MotionMode,
    MultiTransition,
    MultiTransitionFrame,
    PaidRequest,
    Quality,
    Restyle,
    RestyleEffect,
    RestyleListQuery,
    RestylePage,
    SoundEffect,
    Speaker,
    SpeakerListQuery,
    SpeakerPage,
    Style,
    Swap,
    TextToVideo,
    Transition,
    Video,
    VideoStatus,
    build_request,
    converter,
    from_json,
    to_json,
)

from .shared_spec import spec_file

DROP = object()  # marks a key to remove from the base keyword arguments

# A minimal valid request of each kind.
BASE: dict[type[Any], dict[str, Any]] = {
    TextToVideo: {
        "prompt": "a cat naps",
        "model": "v5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "16:9",
    },
    ImageToVideo: {
        "prompt": "the cat yawns",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "img_id": 302325299692608,
    },
    Transition: {
        "prompt": "transform into a puppy",
        "model": "v5",
        "duration": 5,
        "quality": "540p",
        "first_frame_img": 1,
        "last_frame_img": 2,
    },
    MultiTransition: {
        "model": "v5",
        "quality": "360p",
        "multi_transition": [{"img_id": 1, "duration": 3}, {"img_id": 2}],
    },
    Extend: {
        "source_video_id": 9,
        "prompt": "across the universe",
        "seed": 123123,
        "quality": "540p",
        "duration": 5,
        "model": "v4.5",
    },
    Fusion: {
        "image_references": [
            {"type": "subject", "img_id": 1, "ref_name": "dog"},
            {"type": "background", "img_id": 2, "ref_name": "room"},
        ],
        "prompt": "@dog plays at @room",
        "model": "v4.5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "16:9",
        "seed": 123456789,
    },
    Restyle: {"source_video_id": 5, "restyle_id": 322878269109312},
    MaskSelection: {"video_media_id": 3},
    Swap: {"video_media_id": 3, "mask_id": "12", "img_id": 4, "quality": "360p"},
    LipSync: {"source_video_id": 1, "audio_media_id": 2},
    SoundEffect: {"source_video_id": 123123},
    Modify: {"source_video_id": 5, "prompt": "replace @selection0 with @img0"},
}


def build(cls: type[Any], **overrides: Any) -> Any:
    kwargs = {**BASE[cls], **overrides}
    return cls(**{k: v for k, v in kwargs.items() if v is not DROP})


def frames(*durations: int | None) -> list[dict[str, Any]]:
    return [
        {"img_id": i + 1} if d is None else {"img_id": i + 1, "duration": d}
        for i, d in enumerate(durations)
    ]


# --- enums ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enum_cls", "values"),
    [
        (Model, Vocab.MODELS),
        (Quality, Vocab.QUALITIES),
        (AspectRatio, Vocab.ASPECT_RATIOS),
        (MotionMode, Vocab.MOTION_MODES),
        (Style, Vocab.STYLES),
        (CameraMovement, Vocab.CAMERA_MOVEMENTS),
        (FusionReferenceType, Vocab.FUSION_REFERENCE_TYPES),
    ],
)
def test_enum_values_match_the_shared_vocabulary(enum_cls: Any, values: tuple[str, ...]) -> None:
    assert tuple(m.value for m in enum_cls) == values
    for member in enum_cls:
        value = member.value
        assert isinstance(member, str) and member == value
        assert str(member) == value and f"{member}" == value


def test_video_status_known_and_unknown() -> None:
    assert [int(s) for s in VideoStatus] == [1, 5, 6, 7, 8]
    assert VideoStatus.SUCCESSFUL.is_terminal and VideoStatus.SUCCESSFUL.is_successful
    assert not VideoStatus.GENERATING.is_terminal
    for status in (VideoStatus.DELETED, VideoStatus.MODERATION_FAILED, VideoStatus.FAILED):
        assert status.is_terminal and status.is_failure and not status.is_successful
    unknown = VideoStatus(42)
    assert isinstance(unknown, VideoStatus) and unknown == 42 and unknown.value == 42
    assert unknown.name == "UNKNOWN" and not unknown.is_known
    assert not unknown.is_terminal and not unknown.is_failure
    assert VideoStatus.FAILED.is_known
    with pytest.raises(ValueError):
        VideoStatus("1")  # type: ignore[arg-type]


# --- valid requests produce the exact JSON ----------------------------------------------------


def test_text_to_video_minimal_json() -> None:
    assert to_json(build(TextToVideo)) == {
        "prompt": "a cat naps",
        "model": "v5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "16:9",
    }


def test_text_to_video_full_json_types() -> None:
    req = TextToVideo(
        prompt="a cat",
        model=Model.V3_5,
        duration=5,
        quality=Quality.P540,
        aspect_ratio=AspectRatio.R9_16,
        negative_prompt="blur",
        motion_mode="fast",
        seed=0,
        style="anime",
        template_id=302325299692608,
        camera_movement="zoom_in",
        sound_effect_switch=True,
        sound_effect_content="rain",
        lip_sync_switch=True,
        lip_sync_tts_speaker_id="Auto",
        lip_sync_tts_content="hello",
    )
    body = to_json(req)
    assert body == {
        "prompt": "a cat",
        "model": "v3.5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "9:16",
        "negative_prompt": "blur",
        "motion_mode": "fast",
        "seed": 0,
        "style": "anime",
        "template_id": 302325299692608,
        "camera_movement": "zoom_in",
        "sound_effect_switch": True,
        "sound_effect_content": "rain",
        "lip_sync_switch": True,
        "lip_sync_tts_speaker_id": "Auto",
        "lip_sync_tts_content": "hello",
    }
    # enums become plain strings, booleans stay booleans
    assert all(type(body[k]) is str for k in ("model", "quality", "motion_mode", "style"))
    assert body["sound_effect_switch"] is True and body["lip_sync_switch"] is True


def test_enum_fields_accept_enum_or_string() -> None:
    a = build(TextToVideo, model=Model.V4, quality=Quality.P720, aspect_ratio=AspectRatio.R1_1)
    b = build(TextToVideo, model="v4", quality="720p", aspect_ratio="1:1")
    assert a == b
    assert a.model is Model.V4 and a.quality is Quality.P720 and a.aspect_ratio is AspectRatio.R1_1


def test_false_switches_are_sent_as_false() -> None:
    body = to_json(build(Transition, sound_effect_switch=False, lip_sync_switch=False))
    assert body["sound_effect_switch"] is False and body["lip_sync_switch"] is False


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        (
            build(ImageToVideo, img_id=None, img_ids=[1, 2], template_id=5),
            {
                "prompt": "the cat yawns",
                "model": "v4.5",
                "duration": 5,
                "quality": "540p",
                "img_ids": [1, 2],
                "template_id": 5,
            },
        ),
        (
            build(Transition, motion_mode=DROP, seed=7),
            {
                "prompt": "transform into a puppy",
                "model": "v5",
                "duration": 5,
                "quality": "540p",
                "first_frame_img": 1,
                "last_frame_img": 2,
                "seed": 7,
            },
        ),
        (
            MultiTransition(
                model="v5",
                quality="360p",
                multi_transition=[
                    MultiTransitionFrame(img_id=1, duration=3, prompt="a"),
                    {"img_id": 2, "duration": 4},
                    {"img_id": 3, "prompt": "c"},
                ],
            ),
            {
                "multi_transition": [
                    {"img_id": 1, "duration": 3, "prompt": "a"},
                    {"img_id": 2, "duration": 4},
                    {"img_id": 3, "prompt": "c"},
                ],
                "model": "v5",
                "quality": "360p",
            },
        ),
        (
            build(Extend, source_video_id=DROP, video_media_id=4, motion_mode="normal"),
            {
                "video_media_id": 4,
                "prompt": "across the universe",
                "seed": 123123,
                "quality": "540p",
                "duration": 5,
                "model": "v4.5",
                "motion_mode": "normal",
            },
        ),
        (
            build(Fusion),
            {
                "image_references": [
                    {"type": "subject", "img_id": 1, "ref_name": "dog"},
                    {"type": "background", "img_id": 2, "ref_name": "room"},
                ],
                "prompt": "@dog plays at @room",
                "model": "v4.5",
                "duration": 5,
                "quality": "540p",
                "aspect_ratio": "16:9",
                "seed": 123456789,
            },
        ),
        (
            Restyle(video_media_id=4, restyle_prompt="as a watercolour", seed=1),
            {"video_media_id": 4, "restyle_prompt": "as a watercolour", "seed": 1},
        ),
        (
            MaskSelection(source_video_id=3, keyframe_id=12),
            {"source_video_id": 3, "keyframe_id": 12},
        ),
        (
            build(Swap),
            {
                "video_media_id": 3,
                "keyframe_id": 1,
                "mask_id": "12",
                "img_id": 4,
                "quality": "360p",
            },
        ),
        (
            build(Swap, keyframe_id=5, video_media_id=DROP, source_video_id=8),
            {
                "source_video_id": 8,
                "keyframe_id": 5,
                "mask_id": "12",
                "img_id": 4,
                "quality": "360p",
            },
        ),
        (build(LipSync), {"source_video_id": 1, "audio_media_id": 2}),
        (
            LipSync(video_media_id=1, lip_sync_tts_speaker_id="7", lip_sync_tts_content="hi"),
            {"video_media_id": 1, "lip_sync_tts_speaker_id": "7", "lip_sync_tts_content": "hi"},
        ),
        (
            SoundEffect(video_media_id=8, original_sound_switch=False, sound_effect_content=""),
            {"video_media_id": 8, "original_sound_switch": False, "sound_effect_content": ""},
        ),
    ],
)
def test_exact_json(req: GenerationRequest, expected: dict[str, Any]) -> None:
    body = to_json(req)
    assert body == expected  # key order is not part of JSON (cattrs puts always-sent keys first)
    assert None not in body.values()
    assert converter.unstructure(req) == expected


def test_to_json_rejects_non_requests() -> None:
    with pytest.raises(TypeError):
        to_json(object())  # type: ignore[arg-type]


def test_to_json_handles_user_subclasses() -> None:
    @attrs.frozen(kw_only=True)
    class MyTextToVideo(TextToVideo):
        pass

    req = MyTextToVideo(**BASE[TextToVideo])
    assert to_json(req) == to_json(build(TextToVideo))


def test_evolve_revalidates() -> None:
    req = build(TextToVideo)
    assert attrs.evolve(req, seed=5).seed == 5
    with pytest.raises(ValidationError):
        attrs.evolve(req, seed=-1)


def test_to_json_is_fast() -> None:
    req = build(TextToVideo, negative_prompt="x", seed=3, camera_movement="zoom_in")
    n = 2000
    per_call = timeit.timeit(lambda: to_json(req), number=n) / n
    assert per_call < 20e-6  # measured about 0.5 µs; generous bound for slow CI


# --- every rule has a failing case naming the field --------------------------------------------

LONG = "x" * (Limits.PROMPT_MAX_CHARS + 1)
TTS_LONG = "y" * (Limits.TTS_CONTENT_MAX_CHARS + 1)

CASES: list[tuple[type[Any], dict[str, Any], str]] = [
    # prompt and negative prompt
    (TextToVideo, {"prompt": LONG}, "prompt"),
    (TextToVideo, {"prompt": ""}, "prompt"),
    (TextToVideo, {"prompt": "   "}, "prompt"),
    (TextToVideo, {"prompt": 123}, "prompt"),
    (TextToVideo, {"prompt": None}, "prompt"),
    (TextToVideo, {"negative_prompt": LONG}, "negative_prompt"),
    (TextToVideo, {"negative_prompt": b"bytes"}, "negative_prompt"),
    # model
    (TextToVideo, {"model": ""}, "model"),
    (TextToVideo, {"model": 5}, "model"),
    (TextToVideo, {"model": "v 6"}, "model"),
    (TextToVideo, {"model": " v6"}, "model"),
    (TextToVideo, {"model": None}, "model"),
    (TextToVideo, {"model": "v" * 65}, "model"),
    # duration
    (TextToVideo, {"duration": 6}, "duration"),
    (TextToVideo, {"duration": 10}, "duration"),
    (TextToVideo, {"duration": 0}, "duration"),
    (TextToVideo, {"duration": True}, "duration"),
    (TextToVideo, {"duration": "5"}, "duration"),
    (TextToVideo, {"duration": 5.0}, "duration"),
    (TextToVideo, {"duration": 8, "quality": "1080p"}, "duration"),
    # quality and aspect ratio
    (TextToVideo, {"quality": 540}, "quality"),
    (TextToVideo, {"quality": Style.ANIME}, "quality"),
    # motion mode
    (TextToVideo, {"model": "v4.5", "motion_mode": "fast", "duration": 8}, "motion_mode"),
    (TextToVideo, {"model": "v4.5", "motion_mode": "fast", "quality": "1080p"}, "motion_mode"),
    (TextToVideo, {"model": "v5", "motion_mode": "normal"}, "motion_mode"),
    # style
    (TextToVideo, {"model": "v5", "style": "anime"}, "style"),
    # seed
    (TextToVideo, {"seed": -1}, "seed"),
    (TextToVideo, {"seed": 2147483648}, "seed"),
    (TextToVideo, {"seed": "x"}, "seed"),
    (TextToVideo, {"seed": True}, "seed"),
    (TextToVideo, {"seed": 1.5}, "seed"),
    # ids
    (TextToVideo, {"template_id": 0}, "template_id"),
    (TextToVideo, {"template_id": -5}, "template_id"),
    (TextToVideo, {"template_id": True}, "template_id"),
    (TextToVideo, {"template_id": 2**64}, "template_id"),
    (TextToVideo, {"aspect_ratio": 16}, "aspect_ratio"),
    (TextToVideo, {"thinking_type": "deep thought"}, "thinking_type"),
    (TextToVideo, {"webhook_id": 1234}, "webhook_id"),
    (TextToVideo, {"generate_audio_switch": "on"}, "generate_audio_switch"),
    (TextToVideo, {"model": "v5", "generate_audio_switch": True}, "generate_audio_switch"),
    (TextToVideo, {"model": "v4.5", "thinking_type": "auto"}, "thinking_type"),
    (TextToVideo, {"model": "v5.5", "duration": 10, "quality": "1080p"}, "duration"),
    (TextToVideo, {"model": "v5.5", "duration": 12}, "duration"),
    (TextToVideo, {"extra_body": {"prompt": "y"}}, "extra_body.prompt"),
    (TextToVideo, {"extra_body": {1: "y"}}, "extra_body"),
    (TextToVideo, {"extra_body": {"ratio": float("nan")}}, "extra_body.ratio"),
    (TextToVideo, {"extra_body": {"when": object()}}, "extra_body.when"),
    (TextToVideo, {"timeout": -1}, "timeout"),
    (TextToVideo, {"max_retries": -1}, "max_retries"),
    (TextToVideo, {"extra_headers": {"X": 1}}, "extra_headers['X']"),
    (TextToVideo, {"extra_headers": {"API-KEY": "other"}}, "extra_headers['API-KEY']"),
    (TextToVideo, {"template_id": "302325299692608"}, "template_id"),
    # camera movement
    # sound effect and lip sync on a generation page
    (TextToVideo, {"sound_effect_switch": "true"}, "sound_effect_switch"),
    (TextToVideo, {"sound_effect_switch": 1}, "sound_effect_switch"),
    (TextToVideo, {"sound_effect_content": "rain"}, "sound_effect_switch"),
    (TextToVideo, {"sound_effect_switch": True, "sound_effect_content": 3}, "sound_effect_content"),
    (TextToVideo, {"lip_sync_switch": "true"}, "lip_sync_switch"),
    (TextToVideo, {"lip_sync_switch": True}, "lip_sync_tts_speaker_id"),
    (
        TextToVideo,
        {"lip_sync_switch": True, "lip_sync_tts_speaker_id": "Auto"},
        "lip_sync_tts_content",
    ),
    (
        TextToVideo,
        {"lip_sync_tts_content": "hi", "lip_sync_tts_speaker_id": "1"},
        "lip_sync_switch",
    ),
    (
        TextToVideo,
        {"lip_sync_switch": False, "lip_sync_tts_content": "hi", "lip_sync_tts_speaker_id": "1"},
        "lip_sync_switch",
    ),
    (
        TextToVideo,
        {"lip_sync_switch": True, "lip_sync_tts_speaker_id": "1", "lip_sync_tts_content": TTS_LONG},
        "lip_sync_tts_content",
    ),
    (
        TextToVideo,
        {"lip_sync_switch": True, "lip_sync_tts_speaker_id": "", "lip_sync_tts_content": "hi"},
        "lip_sync_tts_speaker_id",
    ),
    # image to video
    (ImageToVideo, {"img_ids": [1, 2], "template_id": 5}, "img_id"),
    (ImageToVideo, {"img_id": DROP}, "img_id"),
    (ImageToVideo, {"img_id": None}, "img_id"),
    (ImageToVideo, {"img_id": DROP, "img_ids": [1, 2]}, "img_ids"),
    (ImageToVideo, {"img_id": DROP, "img_ids": [], "template_id": 5}, "img_ids"),
    (ImageToVideo, {"img_id": DROP, "img_ids": [0], "template_id": 5}, "img_ids[0]"),
    (ImageToVideo, {"img_id": DROP, "img_ids": [1, True], "template_id": 5}, "img_ids[1]"),
    (ImageToVideo, {"img_id": DROP, "img_ids": "12", "template_id": 5}, "img_ids"),
    (ImageToVideo, {"img_id": True}, "img_id"),
    (ImageToVideo, {"img_id": 0}, "img_id"),
    (ImageToVideo, {"img_id": 2**64}, "img_id"),
    (ImageToVideo, {"style": "anime"}, "style"),
    (ImageToVideo, {"duration": 8, "quality": "1080p"}, "duration"),
    (ImageToVideo, {"camera_movement": 3}, "camera_movement"),
    (ImageToVideo, {"lip_sync_switch": True}, "lip_sync_tts_speaker_id"),
    # transition
    (Transition, {"first_frame_img": 0}, "first_frame_img"),
    (Transition, {"last_frame_img": "1"}, "last_frame_img"),
    (Transition, {"sound_effect_switch": "true"}, "sound_effect_switch"),
    (Transition, {"motion_mode": "normal"}, "motion_mode"),
    (Transition, {"duration": 7}, "duration"),
    (Transition, {"seed": 2**31}, "seed"),
    (Transition, {"prompt": LONG}, "prompt"),
    (Transition, {"lip_sync_tts_content": "hi"}, "lip_sync_switch"),
    # multi transition
    (MultiTransition, {"multi_transition": frames(3)}, "multi_transition"),
    (MultiTransition, {"multi_transition": frames(1, 1, 1, 1, 1, 1, 1, None)}, "multi_transition"),
    (MultiTransition, {"multi_transition": frames(None, None)}, "multi_transition[0].duration"),
    (MultiTransition, {"multi_transition": frames(3, None, None)}, "multi_transition[1].duration"),
    (MultiTransition, {"multi_transition": frames(10, 10, 11, None)}, "multi_transition"),
    (MultiTransition, {"multi_transition": frames(0, None)}, "multi_transition[0].duration"),
    (MultiTransition, {"multi_transition": frames(True, None)}, "multi_transition[0].duration"),
    (
        MultiTransition,
        {"multi_transition": [{"img_id": 1, "duration": 3}, {"img_id": 0}]},
        "multi_transition[1].img_id",
    ),
    (
        MultiTransition,
        {"multi_transition": [{"img_id": 1, "duration": 3}, {"duration": 2}]},
        "multi_transition[1].img_id",
    ),
    (
        MultiTransition,
        {"multi_transition": [{"img_id": 1, "duration": 3, "foo": 1}, {"img_id": 2}]},
        "multi_transition[0].foo",
    ),
    (
        MultiTransition,
        {"multi_transition": [{"img_id": 1, "duration": 3, "prompt": LONG}, {"img_id": 2}]},
        "multi_transition[0].prompt",
    ),
    (MultiTransition, {"multi_transition": [5, {"img_id": 2}]}, "multi_transition[0]"),
    (MultiTransition, {"multi_transition": "abc"}, "multi_transition"),
    (MultiTransition, {"multi_transition": None}, "multi_transition"),
    (MultiTransition, {"model": 4}, "model"),
    # extend
    (Extend, {"video_media_id": 4}, "source_video_id"),
    (Extend, {"source_video_id": DROP}, "source_video_id"),
    (Extend, {"source_video_id": 0}, "source_video_id"),
    (Extend, {"seed": None}, "seed"),
    (Extend, {"style": "anime"}, "style"),
    (Extend, {"motion_mode": "fast", "duration": 8}, "motion_mode"),
    (Extend, {"model": "v5", "motion_mode": "normal"}, "motion_mode"),
    (Extend, {"duration": 8, "quality": "1080p"}, "duration"),
    (Extend, {"prompt": ""}, "prompt"),
    # fusion
    (Fusion, {"image_references": []}, "image_references"),
    (Fusion, {"image_references": None}, "image_references"),
    (
        Fusion,
        {
            "image_references": [
                {"type": "subject", "img_id": 1, "ref_name": "dog"},
                {"type": "background", "img_id": 2, "ref_name": "dog"},
            ]
        },
        "image_references[1].ref_name",
    ),
    (Fusion, {"prompt": "@dog plays"}, "prompt"),
    (Fusion, {"prompt": "@dog plays at @roomy"}, "prompt"),
    (Fusion, {"prompt": "dog plays at room"}, "prompt"),
    (
        Fusion,
        {"image_references": [{"type": 7, "img_id": 1, "ref_name": "dog"}]},
        "image_references[0].type",
    ),
    (
        Fusion,
        {"image_references": [{"type": "subject", "img_id": 1, "ref_name": "my dog"}]},
        "image_references[0].ref_name",
    ),
    (
        Fusion,
        {"image_references": [{"type": "subject", "img_id": 1, "ref_name": ""}]},
        "image_references[0].ref_name",
    ),
    (
        Fusion,
        {"image_references": [{"type": "subject", "img_id": -1, "ref_name": "dog"}]},
        "image_references[0].img_id",
    ),
    (
        Fusion,
        {"image_references": [{"type": "subject", "img_id": 1}]},
        "image_references[0].ref_name",
    ),
    (Fusion, {"image_references": ["dog"]}, "image_references[0]"),
    (Fusion, {"seed": None}, "seed"),
    (Fusion, {"duration": 8, "quality": "1080p"}, "duration"),
    # restyle
    (Restyle, {"restyle_prompt": "anime"}, "restyle_id"),
    (Restyle, {"restyle_id": DROP}, "restyle_id"),
    (Restyle, {"restyle_id": DROP, "restyle_prompt": LONG}, "restyle_prompt"),
    (Restyle, {"restyle_id": DROP, "restyle_prompt": " "}, "restyle_prompt"),
    (Restyle, {"video_media_id": 3}, "source_video_id"),
    (Restyle, {"source_video_id": DROP}, "source_video_id"),
    (Restyle, {"seed": -3}, "seed"),
    # mask selection
    (MaskSelection, {"keyframe_id": 0}, "keyframe_id"),
    (MaskSelection, {"keyframe_id": "1"}, "keyframe_id"),
    (MaskSelection, {"video_media_id": DROP}, "source_video_id"),
    (MaskSelection, {"source_video_id": 2}, "source_video_id"),
    # swap
    (Swap, {"quality": "1080p"}, "quality"),
    (Swap, {"mask_id": ""}, "mask_id"),
    (Swap, {"mask_id": 12}, "mask_id"),
    (Swap, {"keyframe_id": 0}, "keyframe_id"),
    (Swap, {"keyframe_id": None}, "keyframe_id"),
    (Swap, {"img_id": None}, "img_id"),
    (Swap, {"video_media_id": DROP}, "source_video_id"),
    (Swap, {"source_video_id": 1}, "source_video_id"),
    # lip sync
    (LipSync, {"lip_sync_tts_speaker_id": "1", "lip_sync_tts_content": "hi"}, "audio_media_id"),
    (LipSync, {"audio_media_id": DROP}, "audio_media_id"),
    (LipSync, {"audio_media_id": DROP, "lip_sync_tts_speaker_id": "1"}, "lip_sync_tts_content"),
    (LipSync, {"audio_media_id": DROP, "lip_sync_tts_content": "hi"}, "lip_sync_tts_speaker_id"),
    (
        LipSync,
        {"audio_media_id": DROP, "lip_sync_tts_speaker_id": "1", "lip_sync_tts_content": TTS_LONG},
        "lip_sync_tts_content",
    ),
    (
        LipSync,
        {"audio_media_id": DROP, "lip_sync_tts_speaker_id": "1", "lip_sync_tts_content": ""},
        "lip_sync_tts_content",
    ),
    (LipSync, {"audio_media_id": True}, "audio_media_id"),
    (LipSync, {"video_media_id": 1}, "source_video_id"),
    (LipSync, {"source_video_id": DROP}, "source_video_id"),
    # sound effect
    (SoundEffect, {"original_sound_switch": "yes"}, "original_sound_switch"),
    (SoundEffect, {"sound_effect_content": 5}, "sound_effect_content"),
    (SoundEffect, {"source_video_id": DROP}, "source_video_id"),
    (SoundEffect, {"video_media_id": 1}, "source_video_id"),
]


@pytest.mark.parametrize(("cls", "overrides", "field"), CASES)
def test_rule_violation_names_the_field(
    cls: type[Any], overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        build(cls, **overrides)
    assert field in info.value.field.split(", ")  # several missing fields are named at once
    assert info.value.rule  # says which rule, in words
    assert str(info.value).startswith(f"{info.value.field}: ")
    assert isinstance(info.value, ValueError)


def test_length_messages_give_limit_and_actual() -> None:
    with pytest.raises(ValidationError) as info:
        build(TextToVideo, prompt="x" * 2050)
    assert info.value.rule == "at most 2048 characters (got 2050)"
    with pytest.raises(ValidationError) as info:
        build(TextToVideo, prompt="x", negative_prompt="y" * 2049)
    assert info.value.rule == "at most 2048 characters (got 2049)"


@pytest.mark.parametrize(
    ("cls", "overrides"),
    [
        (TextToVideo, {"prompt": "x" * 2048, "negative_prompt": "y" * 2048}),
        (TextToVideo, {"seed": 0}),
        (TextToVideo, {"seed": 2147483647}),
        (TextToVideo, {"template_id": 2**63 - 1}),
        (TextToVideo, {"model": "v4.5", "motion_mode": "fast", "duration": 5, "quality": "720p"}),
        (TextToVideo, {"quality": "1080p", "duration": 5}),
        (TextToVideo, {"model": "v3.5", "style": "3d_animation", "duration": 8}),
        (TextToVideo, {"sound_effect_switch": True}),
        (ImageToVideo, {"img_id": None, "img_ids": (1, 1), "template_id": 9}),
        (MultiTransition, {"multi_transition": frames(1, None)}),
        (MultiTransition, {"multi_transition": frames(10, 10, 10)}),
        (MultiTransition, {"multi_transition": frames(1, 1, 1, 1, 1, 1, None)}),
        (Fusion, {"prompt": "@dog, then @room."}),
        (
            Fusion,
            {"image_references": [ImageReference(type="subject", img_id=1, ref_name="dog")]},
        ),
        (Swap, {"keyframe_id": 30}),
        (
            LipSync,
            {
                "audio_media_id": None,
                "lip_sync_tts_speaker_id": "Auto",
                "lip_sync_tts_content": "z" * 140,
            },
        ),
    ],
)
def test_boundary_values_are_accepted(cls: type[Any], overrides: dict[str, Any]) -> None:
    to_json(build(cls, **overrides))


# --- models the SDK does not know ---------------------------------------------------------------


def test_unknown_model_passes_through_with_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pixverse_async"):
        req = build(TextToVideo, model="v9")
    assert req.model == "v9" and not isinstance(req.model, Model)
    assert to_json(req)["model"] == "v9"
    records = [r for r in caplog.records if r.name == "pixverse_async" and "v9" in r.getMessage()]
    assert records and records[0].levelno == logging.DEBUG


@pytest.mark.parametrize(
    "overrides",
    [
        {"style": "anime"},  # style only on v3.5
        {"motion_mode": "normal"},  # no motion mode on v5
        {"duration": 10},  # durations 5 or 8 are per known model
        {"motion_mode": "fast", "style": "clay", "duration": 8, "quality": "1080p"},
        {"generate_audio_switch": True, "thinking_type": "auto"},
    ],
)
def test_unknown_model_skips_only_model_specific_checks(overrides: dict[str, Any]) -> None:
    for model in ("c1", "v9"):
        build(TextToVideo, model=model, **overrides)
        build(
            Extend,
            model=model,
            **{k: v for k, v in overrides.items() if k in attrs.fields_dict(Extend)},
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"prompt": LONG}, "prompt"),
        ({"seed": -1}, "seed"),
        ({"duration": 0}, "duration"),
        ({"quality": 4}, "quality"),
        ({"style": "water color"}, "style"),
    ],
)
def test_unknown_model_keeps_every_other_check(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build(TextToVideo, model="c1", **overrides)
    assert info.value.field == field


def test_known_model_string_converts_without_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pixverse_async"):
        req = build(TextToVideo, model="v4.5")
    assert req.model is Model.V4_5
    assert not [r for r in caplog.records if "not known" in r.getMessage()]


# --- registry and building from mappings --------------------------------------------------------


def test_request_kinds_cover_every_generation_endpoint() -> None:
    expected = {
        "text_to_video": (TextToVideo, Paths.TEXT_TO_VIDEO),
        "image_to_video": (ImageToVideo, Paths.IMAGE_TO_VIDEO),
        "transition": (Transition, Paths.TRANSITION),
        "multi_transition": (MultiTransition, Paths.MULTI_TRANSITION),
        "extend": (Extend, Paths.EXTEND),
        "fusion": (Fusion, Paths.FUSION),
        "restyle": (Restyle, Paths.RESTYLE),
        "swap": (Swap, Paths.SWAP),
        "lip_sync": (LipSync, Paths.LIP_SYNC),
        "sound_effect": (SoundEffect, Paths.SOUND_EFFECT),
        "mimic": (Mimic, Paths.MIMIC),
        "modify": (Modify, Paths.VIDEO_MODIFY),
    }
    assert set(REQUEST_KINDS) == set(expected)
    for kind, (cls, path) in expected.items():
        assert REQUEST_KINDS[kind] is cls
        assert cls.kind == kind and cls.path == path
        assert issubclass(cls, GenerationRequest)
    # a paid request, but not a generation: no run-time refusal needed anywhere
    assert issubclass(MaskSelection, PaidRequest)
    assert not issubclass(MaskSelection, GenerationRequest)


@pytest.mark.parametrize("cls", [c for c in BASE if c is not MaskSelection])
def test_build_request_from_mapping(cls: type[Any]) -> None:
    req = build_request({"kind": cls.kind, **BASE[cls]})
    assert req == build(cls)
    assert converter.structure(BASE[cls], cls) == req


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"prompt": "x"}, "kind"),
        ({"kind": "text_to_image"}, "kind"),
        ({"kind": 3}, "kind"),
        ({"kind": "sound_effect", "source_video_id": 1, "colour": "red"}, "colour"),
        ({"kind": "mask_selection", "source_video_id": 1}, "kind"),
        ({"kind": "text_to_video", **{**BASE[TextToVideo], "prompt": DROP}}, "prompt"),
        ({"kind": "extend", **{**BASE[Extend], "seed": DROP}}, "seed"),
        ({"kind": "swap", "video_media_id": 1, "quality": "540p"}, "mask_id, img_id"),
    ],
)
def test_build_request_errors(data: dict[str, Any], field: str) -> None:
    data = {k: v for k, v in data.items() if v is not DROP}
    with pytest.raises(ValidationError) as info:
        build_request(data)
    assert info.value.field == field


def test_build_request_rejects_non_mappings() -> None:
    with pytest.raises(ValidationError):
        build_request(["text_to_video"])  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        converter.structure([1, 2], TextToVideo)


def test_page_queries() -> None:
    assert SpeakerListQuery().to_params() == {"page_num": "1", "page_size": "20"}
    assert SpeakerListQuery.path == Paths.TTS_LIST
    assert RestyleListQuery.path == Paths.RESTYLE_LIST
    assert converter.unstructure(RestyleListQuery(page_num=2, page_size=5)) == {
        "page_num": "2",
        "page_size": "5",
    }
    for bad in ({"page_num": 0}, {"page_size": 0}, {"page_size": True}, {"page_num": "1"}):
        with pytest.raises(ValidationError) as info:
            SpeakerListQuery(**bad)
        assert info.value.field in bad


# --- JSON bodies against the spec's request schemas -------------------------------------------

# Full requests (every optional field the page has) so each key is checked against the spec.
SCHEMA_SAMPLES: list[GenerationRequest] = [
    *(build(cls) for cls in BASE if cls is not Modify),  # modify is beyond the spec pages
    build(
        TextToVideo,
        model="v3.5",
        negative_prompt="blur",
        motion_mode="fast",
        seed=0,
        style="clay",
        template_id=302325299692608,
        camera_movement="pan_left",
        sound_effect_switch=True,
        sound_effect_content="rain",
        lip_sync_switch=True,
        lip_sync_tts_speaker_id="Auto",
        lip_sync_tts_content="hello",
    ),
    build(
        ImageToVideo,
        model="v3.5",
        negative_prompt="blur",
        motion_mode="normal",
        seed=1,
        style="comic",
        template_id=7,
        camera_movement="zoom_out",
        sound_effect_switch=False,
        lip_sync_switch=True,
        lip_sync_tts_speaker_id="7",
        lip_sync_tts_content="hi",
    ),
    build(ImageToVideo, img_id=None, img_ids=[1, 2, 3], template_id=7),
    build(
        Transition,
        model="v4",
        motion_mode="normal",
        seed=5,
        sound_effect_switch=True,
        sound_effect_content="wind",
        lip_sync_switch=True,
        lip_sync_tts_speaker_id="Auto",
        lip_sync_tts_content="hello",
    ),
    build(
        MultiTransition,
        multi_transition=[{"img_id": 1, "duration": 3, "prompt": "a"}] * 6
        + [{"img_id": 2, "duration": 2, "prompt": "b"}],
    ),
    build(
        Extend,
        source_video_id=None,
        video_media_id=3,
        model="v3.5",
        style="anime",
        motion_mode="normal",
    ),
    Restyle(video_media_id=1, restyle_prompt="noir", seed=3),
    MaskSelection(source_video_id=1, keyframe_id=4),
    Swap(source_video_id=1, keyframe_id=2, mask_id="m", img_id=5, quality="720p"),
    LipSync(video_media_id=1, lip_sync_tts_speaker_id="7", lip_sync_tts_content="hey"),
    SoundEffect(video_media_id=2, original_sound_switch=True, sound_effect_content="birds"),
]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with spec_file("openapi.yaml").open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def corrected_schema(spec: dict[str, Any], req: GenerationRequest) -> dict[str, Any]:
    """The page's request schema with the corrections the API notes make, closed to extra keys."""
    operation = spec["paths"][req.path]["post"]
    schema: dict[str, Any] = copy.deepcopy(
        operation["requestBody"]["content"]["application/json"]["schema"]
    )
    props = schema["properties"]
    if isinstance(req, Transition):
        # the API notes: the transition page lists the sound-effect and lip-sync fields as required
        # and types the switches as strings; they are optional and the switches are booleans,
        # as on every other generation page.
        for name in ("sound_effect_switch", "lip_sync_switch"):
            props[name]["type"] = "boolean"
        optional = {
            "sound_effect_switch",
            "sound_effect_content",
            "lip_sync_switch",
            "lip_sync_tts_content",
            "lip_sync_tts_speaker_id",
        }
        schema["required"] = [n for n in schema["required"] if n not in optional]
    if isinstance(req, (TextToVideo, ImageToVideo)):
        # the API notes: camera_movement (only in the page's example) is a real optional field.
        props["camera_movement"] = {"type": "string", "enum": list(Vocab.CAMERA_MOVEMENTS)}
    if isinstance(req, ImageToVideo) and req.img_ids is not None:
        # The page: img_ids replaces img_id for multi-image templates (exactly one is sent).
        schema["required"] = [n for n in schema["required"] if n != "img_id"]
    if isinstance(req, MultiTransition):
        # the API notes: every frame but the last has a duration (the item schema: all of them).
        items = props["multi_transition"]["items"]
        items["required"] = [n for n in items["required"] if n != "duration"]
        items["additionalProperties"] = False
    if isinstance(req, Fusion):
        props["image_references"]["items"]["additionalProperties"] = False
    schema["additionalProperties"] = False  # catches a misspelt or invented key
    return schema


@pytest.mark.parametrize("req", SCHEMA_SAMPLES, ids=lambda r: type(r).__name__)
def test_json_matches_the_spec_request_schema(spec: dict[str, Any], req: GenerationRequest) -> None:
    body = to_json(req)
    jsonschema.validate(body, corrected_schema(spec, req))
    if isinstance(req, MultiTransition):
        assert all("duration" in f for f in body["multi_transition"][:-1])


def test_schema_check_catches_bad_bodies(spec: dict[str, Any]) -> None:
    req = build(TextToVideo)
    schema = corrected_schema(spec, req)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**to_json(req), "seed": "7"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**to_json(req), "sead": 7}, schema)


def test_spec_response_examples_structure(spec: dict[str, Any]) -> None:
    def example(path: str, method: str) -> Any:
        content = spec["paths"][path][method]["responses"]["200"]["content"]
        return content["application/json"]["example"]["Resp"]

    page = from_json(SpeakerPage, example(Paths.TTS_LIST, "get"))
    assert page.total == 15 and page.data[-1] == Speaker(speaker_id="Auto", name="Auto")
    media = from_json(MediaUpload, example(Paths.MEDIA_UPLOAD, "post"))
    assert media.media_type == "audio"


# --- responses ----------------------------------------------------------------------------------

VIDEO_JSON = {
    "id": 330,
    "status": 1,
    "url": "https://media.pixverse.ai/v.mp4",
    "outputWidth": 960,
    "outputHeight": 540,
    "size": 1234567,
    "seed": 42,
    "style": "",
    "prompt": "a cat",
    "negative_prompt": "",
    "resolution_ratio": 540,
    "create_time": "2025-01-01 00:00:00",
    "modify_time": "2025-01-01 00:01:00",
}


def test_video_full() -> None:
    video = from_json(Video, {**VIDEO_JSON, "brand_new_field": {"x": 1}})
    assert video == Video(
        id=330,
        status=VideoStatus.SUCCESSFUL,
        url="https://media.pixverse.ai/v.mp4",
        output_width=960,
        output_height=540,
        size=1234567,
        seed=42,
        style="",
        prompt="a cat",
        negative_prompt="",
        resolution_ratio=540,
        create_time="2025-01-01 00:00:00",
        modify_time="2025-01-01 00:01:00",
    )
    assert video.status is VideoStatus.SUCCESSFUL
    assert video.is_done and video.is_successful and not video.is_failed
    assert video.video_id == 330


@pytest.mark.parametrize(
    ("status", "done", "failed"),
    [(5, False, False), (6, True, True), (7, True, True), (8, True, True), (42, False, False)],
)
def test_video_status_properties(status: int, done: bool, failed: bool) -> None:
    video = from_json(Video, {"id": 1, "status": status, "url": None})
    assert video.status == status and isinstance(video.status, VideoStatus)
    assert video.is_done is done and video.is_failed is failed
    assert video.url is None and video.output_width is None


@pytest.mark.parametrize(
    ("cls", "data", "expected"),
    [
        (GenerationResult, {"video_id": 1}, GenerationResult(video_id=1)),
        (
            GenerationResult,
            {"video_id": 1, "credits": 45, "extra": "x"},
            GenerationResult(video_id=1, credits=45),
        ),
        (ImageUpload, {"img_id": 5, "img_url": "u", "w": 1}, ImageUpload(img_id=5, img_url="u")),
        (
            MediaUpload,
            {"media_id": 5, "media_type": "video", "url": "u"},
            MediaUpload(media_id=5, media_type="video", url="u"),
        ),
        (
            MaskSelectionResult,
            {
                "keyframe_id": 1,
                "keyframe_url": "k",
                "credits": 5,
                "mask_info": [{"mask_id": "9", "mask_name": "cat", "mask_url": "m", "z": 0}],
            },
            MaskSelectionResult(
                keyframe_id=1,
                keyframe_url="k",
                credits=5,
                mask_info=(MaskInfo(mask_id="9", mask_name="cat", mask_url="m"),),
            ),
        ),
        (
            SpeakerPage,
            {"total": 1, "data": [{"speaker_id": "7", "name": "Harper"}]},
            SpeakerPage(total=1, data=(Speaker(speaker_id="7", name="Harper"),)),
        ),
        (
            RestylePage,
            {"total": 1, "data": [{"restyle_id": 3, "name": "Clay", "thumbnail": "t"}]},
            RestylePage(total=1, data=(RestyleEffect(restyle_id=3, name="Clay", thumbnail="t"),)),
        ),
        (Balance, {}, Balance()),
        (
            Balance,
            {"account_id": 1, "credit_monthly": 10, "credit_package": 0},
            Balance(account_id=1, credit_monthly=10, credit_package=0),
        ),
        (GenerationResult, {"video_id": 1.0}, GenerationResult(video_id=1)),
    ],
)
def test_responses_structure(cls: type[Any], data: dict[str, Any], expected: Any) -> None:
    assert from_json(cls, data) == expected


def test_loosely_documented_responses_keep_extra_fields() -> None:
    effect = from_json(
        RestyleEffect,
        {"restyle_id": 3, "restyle_name": "Clay", "web_thumbnail_url": "w", "marker": "new"},
    )
    assert effect.name == "Clay" and effect.thumbnail == "w"
    assert effect.extra == {"marker": "new"}
    balance = from_json(Balance, {"account_id": 1, "credit_daily": 3})
    assert balance.account_id == 1 and balance.extra == {"credit_daily": 3}
    assert hash(balance) == hash(Balance(account_id=1))  # extra is out of the hash


@pytest.mark.parametrize(
    ("cls", "data", "message"),
    [
        (GenerationResult, {"credits": 1}, "missing field 'video_id' in GenerationResult"),
        (Video, {"id": 1}, "missing field 'status' in Video"),
        (Video, {"status": 1}, "missing field 'id' in Video"),
        (ImageUpload, {"img_id": 1}, "missing field 'img_url' in ImageUpload"),
        (
            MaskSelectionResult,
            {
                "keyframe_id": 1,
                "keyframe_url": "k",
                "mask_info": [{"mask_id": "9", "mask_name": "cat"}],
            },
            "missing field 'mask_url' in MaskSelectionResult.mask_info[0]",
        ),
        (SpeakerPage, {"total": 1, "data": [{"name": "x"}]}, "'speaker_id'"),
        (RestylePage, {"total": 1, "data": [{"name": "x"}]}, "'restyle_id'"),
        (GenerationResult, {"video_id": "1"}, "field 'video_id' in GenerationResult"),
        (GenerationResult, {"video_id": True}, "field 'video_id'"),
        (GenerationResult, {"video_id": None}, "field 'video_id'"),
        (GenerationResult, {"video_id": 1.5}, "field 'video_id'"),
        (Video, {"id": 1, "status": "1"}, "field 'status' in Video"),
        (Video, {"id": 1, "status": True}, "field 'status' in Video"),
        (Video, {"id": 1, "status": 1, "outputWidth": "960"}, "field 'outputWidth' in Video"),
        (Video, {"id": 1, "status": 1, "url": 3}, "field 'url' in Video"),
        (
            MaskSelectionResult,
            {"keyframe_id": 1, "keyframe_url": "k", "mask_info": "x"},
            "mask_info",
        ),
        (MaskInfo, {"mask_id": 9, "mask_name": "a", "mask_url": "b"}, "field 'mask_id'"),
        (SpeakerPage, {"total": 1, "data": [3]}, "SpeakerPage.data[0]"),
        (SpeakerPage, {"total": 1, "data": {"a": 1}}, "field 'data'"),
        (Video, [], "Video"),
        (Video, None, "Video"),
        (Balance, "x", "Balance"),
        (RestyleEffect, {"restyle_id": 1, "name": 5}, "field 'name'"),
    ],
)
def test_bad_responses_raise_decoding_error(cls: type[Any], data: Any, message: str) -> None:
    with pytest.raises(ResponseDecodingError) as info:
        from_json(cls, data)
    assert message in str(info.value)


def test_responses_are_frozen() -> None:
    video = from_json(Video, VIDEO_JSON)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        video.status = VideoStatus.FAILED  # type: ignore[misc]


# --- robustness: only the SDK's own errors escape -----------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
INTERESTING = st.sampled_from(
    [
        "v5",
        "v6",
        "v3.5",
        "540p",
        "1080p",
        "16:9",
        "fast",
        "normal",
        "anime",
        "zoom_in",
        "subject",
        "@dog",
        1,
        5,
        8,
        0,
        -1,
        2**63,
        True,
        b"x",
        (1, 2),
        frozenset(),
    ]
)
ANY_VALUE = (
    JSON_VALUES
    | INTERESTING
    | st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "img_id": JSON_VALUES | INTERESTING,
                "duration": JSON_VALUES | INTERESTING,
                "prompt": JSON_VALUES | INTERESTING,
                "type": JSON_VALUES | INTERESTING,
                "ref_name": JSON_VALUES | INTERESTING,
            },
        ),
        max_size=8,
    )
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize(
    "cls", [*REQUEST_KINDS.values(), MultiTransitionFrame, ImageReference, SpeakerListQuery]
)
@FUZZ
@given(data=st.data())
def test_arbitrary_field_values_raise_only_validation_error(cls: type[Any], data: Any) -> None:
    names = [f.name for f in attrs.fields(cls)]
    kwargs = data.draw(st.fixed_dictionaries({n: ANY_VALUE for n in names}))
    try:
        req = cls(**kwargs)
    except ValidationError:
        return
    if isinstance(req, GenerationRequest):
        to_json(req)


@FUZZ
@given(
    data=st.dictionaries(st.text(max_size=12), ANY_VALUE, max_size=6),
    kind=st.sampled_from([*REQUEST_KINDS, "nope"]),
)
def test_build_request_raises_only_validation_error(data: dict[str, Any], kind: str) -> None:
    with contextlib.suppress(ValidationError):
        build_request({**data, "kind": kind})


RESPONSE_CLASSES = [
    GenerationResult,
    Video,
    MaskSelectionResult,
    MaskInfo,
    ImageUpload,
    MediaUpload,
    Speaker,
    SpeakerPage,
    RestyleEffect,
    RestylePage,
    Balance,
]


@pytest.mark.parametrize("cls", RESPONSE_CLASSES)
@FUZZ
@given(data=JSON_VALUES)
def test_arbitrary_json_raises_only_decoding_error(cls: type[Any], data: Any) -> None:
    with contextlib.suppress(ResponseDecodingError):
        from_json(cls, data)


# --- docstring examples run ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [
        "pixverse_async.models",
        "pixverse_async.models.enums",
        "pixverse_async.models.requests",
        "pixverse_async.models.responses",
        "pixverse_async.models.converter",
    ],
)
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --- the principle: what no confirmed source rules out is sent as written ----------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"model": "v6", "duration": 15, "quality": "1080p", "aspect_ratio": "21:9"},
        {"model": "c1", "duration": 7, "quality": "1080p", "aspect_ratio": "3:2"},
        {"model": "v9", "quality": "4k", "aspect_ratio": "2:1", "motion_mode": "slow"},
        {"model": "v3.5", "style": "watercolor", "camera_movement": "spin"},
        {"model": "v5.5", "generate_audio_switch": True, "thinking_type": "deep"},
        {"model": "v5", "webhook_id": "1234", "extra_body": {"off_peak_mode": True}},
        {"template_id": 2**64 - 1},
    ],
)
def test_unknown_values_are_sent_as_written(overrides: dict[str, Any]) -> None:
    body = to_json(build(TextToVideo, **overrides))
    for key, value in overrides.items():
        if key == "extra_body":
            assert body.items() >= value.items()
        else:
            assert body[key] == value and type(body[key]) is type(value), key


def test_model_rules_are_one_table_with_a_source_per_row() -> None:
    from pixverse_async.types import MODEL_RULES

    assert set(MODEL_RULES) == {"v3.5", "v4", "v4.5", "v5", "v5.5", "v5.6", "v6"}
    assert all(row.source for row in MODEL_RULES.values())
    for row in MODEL_RULES.values():
        for feature in row.features:
            assert feature in attrs.fields_dict(TextToVideo)


def test_a_request_missing_several_fields_reports_all_of_them() -> None:
    with pytest.raises(ValidationError) as info:
        build_request({"kind": "swap", "video_media_id": 1})
    assert info.value.field == "mask_id, img_id"
    assert str(info.value) == "mask_id, img_id: are required"


def test_defaults_live_in_the_request_classes() -> None:
    req = build_request({"kind": "text", "prompt": "a paper boat"} | {"kind": "text_to_video"})
    assert (req.model, req.duration, req.quality, req.aspect_ratio) == ("v5", 5, "540p", "16:9")


def test_transport_options_are_not_sent_nor_compared() -> None:
    plain = build(TextToVideo)
    tuned = build(TextToVideo, timeout=3.0, max_retries=0, extra_headers={"X-Trace": "1"})
    assert plain == tuned and hash(plain) == hash(tuned)
    assert to_json(plain) == to_json(tuned)
    assert "X-Trace" not in repr(tuned)
    options = call_options(tuned)
    assert options is not None and options.max_retries == 0 and options.timeout == 3.0
    assert call_options(plain) is None


# --- v6 and c1: PixVerse's pages as read on 2026-12-05 ----------------------------------
# v6: PixVerse's v6 parameter matrix (platform docs, confirmed): text, image, transition and
# extend; duration 1-15 ("1080p supports up to 15s"); the eight aspect ratios on text-to-video;
# generate_audio_switch on all four; generate_multi_clip_switch on text and image only.
V6_KINDS = (TextToVideo, ImageToVideo, Transition, Extend)


@pytest.mark.parametrize("cls", V6_KINDS)
def test_v6_takes_1_to_15_seconds_at_every_quality(cls: type[Any]) -> None:
    for duration in (1, 8, 15):
        for quality in Vocab.QUALITIES:
            req = build(cls, model="v6", duration=duration, quality=quality)
            assert to_json(req)["duration"] == duration
    with pytest.raises(ValidationError) as info:
        build(cls, model="v6", duration=16)
    assert (info.value.field, info.value.rule) == (
        "duration",
        "must be " + ", ".join(str(d) for d in range(1, 16)) + " seconds on model v6 (got 16)",
    )


@pytest.mark.parametrize("cls", V6_KINDS)
def test_v6_takes_generate_audio_switch_on_all_four(cls: type[Any]) -> None:
    assert to_json(build(cls, model="v6", generate_audio_switch=True))["generate_audio_switch"]


def test_v6_multi_clip_on_text_and_image_only() -> None:
    for cls in (TextToVideo, ImageToVideo):
        req = build(cls, model="v6", generate_multi_clip_switch=True)
        assert to_json(req)["generate_multi_clip_switch"] is True
    with pytest.raises(ValidationError) as info:
        build(Transition, model="v6", generate_multi_clip_switch=True)
    assert info.value.field == "generate_multi_clip_switch"
    assert "image_to_video and text_to_video" in info.value.rule
    build(Transition, model="v6", generate_multi_clip_switch=False)  # off is not asking for it
    build(Transition, model="v5.5", generate_multi_clip_switch=True)  # a v6 rule only


@pytest.mark.parametrize("ratio", Vocab.ASPECT_RATIOS)
def test_v6_text_to_video_takes_the_eight_aspect_ratios(ratio: str) -> None:
    req = build(TextToVideo, model="v6", aspect_ratio=ratio, duration=15, quality="1080p")
    assert isinstance(req.aspect_ratio, AspectRatio)
    assert to_json(req)["aspect_ratio"] == ratio


def test_c1_reference_to_video_sends_reported_limits_as_written() -> None:
    # c1 reference-to-video (reported only, several third parties): 1-7 references
    # {type: subject|background, img_id, ref_name}, ref_name at most 30 bytes, "@ref_name " in
    # the prompt. Reported limits are not refusals: 8 references and a 31-byte name are sent.
    names = [f"r{i}" for i in range(7)] + ["n" * 31]
    refs = [
        {"type": "subject" if i % 2 else "background", "img_id": i + 1, "ref_name": name}
        for i, name in enumerate(names)
    ]
    prompt = " ".join(f"@{name} " for name in names)
    req = Fusion(image_references=refs, prompt=prompt, model="c1", duration=12, seed=1,
                 quality="1080p", aspect_ratio="21:9")  # fmt: skip
    body = to_json(req)
    assert len(body["image_references"]) == 8 and body["model"] == "c1"
    assert body["image_references"][7] == {"type": "subject", "img_id": 8, "ref_name": "n" * 31}
    assert (body["duration"], body["aspect_ratio"]) == (12, "21:9")


# --- modify: PixVerse's how-to-use-modify page (read 2026-12-05, confirmed) -----------------


def test_modify_takes_exactly_one_of_the_two_video_sources() -> None:
    # "source_video_id and video_media_id are mutually exclusive"
    with pytest.raises(ValidationError) as info:
        Modify(source_video_id=5, video_media_id=6, prompt="remove @selection0")
    assert (info.value.field, info.value.rule) == (
        "source_video_id",
        "exactly one of source_video_id or video_media_id is allowed (got both)",
    )
    with pytest.raises(ValidationError) as info:
        Modify(prompt="remove @selection0")
    assert info.value.field == "source_video_id"
    assert to_json(Modify(video_media_id=6, prompt="remove @selection0")) == {
        "video_media_id": 6,
        "prompt": "remove @selection0",
    }


def test_modify_sends_the_reported_limits_and_unpublished_fields_as_written() -> None:
    # reported only: quality 360p-720p, at most 5 reference images, keyframe time in ms
    extra = {"img_ids": [1, 2, 3, 4, 5, 6], "keyframe_time": 1500, "selections": [{"id": 0}]}
    req = Modify(
        source_video_id=5,
        prompt="@selection0 and @selection1 become @img0 and @img5",
        quality="1080p",
        extra_body=extra,
    )
    body = to_json(req)
    assert body["quality"] == "1080p" and req.quality is Quality.P1080
    assert body.items() >= extra.items()
    with pytest.raises(ValidationError) as info:
        Modify(source_video_id=5, prompt=" ")
    assert info.value.field == "prompt"
