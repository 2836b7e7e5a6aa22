"""The client's request validation and the emulator's agree on what to accept (hypothesis).

The two sides are written independently from the spec pages and the API notes: the client's request
classes (:func:`pixverse_async.models.build_request`) and the emulator's
:data:`pixverse_async.emulator.validation.VALIDATORS`. Here valid bodies of every kind are
mutated (fields dropped, set to valid and invalid values of every JSON type: blank and long
strings, out-of-range and 64-bit integers, booleans and floats for integers, lists and objects,
broken frames and references, unknown keys) and both must agree on accept/reject.

The emulator sees what the client would send (the request's JSON, defaults filled in) when the
client accepts a body, and the raw body otherwise. Values the client does not know (a quality,
aspect ratio, motion mode... outside its enums) are sent as written (the API notes, "Principle
for the SDK"): the emulator refusing one of those is the service deciding, and allowed
(:func:`service_decides`). Everywhere else, where they legitimately differ, the client is
stricter than the service (it refuses input the service would take but which is surely a
mistake). Each such difference is a :class:`Divergence`
below, with its reason, a narrow test of when it applies and, where possible, a repair that
removes it: a disagreement must be explained by divergences, and once they are repaired the two
sides must agree again. The emulator refusing what the client accepts is never allowed: that
would be a paid request (or a charged retry) the SDK should have caught.

Differences that were bugs were fixed rather than listed (see the report of this file's
author): the client counted the last multi-transition frame's duration and refused the page's
own example (duration 0 on the last frame); the client sent blank TTS content with
``lip_sync_switch=True``; the emulator took ``""`` and ``[]`` as "not given" for integer and
boolean fields.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pixverse_async.constants import Vocab
from pixverse_async.emulator.validation import ID_MAX, VALIDATORS, Rejection
from pixverse_async.errors import ValidationError
from pixverse_async.models import (
    REQUEST_KINDS,
    AspectRatio,
    CameraMovement,
    FusionReferenceType,
    ImageReference,
    MaskSelection,
    Model,
    MotionMode,
    MultiTransitionFrame,
    Quality,
    Style,
    ThinkingType,
    to_json,
)
from pixverse_async.models.requests import TRANSPORT_OPTIONS
from pixverse_async.models.requests import _from_mapping as from_mapping

MAX_INT32 = 2**31 - 1
CLIENT_MAX_ID = 2**64 - 1
KINDS: dict[str, type[Any]] = {**REQUEST_KINDS, "mask_selection": MaskSelection}
#: Open enumerations: a value the client does not know is sent as written.
KNOWN_VALUES: dict[str, set[str]] = {
    name: {m.value for m in enum_cls}
    for name, enum_cls in (
        ("model", Model),
        ("quality", Quality),
        ("aspect_ratio", AspectRatio),
        ("motion_mode", MotionMode),
        ("style", Style),
        ("camera_movement", CameraMovement),
        ("thinking_type", ThinkingType),
        ("type", FusionReferenceType),
    )
}

# Valid bodies of every kind (several where a kind has alternative shapes).
BASES: dict[str, list[dict[str, Any]]] = {
    "text_to_video": [
        {
            "prompt": "a cat",
            "model": "v5",
            "duration": 5,
            "quality": "540p",
            "aspect_ratio": "16:9",
        },
        {
            "prompt": "a cat",
            "model": "v3.5",
            "duration": 8,
            "quality": "720p",
            "aspect_ratio": "9:16",
            "negative_prompt": "blur",
            "motion_mode": "normal",
            "seed": 0,
            "style": "anime",
            "template_id": 302325299692608,
            "camera_movement": "zoom_in",
            "sound_effect_switch": True,
            "sound_effect_content": "rain",
            "lip_sync_switch": True,
            "lip_sync_tts_speaker_id": "Auto",
            "lip_sync_tts_content": "hello",
        },
    ],
    "image_to_video": [
        {"prompt": "yawn", "model": "v4.5", "duration": 5, "quality": "540p", "img_id": 7},
        {
            "prompt": "yawn",
            "model": "v4",
            "duration": 5,
            "quality": "360p",
            "img_ids": [7, 8],
            "template_id": 9,
            "motion_mode": "fast",
        },
    ],
    "transition": [
        {
            "prompt": "morph",
            "model": "v4.5",
            "duration": 5,
            "quality": "540p",
            "first_frame_img": 1,
            "last_frame_img": 2,
            "sound_effect_switch": False,
            "lip_sync_switch": True,
            "lip_sync_tts_speaker_id": "7",
            "lip_sync_tts_content": "hi",
        }
    ],
    "multi_transition": [
        {
            "model": "v5",
            "quality": "360p",
            "multi_transition": [
                {"img_id": 1, "duration": 3, "prompt": "a"},
                {"img_id": 2, "duration": 10},
                {"img_id": 3, "duration": 0, "prompt": ""},
            ],
        }
    ],
    "extend": [
        {
            "source_video_id": 9,
            "prompt": "onwards",
            "seed": 1,
            "quality": "540p",
            "duration": 5,
            "model": "v3.5",
            "style": "clay",
        },
        {
            "video_media_id": 9,
            "prompt": "onwards",
            "seed": 1,
            "quality": "1080p",
            "duration": 5,
            "model": "v6",
        },
    ],
    "fusion": [
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
            "seed": 5,
        }
    ],
    "restyle": [
        {"source_video_id": 5, "restyle_id": 3, "seed": 1},
        {"video_media_id": 5, "restyle_prompt": "as clay"},
    ],
    "mask_selection": [{"video_media_id": 3}, {"source_video_id": 3, "keyframe_id": 2}],
    "swap": [
        {"video_media_id": 3, "mask_id": "12", "img_id": 4, "quality": "360p"},
        {"source_video_id": 3, "keyframe_id": 2, "mask_id": "12", "img_id": 4, "quality": "720p"},
    ],
    "lip_sync": [
        {"source_video_id": 1, "audio_media_id": 2},
        {"video_media_id": 1, "lip_sync_tts_speaker_id": "Auto", "lip_sync_tts_content": "hey"},
    ],
    "mimic": [
        {"img_id": 1, "video_media_id": 2},
        {"img_id": 1, "source_video_id": 2, "quality": "720p", "webhook_id": "9"},
    ],
    "modify": [
        {"source_video_id": 1, "prompt": "remove @selection0"},
        {"video_media_id": 1, "prompt": "@selection0 wears @img0", "quality": "540p"},
    ],
    "sound_effect": [
        {"source_video_id": 1},
        {"video_media_id": 1, "original_sound_switch": True, "sound_effect_content": "birds"},
    ],
}

# --- the two validators -------------------------------------------------------------------------


def client_verdict(kind: str, body: dict[str, Any]) -> ValidationError | None:
    """The client's answer: None when the request builds. Nothing but ValidationError escapes."""
    try:
        from_mapping(KINDS[kind], copy.deepcopy(body))
    except ValidationError as exc:
        return exc
    return None


