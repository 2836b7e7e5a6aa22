"""The emulator's own request validation (pixverse_async.emulator.validation), rule by rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixverse_async.constants import ErrCode, Paths, Vocab
from pixverse_async.emulator.validation import (
    PAGE_SIZE_MAX,
    REFERENCES,
    VALIDATORS,
    Reference,
    RefKind,
    Rejection,
    referenced_ids,
    validate_list_query,
)

EMPTY = ErrCode.EMPTY_PARAMETER
WRONG = ErrCode.WRONG_PARAMETER
INVALID = ErrCode.INVALID_PARAMETER

VALID: dict[str, dict[str, Any]] = {
    Paths.TEXT_TO_VIDEO: {
        "aspect_ratio": "16:9",
        "duration": 5,
        "model": "v4.5",
        "prompt": "a cat in the rain",
        "quality": "540p",
    },
    Paths.IMAGE_TO_VIDEO: {
        "duration": 5,
        "img_id": 302325299692608,
        "model": "v4.5",
        "prompt": "the cat yawns",
        "quality": "540p",
    },
    Paths.TRANSITION: {
        "prompt": "transform into a puppy",
        "model": "v5",
        "duration": 5,
        "quality": "540p",
        "first_frame_img": 1,
        "last_frame_img": 2,
    },
    Paths.MULTI_TRANSITION: {
        "multi_transition": [
            {"img_id": 1, "duration": 3, "prompt": ""},
            {"img_id": 2, "duration": 3},
            {"img_id": 3, "duration": 0, "prompt": ""},
        ],
        "model": "v5",
        "quality": "360p",
    },
    Paths.EXTEND: {
        "source_video_id": 7,
        "prompt": "across the universe",
        "seed": 123123,
        "quality": "540p",
        "duration": 5,
        "model": "v4.5",
    },
    Paths.FUSION: {
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
    Paths.RESTYLE: {"source_video_id": 7, "restyle_id": 3, "seed": 937433858},
    Paths.MASK_SELECTION: {"video_media_id": 4, "keyframe_id": 1},
    Paths.SWAP: {
        "video_media_id": 4,
        "keyframe_id": 1,
        "mask_id": "0",
        "img_id": 1,
        "quality": "360p",
    },
    Paths.LIP_SYNC: {"source_video_id": 7, "audio_media_id": 5},
    Paths.SOUND_EFFECT: {
        "source_video_id": 7,
        "original_sound_switch": True,
        "sound_effect_content": "",
    },
    Paths.MIMIC: {"img_id": 1, "quality": "720p", "video_media_id": 2},
    Paths.IMAGE_TEMPLATE: {"img_ids": [1, 2], "template_id": 300000000000001},
    Paths.VIDEO_UPSCALE: {"source_video_id": 7},
    Paths.VIDEO_MODIFY: {"source_video_id": 7, "prompt": "remove @selection0"},
}

GENERATION_PATHS = (Paths.TEXT_TO_VIDEO, Paths.IMAGE_TO_VIDEO, Paths.TRANSITION)


def body(path: str, drop: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    result = {k: v for k, v in VALID[path].items() if k not in drop}
    result.update(changes)
    return result


def check(path: str, payload: Any, code: int, field: str) -> Rejection:
    rejection = VALIDATORS[path](payload)
    assert rejection is not None, f"{path} accepted {payload!r}"
    assert (rejection.err_code, rejection.field) == (code, field), rejection
    assert field in rejection.err_msg
    return rejection


# ---------------------------------------------------------------- coverage and valid bodies


def test_every_json_generation_path_has_a_validator_and_references() -> None:
    expected = {
        Paths.TEXT_TO_VIDEO,
        Paths.IMAGE_TO_VIDEO,
        Paths.TRANSITION,
        Paths.MULTI_TRANSITION,
        Paths.EXTEND,
        Paths.FUSION,
        Paths.RESTYLE,
        Paths.MASK_SELECTION,
        Paths.SWAP,
        Paths.LIP_SYNC,
        Paths.SOUND_EFFECT,
        Paths.MIMIC,
        Paths.IMAGE_TEMPLATE,
        Paths.VIDEO_UPSCALE,
        Paths.VIDEO_MODIFY,
    }
    assert set(VALIDATORS) == expected
    assert set(REFERENCES) == expected
    assert set(VALID) == expected


@pytest.mark.parametrize("path", list(VALID))
def test_valid_body_is_accepted(path: str) -> None:
    assert VALIDATORS[path](VALID[path]) is None


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        (
            Paths.TEXT_TO_VIDEO,
            body(
                Paths.TEXT_TO_VIDEO,
                model="v3.5",
                style="anime",
                duration=8,
                quality="720p",
                motion_mode="normal",
                negative_prompt="blur",
                seed=2147483647,
                template_id=302325299692608,
                camera_movement="zoom_in",
                sound_effect_switch=True,
                sound_effect_content="rain",
                lip_sync_switch=True,
                lip_sync_tts_speaker_id="Auto",
                lip_sync_tts_content="x" * 140,
            ),
        ),
        (Paths.TEXT_TO_VIDEO, body(Paths.TEXT_TO_VIDEO, model="v4", motion_mode="fast", seed=0)),
        (Paths.TEXT_TO_VIDEO, body(Paths.TEXT_TO_VIDEO, quality="1080p", duration=5)),
        (
            Paths.TEXT_TO_VIDEO,
            body(Paths.TEXT_TO_VIDEO, prompt="p" * 2048, negative_prompt="n" * 2048),
        ),
        # optional fields given as null or "" count as absent
        (
            Paths.TEXT_TO_VIDEO,
            body(Paths.TEXT_TO_VIDEO, seed=None, style=None, negative_prompt="", motion_mode=None),
        ),
        # unknown models are accepted, and model-specific rules are skipped for them
        (Paths.TEXT_TO_VIDEO, body(Paths.TEXT_TO_VIDEO, model="c1", duration=10)),
        (
            Paths.TEXT_TO_VIDEO,
            body(Paths.TEXT_TO_VIDEO, model="c1", style="clay", motion_mode="normal"),
        ),
        # unknown extra keys are ignored
        (
            Paths.TEXT_TO_VIDEO,
            body(Paths.TEXT_TO_VIDEO, lip_sync_tts_switch="yes", whatever={"a": [1]}),
        ),
        (
            Paths.IMAGE_TO_VIDEO,
            body(Paths.IMAGE_TO_VIDEO, drop=("img_id",), img_ids=[0, 0], template_id=1),
        ),
        (Paths.IMAGE_TO_VIDEO, body(Paths.IMAGE_TO_VIDEO, img_id=0, img_ids=[])),
        (Paths.IMAGE_TO_VIDEO, body(Paths.IMAGE_TO_VIDEO, img_id=2**64 - 1)),
        (
            Paths.TRANSITION,
            body(
                Paths.TRANSITION,
                sound_effect_switch=False,
                lip_sync_switch=False,
                seed=1,
                camera_movement=5,
            ),
        ),
        (
            Paths.MULTI_TRANSITION,
            body(
                Paths.MULTI_TRANSITION,
                multi_transition=[{"img_id": 1, "duration": 30}, {"img_id": 2}],
            ),
        ),
        (
            Paths.MULTI_TRANSITION,
            body(
                Paths.MULTI_TRANSITION,
                multi_transition=[{"img_id": i, "duration": 5} for i in range(6)] + [{"img_id": 9}],
            ),
        ),
        (Paths.EXTEND, body(Paths.EXTEND, drop=("source_video_id",), video_media_id=4)),
        (
            Paths.EXTEND,
            body(Paths.EXTEND, model="v3.5", style="comic", seed=0, motion_mode="normal"),
        ),
        (Paths.FUSION, body(Paths.FUSION, prompt="@dog, at @room.")),
        (Paths.RESTYLE, {"video_media_id": 4, "restyle_prompt": "make it clay"}),
        (Paths.MASK_SELECTION, {"source_video_id": 7}),
        (Paths.SWAP, body(Paths.SWAP, drop=("keyframe_id",), quality="720p")),
        (
            Paths.LIP_SYNC,
            {
                "video_media_id": 4,
                "lip_sync_tts_speaker_id": "auto",
                "lip_sync_tts_content": "hello " * 23,
            },
        ),
        (Paths.SOUND_EFFECT, {"video_media_id": 4}),
    ],
)
def test_more_valid_bodies(path: str, payload: dict[str, Any]) -> None:
    assert VALIDATORS[path](payload) is None


# ---------------------------------------------------------------- garbage never raises

GARBAGE: list[Any] = [
    None,
    [],
    [{}],
    "x",
    "",
    0,
    1.5,
    True,
    {},
    {"prompt": 5},
    {"model": None, "prompt": []},
    {"multi_transition": "x"},
    {"image_references": [None, 3]},
    {"source_video_id": {"a": 1}},
]


@pytest.mark.parametrize("path", list(VALIDATORS))
@pytest.mark.parametrize("payload", GARBAGE, ids=repr)
def test_garbage_is_rejected_not_raised(path: str, payload: Any) -> None:
    rejection = VALIDATORS[path](payload)
    assert isinstance(rejection, Rejection)
    assert rejection.err_code in (EMPTY, WRONG, INVALID)
    assert referenced_ids(path, payload) is not None  # never raises either


@pytest.mark.parametrize("payload", [None, [], "x", 3, [1, 2]], ids=repr)
def test_a_body_that_is_not_an_object_is_the_wrong_type(payload: Any) -> None:
    for path in VALIDATORS:
        check(path, payload, WRONG, "body")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(sorted(VALID)), data=st.data())
def test_mutated_bodies_never_raise(path: str, data: st.DataObject) -> None:
    payload = dict(VALID[path])
    keys = sorted({*payload, "img_ids", "lip_sync_switch", "motion_mode", "style"})
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=3)):
        payload[key] = data.draw(json_values)
    result = VALIDATORS[path](payload)
    assert result is None or isinstance(result, Rejection)
    referenced_ids(path, payload)


# ---------------------------------------------------------------- required fields

REQUIRED = {
    Paths.TEXT_TO_VIDEO: ("aspect_ratio", "duration", "model", "prompt", "quality"),
    Paths.IMAGE_TO_VIDEO: ("duration", "model", "prompt", "quality"),
    Paths.TRANSITION: (
        "prompt",
        "model",
        "duration",
        "quality",
        "first_frame_img",
        "last_frame_img",
    ),
    Paths.MULTI_TRANSITION: ("multi_transition", "model", "quality"),
    Paths.EXTEND: ("prompt", "seed", "quality", "duration", "model"),
    Paths.FUSION: (
        "image_references",
        "prompt",
        "model",
        "duration",
        "quality",
        "aspect_ratio",
        "seed",
    ),
    Paths.SWAP: ("mask_id", "img_id", "quality"),
}


@pytest.mark.parametrize(("path", "name"), [(p, n) for p, names in REQUIRED.items() for n in names])
@pytest.mark.parametrize("how", ["missing", "null", "blank"])
def test_missing_required_field_is_an_empty_parameter(path: str, name: str, how: str) -> None:
    if how == "missing":
        payload = body(path, drop=(name,))
    else:
        blank: Any = [] if isinstance(VALID[path][name], list) else ""
        payload = body(path)
        payload[name] = None if how == "null" else blank
    check(path, payload, EMPTY, name)


def test_blank_prompt_is_empty() -> None:
    check(Paths.TEXT_TO_VIDEO, body(Paths.TEXT_TO_VIDEO, prompt="   "), EMPTY, "prompt")


# ---------------------------------------------------------------- exactly one of two

VIDEO_SOURCE_PATHS = (
    Paths.EXTEND,
    Paths.RESTYLE,
    Paths.MASK_SELECTION,
    Paths.SWAP,
    Paths.LIP_SYNC,
    Paths.SOUND_EFFECT,
)


@pytest.mark.parametrize("path", VIDEO_SOURCE_PATHS)
def test_video_source_neither_or_both(path: str) -> None:
    neither = body(path, drop=("source_video_id", "video_media_id"))
    check(path, neither, EMPTY, "source_video_id")
    both = body(path, source_video_id=7, video_media_id=4)
    check(path, both, INVALID, "video_media_id")


def test_image_to_video_needs_exactly_one_of_img_id_and_img_ids() -> None:
    path = Paths.IMAGE_TO_VIDEO
    check(path, body(path, drop=("img_id",)), EMPTY, "img_id")
    check(path, body(path, img_ids=[1, 2]), INVALID, "img_ids")
    check(path, body(path, drop=("img_id",), img_ids="1,2"), WRONG, "img_ids")
    check(path, body(path, drop=("img_id",), img_ids=[1, "2"]), WRONG, "img_ids[1]")
    check(path, body(path, drop=("img_id",), img_ids=[1, -2]), INVALID, "img_ids[1]")


def test_restyle_needs_exactly_one_of_id_and_prompt() -> None:
    path = Paths.RESTYLE
    check(path, body(path, drop=("restyle_id",)), EMPTY, "restyle_id")
    check(path, body(path, restyle_prompt="clay"), INVALID, "restyle_prompt")
    check(
        path,
        body(path, drop=("restyle_id",), restyle_prompt="x" * 2049),
        ErrCode.PROMPT_TOO_LONG,
        "restyle_prompt",
    )


def test_lip_sync_audio_or_tts() -> None:
    path = Paths.LIP_SYNC
    base = {"source_video_id": 7}
    check(path, base, EMPTY, "audio_media_id")
    check(path, {**base, "lip_sync_tts_content": "hi"}, EMPTY, "lip_sync_tts_speaker_id")
    check(path, {**base, "lip_sync_tts_speaker_id": "1"}, EMPTY, "lip_sync_tts_content")
    check(
        path,
        {**base, "audio_media_id": 5, "lip_sync_tts_speaker_id": "1"},
        INVALID,
        "lip_sync_tts_speaker_id",
    )
    check(
        path,
        {**base, "audio_media_id": 5, "lip_sync_tts_content": "hi"},
        INVALID,
        "lip_sync_tts_content",
    )
    tts = {**base, "lip_sync_tts_speaker_id": "1"}
    check(path, {**tts, "lip_sync_tts_content": "é" * 141}, INVALID, "lip_sync_tts_content")
    assert VALIDATORS[path]({**tts, "lip_sync_tts_content": "é" * 140}) is None
    check(
        path,
        {**tts, "lip_sync_tts_content": "hi", "lip_sync_tts_speaker_id": 1},
        WRONG,
        "lip_sync_tts_speaker_id",
    )
    check(path, {**base, "audio_media_id": "5"}, WRONG, "audio_media_id")


# ---------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("path", "name", "value", "code"),
    [
        (Paths.TEXT_TO_VIDEO, "duration", "5", WRONG),
        (Paths.TEXT_TO_VIDEO, "duration", 5.0, WRONG),
        (Paths.TEXT_TO_VIDEO, "duration", True, WRONG),
        (Paths.TEXT_TO_VIDEO, "seed", 1.5, WRONG),
        (Paths.TEXT_TO_VIDEO, "seed", False, WRONG),
        (Paths.TEXT_TO_VIDEO, "prompt", 5, WRONG),
        (Paths.TEXT_TO_VIDEO, "prompt", {"text": "x"}, WRONG),
        (Paths.TEXT_TO_VIDEO, "model", 5, WRONG),
        (Paths.TEXT_TO_VIDEO, "quality", 540, WRONG),
        (Paths.TEXT_TO_VIDEO, "template_id", "302325299692608", WRONG),
        (Paths.TEXT_TO_VIDEO, "sound_effect_switch", "true", WRONG),
        (Paths.TEXT_TO_VIDEO, "sound_effect_switch", 1, WRONG),
        (Paths.TEXT_TO_VIDEO, "lip_sync_switch", 0, WRONG),
        (Paths.TEXT_TO_VIDEO, "negative_prompt", ["x"], WRONG),
        (Paths.TEXT_TO_VIDEO, "camera_movement", 3, WRONG),
        (Paths.IMAGE_TO_VIDEO, "img_id", "1", WRONG),
        (Paths.IMAGE_TO_VIDEO, "img_id", True, WRONG),
        (Paths.TRANSITION, "first_frame_img", 1.0, WRONG),
        (Paths.TRANSITION, "sound_effect_switch", "true", WRONG),
        (Paths.TRANSITION, "lip_sync_switch", "false", WRONG),
        (Paths.EXTEND, "source_video_id", "7", WRONG),
        (Paths.SOUND_EFFECT, "original_sound_switch", "yes", WRONG),
        (Paths.SOUND_EFFECT, "sound_effect_content", 1, WRONG),
        (Paths.SWAP, "mask_id", 0, WRONG),
        (Paths.SWAP, "keyframe_id", "1", WRONG),
        (Paths.MASK_SELECTION, "keyframe_id", 1.0, WRONG),
        (Paths.RESTYLE, "restyle_id", True, WRONG),
        (Paths.MULTI_TRANSITION, "multi_transition", {"img_id": 1}, WRONG),
        (Paths.FUSION, "image_references", "dog", WRONG),
        # ranges
        (Paths.TEXT_TO_VIDEO, "seed", -1, INVALID),
        (Paths.TEXT_TO_VIDEO, "seed", 2147483648, INVALID),
        (Paths.TEXT_TO_VIDEO, "duration", 0, INVALID),
        (Paths.IMAGE_TO_VIDEO, "img_id", -1, INVALID),
        (Paths.IMAGE_TO_VIDEO, "img_id", 2**64, INVALID),
        (Paths.SWAP, "keyframe_id", 0, INVALID),
        (Paths.MASK_SELECTION, "keyframe_id", 0, INVALID),
        # vocabularies
        (Paths.TEXT_TO_VIDEO, "quality", "4k", INVALID),
        (Paths.TEXT_TO_VIDEO, "quality", "540P", INVALID),
        (Paths.TEXT_TO_VIDEO, "aspect_ratio", "2:1", INVALID),
        (Paths.TEXT_TO_VIDEO, "thinking_type", "deep", INVALID),
        (Paths.TEXT_TO_VIDEO, "generate_audio_switch", "true", WRONG),
        (Paths.TEXT_TO_VIDEO, "webhook_id", 1234, WRONG),
        (Paths.TEXT_TO_VIDEO, "motion_mode", "slow", INVALID),
        (Paths.TEXT_TO_VIDEO, "camera_movement", "barrel_roll", INVALID),
        (Paths.IMAGE_TO_VIDEO, "camera_movement", "barrel_roll", INVALID),
        (Paths.EXTEND, "quality", "2k", INVALID),
        (Paths.MULTI_TRANSITION, "quality", "2k", INVALID),
        (Paths.FUSION, "aspect_ratio", "2:1", INVALID),
        (Paths.SWAP, "quality", "1080p", INVALID),
    ],
)
def test_field_type_range_and_vocabulary(path: str, name: str, value: Any, code: int) -> None:
    check(path, body(path, **{name: value}), code, name)


def test_an_integer_too_long_to_print_is_out_of_range() -> None:
    huge = 10**5000
    check(Paths.TEXT_TO_VIDEO, body(Paths.TEXT_TO_VIDEO, seed=huge), INVALID, "seed")


@pytest.mark.parametrize("path", [Paths.TEXT_TO_VIDEO, Paths.IMAGE_TO_VIDEO, Paths.EXTEND])
def test_style_vocabulary_checked_even_on_v3_5(path: str) -> None:
    check(path, body(path, model="v3.5", style="watercolor"), INVALID, "style")
    for style in Vocab.STYLES:
        assert VALIDATORS[path](body(path, model="v3.5", style=style)) is None


@pytest.mark.parametrize("movement", Vocab.CAMERA_MOVEMENTS)
def test_every_camera_movement_is_accepted(movement: str) -> None:
    path = Paths.IMAGE_TO_VIDEO
    assert VALIDATORS[path](body(path, camera_movement=movement)) is None


# ---------------------------------------------------------------- prompt lengths


@pytest.mark.parametrize(
    "path", [Paths.TEXT_TO_VIDEO, Paths.IMAGE_TO_VIDEO, Paths.TRANSITION, Paths.EXTEND]
)
def test_prompt_too_long(path: str) -> None:
    check(path, body(path, prompt="p" * 2049), ErrCode.PROMPT_TOO_LONG, "prompt")


@pytest.mark.parametrize("path", [Paths.TEXT_TO_VIDEO, Paths.IMAGE_TO_VIDEO])
def test_negative_prompt_too_long(path: str) -> None:
    check(
        path,
        body(path, negative_prompt="n" * 2049),
        ErrCode.NEGATIVE_PROMPT_TOO_LONG,
        "negative_prompt",
    )


def test_fusion_prompt_too_long() -> None:
    path = Paths.FUSION
    check(path, body(path, prompt="@dog @room " + "p" * 2048), ErrCode.PROMPT_TOO_LONG, "prompt")


# ---------------------------------------------------------------- model, quality, duration


@pytest.mark.parametrize("path", [*GENERATION_PATHS, Paths.EXTEND, Paths.FUSION])
@pytest.mark.parametrize("model", ["v3.5", "v4", "v4.5", "v5"])
def test_known_models_only_allow_5_or_8_seconds(path: str, model: str) -> None:
    check(path, body(path, model=model, duration=6), INVALID, "duration")
    check(path, body(path, model=model, duration=10), INVALID, "duration")
    assert VALIDATORS[path](body(path, model=model, duration=8)) is None


@pytest.mark.parametrize("path", [*GENERATION_PATHS, Paths.EXTEND, Paths.FUSION])
def test_v5_5_allows_10_seconds_but_not_at_1080p(path: str) -> None:
    assert VALIDATORS[path](body(path, model="v5.5", duration=10)) is None
    check(path, body(path, model="v5.5", duration=12), INVALID, "duration")
    check(path, body(path, model="v5.5", duration=10, quality="1080p"), INVALID, "duration")
    assert VALIDATORS[path](body(path, model="v5.5", duration=8, quality="1080p")) is None


@pytest.mark.parametrize("path", [*GENERATION_PATHS, Paths.EXTEND, Paths.FUSION])
@pytest.mark.parametrize("model", ["v5.6", "c1", "v9"])
def test_models_without_published_limits_take_any_duration(path: str, model: str) -> None:
    for duration in (1, 6, 10, 15):
        assert VALIDATORS[path](body(path, model=model, duration=duration)) is None
    assert VALIDATORS[path](body(path, model=model, quality="1080p", duration=15)) is None


@pytest.mark.parametrize("path", [*GENERATION_PATHS, Paths.EXTEND, Paths.FUSION])
def test_1080p_has_no_8_seconds(path: str) -> None:
    check(path, body(path, quality="1080p", duration=8), INVALID, "duration")
    check(path, body(path, model="v5", quality="1080p", duration=8), INVALID, "duration")


@pytest.mark.parametrize("path", [*GENERATION_PATHS, Paths.EXTEND])
def test_fast_motion_rules(path: str) -> None:
    base = body(path, model="v4.5", motion_mode="fast")
    assert VALIDATORS[path](base) is None
    check(path, {**base, "quality": "1080p"}, INVALID, "motion_mode")
    check(path, {**base, "duration": 8}, INVALID, "motion_mode")
    assert VALIDATORS[path]({**base, "model": "v7", "duration": 10}) is None  # no row


@pytest.mark.parametrize("path", GENERATION_PATHS)
def test_v5_5_fields_follow_the_model_table(path: str) -> None:
    new = {"generate_audio_switch": True, "generate_multi_clip_switch": True}
    if path != Paths.TRANSITION:
        new["thinking_type"] = "auto"
    assert VALIDATORS[path](body(path, model="v5.5", **new)) is None
    assert VALIDATORS[path](body(path, model="c1", **new)) is None
    assert VALIDATORS[path](body(path, model="v5.6", generate_audio_switch=True)) is None
    refused = body(path, model="v5", generate_audio_switch=True)
    check(path, refused, INVALID, "generate_audio_switch")
    assert VALIDATORS[path](body(path, model="v5", generate_audio_switch=False)) is None


@pytest.mark.parametrize("path", [*GENERATION_PATHS, Paths.EXTEND])
@pytest.mark.parametrize("mode", Vocab.MOTION_MODES)
def test_no_motion_mode_on_v5(path: str, mode: str) -> None:
    check(path, body(path, model="v5", motion_mode=mode), INVALID, "motion_mode")
    assert VALIDATORS[path](body(path, model="v5.5", motion_mode=mode)) is None


@pytest.mark.parametrize("path", [Paths.TEXT_TO_VIDEO, Paths.IMAGE_TO_VIDEO, Paths.EXTEND])
@pytest.mark.parametrize("model", ["v4", "v4.5", "v5"])
def test_style_only_on_v3_5(path: str, model: str) -> None:
    check(path, body(path, model=model, style="anime"), INVALID, "style")


@pytest.mark.parametrize("model", ["", "  ", None])
def test_model_must_be_a_non_empty_string(model: Any) -> None:
    check(Paths.TEXT_TO_VIDEO, body(Paths.TEXT_TO_VIDEO, model=model), EMPTY, "model")


# ---------------------------------------------------------------- lip sync switch on pages


@pytest.mark.parametrize("path", GENERATION_PATHS)
def test_lip_sync_switch_needs_speaker_and_content(path: str) -> None:
    on = body(path, lip_sync_switch=True)
    check(path, {**on, "lip_sync_tts_content": "hi"}, EMPTY, "lip_sync_tts_speaker_id")
    check(path, {**on, "lip_sync_tts_speaker_id": "1"}, EMPTY, "lip_sync_tts_content")
    ok = {**on, "lip_sync_tts_speaker_id": "1", "lip_sync_tts_content": "hi"}
    assert VALIDATORS[path](ok) is None
    check(path, {**ok, "lip_sync_tts_content": "x" * 141}, INVALID, "lip_sync_tts_content")
    # switch off: the TTS fields are optional but still checked when given
    check(path, body(path, lip_sync_tts_content="x" * 141), INVALID, "lip_sync_tts_content")
    assert VALIDATORS[path](body(path, lip_sync_tts_content="hi")) is None


# ---------------------------------------------------------------- multi-transition


def frames(*durations: object) -> list[dict[str, Any]]:
    return [
        {"img_id": i} if d is None else {"img_id": i, "duration": d}
        for i, d in enumerate(durations)
    ]


@pytest.mark.parametrize(
    ("items", "code", "field"),
    [
        (frames(3), INVALID, "multi_transition"),
        (frames(*[1] * 7, None), INVALID, "multi_transition"),
        (frames(20, 11, None), INVALID, "multi_transition"),
        (frames(3, 0, None), INVALID, "multi_transition[1].duration"),
        (frames(3, -1), INVALID, "multi_transition[1].duration"),
        (frames(None, None), EMPTY, "multi_transition[0].duration"),
        (frames(3, 2.5, None), WRONG, "multi_transition[1].duration"),
        (frames(3, True, None), WRONG, "multi_transition[1].duration"),
        ([{"duration": 3}, {"img_id": 1}], EMPTY, "multi_transition[0].img_id"),
        ([{"img_id": 1, "duration": 3}, {"duration": 1}], EMPTY, "multi_transition[1].img_id"),
        ([{"img_id": "1", "duration": 3}, {"img_id": 2}], WRONG, "multi_transition[0].img_id"),
        ([{"img_id": 1, "duration": 3}, 2], WRONG, "multi_transition[1]"),
        (
            [{"img_id": 1, "duration": 3, "prompt": "p" * 2049}, {"img_id": 2}],
            ErrCode.PROMPT_TOO_LONG,
            "multi_transition[0].prompt",
        ),
        (
            [{"img_id": 1, "duration": 3, "prompt": 4}, {"img_id": 2}],
            WRONG,
            "multi_transition[0].prompt",
        ),
    ],
)
def test_multi_transition_rules(items: list[Any], code: int, field: str) -> None:
    path = Paths.MULTI_TRANSITION
    check(path, body(path, multi_transition=items), code, field)


def test_multi_transition_total_bounds() -> None:
    path = Paths.MULTI_TRANSITION
    assert VALIDATORS[path](body(path, multi_transition=frames(10, 10, 10, None))) is None
    assert VALIDATORS[path](body(path, multi_transition=frames(1, None))) is None


# ---------------------------------------------------------------- fusion


def refs(*items: tuple[str, int, str]) -> list[dict[str, Any]]:
    return [{"type": t, "img_id": i, "ref_name": n} for t, i, n in items]


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"image_references": refs(("object", 1, "dog"))}, INVALID, "image_references[0].type"),
        (
            {"image_references": [{"img_id": 1, "ref_name": "dog"}]},
            EMPTY,
            "image_references[0].type",
        ),
        (
            {"image_references": [{"type": "subject", "ref_name": "dog"}]},
            EMPTY,
            "image_references[0].img_id",
        ),
        (
            {"image_references": [{"type": "subject", "img_id": 1}]},
            EMPTY,
            "image_references[0].ref_name",
        ),
        (
            {
                "image_references": refs(("subject", 1, "dog"), ("subject", 2, "dog")),
                "prompt": "@dog",
            },
            INVALID,
            "image_references[1].ref_name",
        ),
        (
            {
                "image_references": refs(("subject", 1, "dog"), ("background", 2, "room")),
                "prompt": "@dog plays",
            },
            INVALID,
            "image_references[1].ref_name",
        ),
        (
            {"image_references": refs(("subject", 1, "dog")), "prompt": "a dog plays"},
            INVALID,
            "image_references[0].ref_name",
        ),
        (
            {"image_references": refs(("subject", 1, "dog")), "prompt": "@dogs play"},
            INVALID,
            "image_references[0].ref_name",
        ),
        ({"image_references": [None]}, WRONG, "image_references[0]"),
        (
            {
                "image_references": [
                    *refs(("subject", 1, "dog")),
                    {"type": "subject", "img_id": 1.0, "ref_name": "cat"},
                ]
            },
            WRONG,
            "image_references[1].img_id",
        ),
        ({"seed": 2**31}, INVALID, "seed"),
    ],
)
def test_fusion_rules(changes: dict[str, Any], code: int, field: str) -> None:
    check(Paths.FUSION, body(Paths.FUSION, **changes), code, field)


# ---------------------------------------------------------------- list queries


@pytest.mark.parametrize(
    "params",
    [
        {"page_num": "1", "page_size": "2"},
        {"page_num": "10", "page_size": str(PAGE_SIZE_MAX)},
        {"page_num": "01", "page_size": "1", "other": "x"},
    ],
)
def test_valid_list_query(params: dict[str, str]) -> None:
    assert validate_list_query(params) is None


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({}, EMPTY, "page_num"),
        ({"page_num": "1"}, EMPTY, "page_size"),
        ({"page_num": "", "page_size": "2"}, EMPTY, "page_num"),
        ({"page_num": "one", "page_size": "2"}, WRONG, "page_num"),
        ({"page_num": "1.5", "page_size": "2"}, WRONG, "page_num"),
        ({"page_num": "-1", "page_size": "2"}, WRONG, "page_num"),
        ({"page_num": "1", "page_size": "+2"}, WRONG, "page_size"),
        ({"page_num": "0", "page_size": "2"}, INVALID, "page_num"),
        ({"page_num": "1", "page_size": "0"}, INVALID, "page_size"),
        ({"page_num": "1", "page_size": str(PAGE_SIZE_MAX + 1)}, INVALID, "page_size"),
        ({"page_num": "9" * 5000, "page_size": "2"}, INVALID, "page_num"),
    ],
)
def test_invalid_list_query(params: dict[str, str], code: int, field: str) -> None:
    rejection = validate_list_query(params)
    assert rejection is not None
    assert (rejection.err_code, rejection.field) == (code, field)
    assert field in rejection.err_msg


# ---------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("path", "payload", "expected"),
    [
        (Paths.TEXT_TO_VIDEO, body(Paths.TEXT_TO_VIDEO, template_id=9), []),
        (Paths.IMAGE_TO_VIDEO, VALID[Paths.IMAGE_TO_VIDEO], [("image", "img_id", 302325299692608)]),
        (
            Paths.IMAGE_TO_VIDEO,
            body(Paths.IMAGE_TO_VIDEO, drop=("img_id",), img_ids=[3, 4]),
            [("image", "img_ids[0]", 3), ("image", "img_ids[1]", 4)],
        ),
        (
            Paths.TRANSITION,
            VALID[Paths.TRANSITION],
            [("image", "first_frame_img", 1), ("image", "last_frame_img", 2)],
        ),
        (
            Paths.MULTI_TRANSITION,
            VALID[Paths.MULTI_TRANSITION],
            [("image", f"multi_transition[{i}].img_id", i + 1) for i in range(3)],
        ),
        (Paths.EXTEND, VALID[Paths.EXTEND], [("video", "source_video_id", 7)]),
        (
            Paths.FUSION,
            VALID[Paths.FUSION],
            [
                ("image", "image_references[0].img_id", 1),
                ("image", "image_references[1].img_id", 2),
            ],
        ),
        (Paths.RESTYLE, VALID[Paths.RESTYLE], [("video", "source_video_id", 7)]),
        (Paths.MASK_SELECTION, VALID[Paths.MASK_SELECTION], [("media_video", "video_media_id", 4)]),
        (
            Paths.SWAP,
            VALID[Paths.SWAP],
            [("media_video", "video_media_id", 4), ("image", "img_id", 1)],
        ),
        (
            Paths.LIP_SYNC,
            VALID[Paths.LIP_SYNC],
            [("video", "source_video_id", 7), ("media_audio", "audio_media_id", 5)],
        ),
        (Paths.SOUND_EFFECT, VALID[Paths.SOUND_EFFECT], [("video", "source_video_id", 7)]),
    ],
)
def test_referenced_ids(
    path: str, payload: dict[str, Any], expected: list[tuple[str, str, int]]
) -> None:
    found = referenced_ids(path, payload)
    assert found == [Reference(*e) for e in expected]
    assert all(ref.kind in RefKind.STORED for ref in found)


def test_referenced_ids_of_all_kinds() -> None:
    assert referenced_ids(
        Paths.TEXT_TO_VIDEO, body(Paths.TEXT_TO_VIDEO, template_id=9), kinds=RefKind.ALL
    ) == [Reference("template", "template_id", 9)]
    assert referenced_ids(Paths.RESTYLE, VALID[Paths.RESTYLE], kinds=RefKind.ALL) == [
        Reference("video", "source_video_id", 7),
        Reference("restyle", "restyle_id", 3),
    ]
    assert referenced_ids(Paths.RESTYLE, VALID[Paths.RESTYLE], kinds=(RefKind.RESTYLE,)) == [
        Reference("restyle", "restyle_id", 3)
    ]


def test_referenced_ids_skip_non_ids_and_unknown_paths() -> None:
    path = Paths.IMAGE_TO_VIDEO
    assert referenced_ids(path, {"img_id": None, "img_ids": [True, "3", 4.0, 5]}) == [
        Reference("image", "img_ids[3]", 5)
    ]
    assert referenced_ids(Paths.MULTI_TRANSITION, {"multi_transition": [1, {"img_id": 2}]}) == [
        Reference("image", "multi_transition[1].img_id", 2)
    ]
    assert referenced_ids("/nope", VALID[path]) == []


def test_reference_kinds_are_declared() -> None:
    for pairs in REFERENCES.values():
        for pattern, kind in pairs:
            assert kind in RefKind.ALL, pattern


@pytest.mark.parametrize(
    ("path", "changes", "code", "field"),
    [
        (Paths.MIMIC, {"video_media_id": None}, EMPTY, "video_media_id"),
        (Paths.MIMIC, {"source_video_id": 3}, INVALID, "source_video_id"),
        (Paths.MIMIC, {"img_id": None}, EMPTY, "img_id"),
        (Paths.MIMIC, {"quality": "8k"}, INVALID, "quality"),
        (Paths.IMAGE_TEMPLATE, {"img_ids": []}, EMPTY, "img_ids"),
        (Paths.IMAGE_TEMPLATE, {"template_id": None}, EMPTY, "template_id"),
        (Paths.IMAGE_TEMPLATE, {"img_ids": ["1"]}, WRONG, "img_ids[0]"),
    ],
)
def test_live_endpoints_rules(path: str, changes: dict[str, Any], code: int, field: str) -> None:
    check(path, {k: v for k, v in {**VALID[path], **changes}.items() if v is not None}, code, field)


def test_64_bit_unsigned_ids_are_accepted() -> None:
    path = Paths.IMAGE_TO_VIDEO
    assert VALIDATORS[path](body(path, img_id=2**64 - 1)) is None
    check(path, body(path, img_id=2**64), INVALID, "img_id")


# v6: PixVerse's v6 parameter matrix (platform docs, read 2026-12-05, confirmed): text, image,
# transition and extend; duration 1-15 ("1080p supports up to 15s"); generate_audio_switch on
# all four; generate_multi_clip_switch on text and image only.
@pytest.mark.parametrize("path", [*GENERATION_PATHS, Paths.EXTEND])
def test_v6_takes_1_to_15_seconds_and_audio_on_all_four(path: str) -> None:
    for duration in (1, 7, 15):
        for quality in ("360p", "1080p"):
            v6 = body(path, model="v6", duration=duration, quality=quality)
            assert VALIDATORS[path](v6) is None
    check(path, body(path, model="v6", duration=16), INVALID, "duration")
    assert VALIDATORS[path](body(path, model="v6", generate_audio_switch=True)) is None


@pytest.mark.parametrize("path", GENERATION_PATHS)
def test_v6_multi_clip_only_on_text_and_image(path: str) -> None:
    v6 = body(path, model="v6", generate_multi_clip_switch=True)
    if path == Paths.TRANSITION:
        check(path, v6, INVALID, "generate_multi_clip_switch")
    else:
        assert VALIDATORS[path](v6) is None
    assert VALIDATORS[path]({**v6, "generate_multi_clip_switch": False}) is None