def sent_body(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """What goes on the wire: the request's JSON when the client accepts, else ``body``."""
    try:
        return to_json(from_mapping(KINDS[kind], copy.deepcopy(body)))
    except ValidationError:
        return body


def emulator_verdict(kind: str, body: dict[str, Any]) -> Rejection | None:
    """The emulator's answer to what the client sends, as JSON on the wire."""
    return VALIDATORS[KINDS[kind].path](json.loads(json.dumps(sent_body(kind, body))))


def service_decides(kind: str, body: dict[str, Any], rejection: Rejection) -> bool:
    """The emulator refuses a value the client does not know and so sends as written."""
    path = parse_path(rejection.field)
    found, value = lookup(sent_body(kind, body), path)
    name = path[-1] if path else None
    return (
        found
        and isinstance(name, str)
        and name in KNOWN_VALUES
        and isinstance(value, str)
        and value not in KNOWN_VALUES[name]
    )


# --- where the two legitimately differ -----------------------------------------------------------

Path = list[str | int]


def parse_path(field: str) -> Path:
    """``image_references[1].ref_name`` -> ``["image_references", 1, "ref_name"]``."""
    path: Path = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
        path.append(int(index) if index else name)
    return path


def lookup(body: Any, path: Path) -> tuple[bool, Any]:
    """``(found, value)`` at ``path`` in ``body``."""
    node = body
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return False, None
        elif not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def assign(body: Any, path: Path, value: Any) -> None:
    parent = lookup(body, path[:-1])[1]
    parent[path[-1]] = value


def remove(body: Any, path: Path) -> None:
    parent = lookup(body, path[:-1])[1]
    del parent[path[-1]]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_blank(value: Any) -> bool:
    return (isinstance(value, str) and not value.strip()) or value == []


ID_FIELDS = {
    "img_id",
    "img_ids",
    "template_id",
    "source_video_id",
    "video_media_id",
    "audio_media_id",
    "restyle_id",
    "first_frame_img",
    "last_frame_img",
}
FIELD_NAMES: dict[str, set[str]] = {
    **{kind: set(attrs.fields_dict(cls)) for kind, cls in KINDS.items()},
    "multi_transition[]": set(attrs.fields_dict(MultiTransitionFrame)),
    "image_references[]": set(attrs.fields_dict(ImageReference)),
}

Applies = Callable[[str, dict[str, Any], ValidationError, Path, Any], bool]
Repair = Callable[[dict[str, Any], Path], None]


@dataclass(frozen=True)
class Divergence:
    """The client refuses something the emulator accepts, on purpose."""

    name: str
    reason: str
    applies: Applies  # (kind, body, client error, its field as a path, the value there)
    repair: Repair | None  # removes the cause without changing the emulator's answer


def _set(value: Any) -> Repair:
    return lambda body, path: assign(body, path, value)


def _drop(*names: str) -> Repair:
    def repair(body: dict[str, Any], path: Path) -> None:
        for name in names:
            body.pop(name, None)

    return repair


DIVERGENCES = [
    Divergence(
        "id_range",
        "Ids are 1..2**64-1 in the client (no id is 0); the emulator reads the page's uint64 "
        "and 0 passes its validation. An id that does not exist is then refused from state "
        "(400032/500008).",
        lambda kind, body, err, path, value: (
            any(k in ID_FIELDS for k in path if isinstance(k, str))
            and is_int(value)
            and (value == 0 or CLIENT_MAX_ID < value <= ID_MAX)
        ),
        lambda body, path: assign(body, path, 1),
    ),
    Divergence(
        "int32_counters",
        "The client bounds durations and keyframe ids to a 32-bit int; the emulator only asks "
        "for at least 1 (the pages state no maximum; durations of known models are 5 or 8, and a "
        "multi-transition total is at most 30 s, on both sides).",
        lambda kind, body, err, path, value: (
            path[-1] in ("duration", "keyframe_id") and is_int(value) and value > MAX_INT32
        ),
        lambda body, path: assign(body, path, 5 if path[-1] == "duration" else 1),
    ),
    Divergence(
        "model_name",
        "A model name with whitespace or over 64 characters cannot be a model: the client "
        "refuses it (typo guard); the emulator forwards any non-blank string as an unknown model.",
        lambda kind, body, err, path, value: (
            path == ["model"]
            and isinstance(value, str)
            and bool(value.strip())
            and (len(value) > 64 or any(ch.isspace() for ch in value))
        ),
        _set("v9"),  # still a model neither side knows, so the same rules apply
    ),
    Divergence(
        "blank_value",
        "The client refuses a blank string or an empty list it would otherwise send (a blank "
        "enum value, TTS speaker or content, restyle prompt, img_ids=[]); the emulator reads "
        "those as 'not given' (its documented decision), which left out is valid here.",
        lambda kind, body, err, path, value: is_blank(value),
        lambda body, path: remove(body, path),
    ),
    Divergence(
        "audio_opt_in",
        "sound_effect_content needs sound_effect_switch=true, and the lip-sync TTS fields need "
        "lip_sync_switch=true, in the client; the emulator accepts them without the switch "
        "(the service would silently ignore them).",
        lambda kind, body, err, path, value: (
            (
                path == ["sound_effect_switch"]
                and (value is None or value is False)
                and body.get("sound_effect_content") is not None
            )
            or (
                path == ["lip_sync_switch"]
                and (value is None or value is False)
                and (
                    body.get("lip_sync_tts_speaker_id") is not None
                    or body.get("lip_sync_tts_content") is not None
                )
            )
        ),
        lambda body, path: _drop(
            *(
                ("sound_effect_content",)
                if path == ["sound_effect_switch"]
                else ("lip_sync_tts_speaker_id", "lip_sync_tts_content")
            )
        )(body, path),
    ),
    Divergence(
        "img_ids_need_template",
        "img_ids is only for multi-image templates, so the client requires template_id with "
        "it; the emulator does not tie the two.",
        lambda kind, body, err, path, value: (
            kind == "image_to_video"
            and path == ["img_ids"]
            and isinstance(value, list)
            and bool(value)
            and body.get("template_id") is None
        ),
        lambda body, path: body.__setitem__("template_id", 1),
    ),
    Divergence(
        "unknown_key",
        "The client refuses keys its request classes do not have (a typo guard for batch files); "
        "the service and the emulator ignore unknown keys.",
        lambda kind, body, err, path, value: (
            isinstance(path[-1], str)
            and path[-1] not in FIELD_NAMES[f"{path[0]}[]" if len(path) > 1 else kind]
        ),
        lambda body, path: remove(body, path),
    ),
    Divergence(
        "ref_name_characters",
        "A fusion ref_name with whitespace or '@' cannot be mentioned as @ref_name in a prompt; "
        "the client refuses it, the emulator only needs the mention to match.",
        lambda kind, body, err, path, value: (
            path[-1] == "ref_name"
            and isinstance(value, str)
            and bool(value.strip())
            and ("@" in value or any(ch.isspace() for ch in value))
        ),
        None,  # renaming would change the prompt's mentions: stop here
    ),
    Divergence(
        "swap_keyframe_null",
        "Swap.keyframe_id=None is refused by the client (leave it out for the default 1); the "
        "emulator reads JSON null as 'not given', i.e. the default 1.",
        lambda kind, body, err, path, value: (
            kind == "swap" and path == ["keyframe_id"] and value is None and "keyframe_id" in body
        ),
        lambda body, path: remove(body, path),
    ),
]


def explain(kind: str, body: dict[str, Any]) -> list[str]:
    """Check the two sides agree on ``body``, up to documented divergences; return those used."""
    body = copy.deepcopy(body)
    used: list[str] = []
    for _ in range(12):
        client, emulator = client_verdict(kind, body), emulator_verdict(kind, body)
        if (client is None) == (emulator is None):
            return used
        if client is None:
            assert emulator is not None
            assert service_decides(kind, body, emulator), (
                f"the emulator refuses what the client accepts: {emulator} for {kind} {body!r}"
            )
            return [*used, "service_decides"]
        path = parse_path(client.field)
        value = lookup(body, path)[1]
        divergence = next(
            (d for d in DIVERGENCES if d.applies(kind, body, client, path, value)), None
        )
        assert divergence is not None, (
            f"undocumented disagreement: the client refuses ({client}) what the emulator "
            f"accepts: {kind} {body!r}"
        )
        used.append(divergence.name)
        if divergence.repair is None:
            return used
        divergence.repair(body, path)
        assert emulator_verdict(kind, body) is None, (divergence.name, body)
    raise AssertionError(f"no agreement after repairs {used}: {kind} {body!r}")


# --- generated bodies ---------------------------------------------------------------------------

IDS = st.sampled_from([1, 7, 302325299692608, 0, -1, CLIENT_MAX_ID, 2**63, ID_MAX, 2**64])
INTS = st.sampled_from([0, 1, 2, 3, 5, 8, 10, 30, 31, -1, MAX_INT32, 2**31, 2**53]) | st.integers(
    -(2**70), 2**70
)
TEXTS = st.sampled_from(
    [
        "",
        " ",
        "x",
        "a cat",
        "@dog plays at @room",
        "@dog",
        "@dogs @room",
        "Auto",
        "7",
        "v6",
        "v 6",
        " v6",
        "v" * 65,
        "p" * 2048,
        "p" * 2049,
        "t" * 140,
        "t" * 141,
        "é" * 141,
    ]
) | st.text(max_size=8)
VOCAB = st.sampled_from(
    [
        *Vocab.MODELS,
        "v5.5",
        "v6",
        *Vocab.QUALITIES,
        "4k",
        "540P",
        *Vocab.ASPECT_RATIOS,
        "2:1",
        *Vocab.MOTION_MODES,
        "slow",
        *Vocab.STYLES,
        "watercolor",
        *Vocab.CAMERA_MOVEMENTS[:4],
        "spin",
        *Vocab.FUSION_REFERENCE_TYPES,
        "foreground",
    ]
)
JUNK = st.sampled_from([None, True, False, 5.0, 1.5, [], [1], {}, {"a": 1}, "true", "5"])
SCALAR = IDS | INTS | TEXTS | VOCAB | JUNK

FRAME_OK = st.fixed_dictionaries(
    {"img_id": st.sampled_from([1, 2, 3])},
    optional={
        "duration": st.sampled_from([0, 1, 3, 5, 10, 20]),
        "prompt": st.sampled_from(["", "go"]),
    },
)
FRAME_ANY = st.fixed_dictionaries(
    {}, optional={"img_id": IDS | JUNK, "duration": INTS | JUNK, "prompt": TEXTS | JUNK}
)
FRAMES = st.lists(FRAME_OK, min_size=1, max_size=8) | st.lists(
    FRAME_OK | FRAME_ANY | JUNK | st.just({"img_id": 1, "duration": 3, "colour": "red"}),
    max_size=8,
)
REF_OK = st.fixed_dictionaries(
    {
        "type": st.sampled_from(Vocab.FUSION_REFERENCE_TYPES),
        "img_id": st.sampled_from([1, 2]),
        "ref_name": st.sampled_from(["dog", "room"]),
    }
)
REF_ANY = st.fixed_dictionaries(
    {},
    optional={
        "type": VOCAB | JUNK,
        "img_id": IDS | JUNK,
        "ref_name": st.sampled_from(["dog", "room", "cat", "d g", "a@b", "", " ", "dog_1"]) | JUNK,
        "size": st.just(3),
    },
)
REFS = st.lists(REF_OK, min_size=1, max_size=3) | st.lists(REF_OK | REF_ANY | JUNK, max_size=3)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "prompt": TEXTS,
    "negative_prompt": TEXTS,
    "restyle_prompt": TEXTS,
    "model": st.sampled_from([*Vocab.MODELS, "v5.5", "v6", "", " ", " v6", "v 6", "v" * 65]),
    "duration": st.sampled_from([5, 8, 1, 6, 10, 0, -5, 2**31]),
    "quality": st.sampled_from([*Vocab.QUALITIES, "4k", ""]),
    "aspect_ratio": st.sampled_from([*Vocab.ASPECT_RATIOS, "2:1", ""]),
    "motion_mode": st.sampled_from([*Vocab.MOTION_MODES, "slow", "", " "]),
    "style": st.sampled_from([*Vocab.STYLES, "watercolor", ""]),
    "camera_movement": st.sampled_from([*Vocab.CAMERA_MOVEMENTS, "spin", ""]),
    "seed": st.sampled_from([0, 7, MAX_INT32, 2**31, -1]),
    "img_ids": st.lists(IDS | JUNK, max_size=3),
    "sound_effect_switch": st.booleans(),
    "lip_sync_switch": st.booleans(),
    "original_sound_switch": st.booleans(),
    "sound_effect_content": st.sampled_from(["rain", "", " "]),
    "lip_sync_tts_speaker_id": st.sampled_from(["Auto", "7", "", " "]),
    "lip_sync_tts_content": st.sampled_from(["hello", "", " ", "t" * 140, "t" * 141]),
    "keyframe_id": st.sampled_from([1, 2, 0, 2**31, 2**64]),
    "webhook_id": st.sampled_from(["1234", "", 1234]),
    "generate_audio_switch": st.booleans() | JUNK,
    "generate_multi_clip_switch": st.booleans(),
    "thinking_type": st.sampled_from([*Vocab.THINKING_TYPES, "deep", ""]),
    "mask_id": st.sampled_from(["12", "", " ", 12]),
    "multi_transition": FRAMES,
    "image_references": REFS,
    **{name: IDS for name in ID_FIELDS if name != "img_ids"},
}


@st.composite
def mutated_bodies(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    body = copy.deepcopy(draw(st.sampled_from(BASES[kind])))
    names = sorted(set(attrs.fields_dict(KINDS[kind])) - TRANSPORT_OPTIONS - {"extra_body"})
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["field"] * 5 + ["any"] * 2 + ["drop"] * 2 + ["unknown"]))
        name = draw(st.sampled_from(names))
        if action == "drop":
            body.pop(name, None)
        elif action == "unknown":
            body[draw(st.sampled_from(["colour", "lip_sync_tts_switch", "camera_movement"]))] = 1
        else:  # a value meant for this field (mostly valid), or any value at all
            body[name] = draw(FIELD_VALUES[name] if action == "field" else SCALAR)
    return body


AGREEMENT = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", list(KINDS))
@AGREEMENT
@given(data=st.data())
def test_client_and_emulator_agree(kind: str, data: st.DataObject) -> None:
    body = data.draw(mutated_bodies(kind))
    used = explain(kind, body)
    accepted = client_verdict(kind, body) is None
    event("accepted by both" if accepted else "refused by the client")
    for name in used:
        event(f"divergence: {name}")


# --- the fixed points: valid bodies, and each divergence is real ---------------------------------


@pytest.mark.parametrize(("kind", "body"), [(k, b) for k, bodies in BASES.items() for b in bodies])
def test_base_bodies_are_valid_on_both_sides(kind: str, body: dict[str, Any]) -> None:
    assert client_verdict(kind, body) is None
    assert emulator_verdict(kind, body) is None


def base(kind: str, index: int = 0, **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASES[kind][index]), **changes}


# One body per divergence (and per repair path): the client refuses it, the emulator takes it.
DIVERGENCE_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    ("id_range", "image_to_video", base("image_to_video", img_id=0)),
    ("id_range", "restyle", base("restyle", restyle_id=0)),
    ("id_range", "image_to_video", base("image_to_video", 1, img_ids=[7, 0])),
    ("int32_counters", "text_to_video", base("text_to_video", model="c1", duration=2**31)),
    ("int32_counters", "swap", base("swap", 1, keyframe_id=2**40)),
    ("model_name", "text_to_video", base("text_to_video", model="v 6")),
    ("blank_value", "text_to_video", base("text_to_video", motion_mode="")),
    ("blank_value", "lip_sync", base("lip_sync", lip_sync_tts_content=" ")),
    ("blank_value", "restyle", base("restyle", restyle_prompt=" ")),
    ("blank_value", "image_to_video", base("image_to_video", img_ids=[])),
    ("audio_opt_in", "text_to_video", base("text_to_video", sound_effect_content="rain")),
    ("audio_opt_in", "transition", base("transition", lip_sync_switch=False)),
    ("img_ids_need_template", "image_to_video", base("image_to_video", 1, template_id=None)),
    ("unknown_key", "sound_effect", base("sound_effect", colour="red")),
    (
        "unknown_key",
        "multi_transition",
        base(
            "multi_transition",
            multi_transition=[{"img_id": 1, "duration": 3, "x": 1}, {"img_id": 2}],
        ),
    ),
    (
        "ref_name_characters",
        "fusion",
        base(
            "fusion",
            image_references=[{"type": "subject", "img_id": 1, "ref_name": "my dog"}],
            prompt="@my dog",
        ),
    ),
    ("swap_keyframe_null", "swap", base("swap", keyframe_id=None)),
]


def test_every_divergence_has_an_example() -> None:
    assert {name for name, *_ in DIVERGENCE_EXAMPLES} == {d.name for d in DIVERGENCES}


@pytest.mark.parametrize(("name", "kind", "body"), DIVERGENCE_EXAMPLES)
def test_each_divergence_is_real_and_documented(name: str, kind: str, body: dict[str, Any]) -> None:
    # if one side changes so that this no longer diverges, drop the Divergence
    assert client_verdict(kind, body) is not None
    assert emulator_verdict(kind, body) is None
    assert explain(kind, body)[0] == name


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        # fixed: the page's example sends duration 0 on the last frame, and it is not counted
        ("multi_transition", base("multi_transition", multi_transition=[
            {"img_id": 1, "duration": 10}, {"img_id": 2, "duration": 10},
            {"img_id": 3, "duration": 10}, {"img_id": 4, "duration": 5}])),
        ("multi_transition", base("multi_transition", multi_transition=[
            {"img_id": 1, "duration": 3}, {"img_id": 2, "duration": 0}])),
        # unknown models skip only the model-specific rules, on both sides
        ("text_to_video", base("text_to_video", model="c1", duration=10, style="clay",
                               motion_mode="normal")),
        ("extend", base("extend", 1, model="v5.5", motion_mode="normal")),
        # 64-bit unsigned ids (the API notes)
        ("image_to_video", base("image_to_video", img_id=2**63)),
        ("image_to_video", base("image_to_video", img_id=ID_MAX)),
        # the five calls of issue 11 (the client fills nothing they give)
        ("text_to_video", {"prompt": "x", "model": "v6", "duration": 15, "quality": "1080p",
                           "aspect_ratio": "21:9"}),
        ("text_to_video", {"prompt": "x", "model": "v5.5", "duration": 5, "quality": "720p",
                           "aspect_ratio": "16:9", "generate_audio_switch": True}),
        ("text_to_video", {"prompt": "x", "model": "v5.5", "thinking_type": "auto"}),
        ("text_to_video", {"prompt": "x", "model": "v5", "webhook_id": "1234"}),
        ("text_to_video", {"prompt": "x", "model": "c1", "duration": 7, "quality": "1080p",
                           "aspect_ratio": "3:2"}),
        # defaults filled by the client (one rule for SDK, batch line and CLI)
        ("text_to_video", {"prompt": "a paper boat"}),
    ],
)  # fmt: skip
def test_accepted_by_both(kind: str, body: dict[str, Any]) -> None:
    assert client_verdict(kind, body) is None
    assert emulator_verdict(kind, body) is None


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        # fixed: blank TTS content with the switch on (the emulator answers 400011)
        ("text_to_video", base("text_to_video", 1, lip_sync_tts_content=" ")),
        # fixed: a blank string or [] is not a "not given" integer or boolean in the emulator
        ("text_to_video", base("text_to_video", seed="")),
        ("transition", base("transition", sound_effect_switch=[])),
        ("sound_effect", base("sound_effect", original_sound_switch=" ")),
        ("mask_selection", base("mask_selection", keyframe_id="")),
        # a sourced rule for a known model: v5.5 has no 10 s at 1080p
        ("text_to_video", base("text_to_video", model="v5.5", duration=10, quality="1080p")),
        # both sides: the last frame's duration is not counted, the others are
        ("multi_transition", base("multi_transition", multi_transition=[
            {"img_id": 1, "duration": 20}, {"img_id": 2, "duration": 11}, {"img_id": 3}])),
        ("multi_transition", base("multi_transition", multi_transition=[
            {"img_id": 1, "duration": 0}, {"img_id": 2}])),
    ],
)  # fmt: skip
def test_refused_by_both(kind: str, body: dict[str, Any]) -> None:
    assert client_verdict(kind, body) is not None
    assert emulator_verdict(kind, body) is not None


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("text_to_video", {"quality": "4k"}),
        ("text_to_video", {"model": "v6", "aspect_ratio": "2:1", "motion_mode": "slow"}),
        ("text_to_video", {"model": "v5.5", "thinking_type": "deep"}),
        ("fusion", {"image_references": [{"type": "foreground", "img_id": 1, "ref_name": "dog"}],
                    "prompt": "@dog"}),
        ("swap", {"quality": "1440p"}),
    ],
)  # fmt: skip
def test_unknown_values_are_sent_and_the_service_decides(
    kind: str, changes: dict[str, Any]
) -> None:
    body = base(kind, **changes)
    assert client_verdict(kind, body) is None  # sent as written
    rejection = emulator_verdict(kind, body)
    assert rejection is not None and service_decides(kind, body, rejection)
