"""Request validation for the emulator, written from the spec pages and docs/api-notes.md.

This module is the emulator's own reading of the spec: it imports nothing from the client
side except :mod:`pixverse_async.constants`, so a client bug cannot hide the same bug here.
Everything is a pure function of the parsed JSON; there is no aiohttp and no state.

API
---
``VALIDATORS[path](body) -> Rejection | None`` for every JSON generation endpoint, keyed by
``Paths.*``. ``body`` is whatever ``json.loads`` produced (object, list, string, null...); the
validators never raise on it. ``validate_list_query(params)`` checks the ``page_num`` /
``page_size`` query parameters of the GET list endpoints (TTS list, restyle list).
``referenced_ids(path, body)`` lists the integer ids a valid body points at (``Reference(kind,
field, id)``, kinds in ``RefKind``) so the app can check them against its state; ``REFERENCES``
is the same knowledge as data (field patterns such as ``multi_transition[].img_id``).

Error codes (one mapping, applied everywhere)
---------------------------------------------
* ``EMPTY_PARAMETER`` (400011): a required field is missing, ``null``, an empty or blank string,
  or an empty list; also "none of" a required alternative (``source_video_id`` /
  ``video_media_id``, ``img_id`` / ``img_ids``, ...).
* ``WRONG_PARAMETER`` (400013): wrong JSON type: the body is not an object, a string where an
  integer belongs, ``true``/``false`` or ``5.0`` where an integer belongs, ``0``/``1`` or
  ``"true"`` where a boolean belongs, a list item that is not an object, a query parameter that
  is not a decimal integer.
* ``INVALID_PARAMETER`` (400017): right type, wrong value: not in an enum, out of range,
  wrong list length, or a forbidden combination (both alternatives given, 1080p with 8 s, ...).
* ``PROMPT_TOO_LONG`` (400018): ``prompt`` (also ``restyle_prompt`` and a multi-transition
  frame's ``prompt``) longer than 2048 characters; ``NEGATIVE_PROMPT_TOO_LONG`` (400019): the
  same for ``negative_prompt``.

``Rejection.field`` names the offending field as a path (``multi_transition[2].duration``,
``img_ids[0]``); a body that is not an object is reported on the field ``body``. Checks run in
a fixed order: required fields present, then each field's type and value in page order, then
cross-field rules; the first failure wins.

Decisions (where the pages are silent or contradict themselves)
--------------------------------------------------------------
* ``null``, ``""``/blank strings and ``[]`` count as "not given" for optional fields too, but
  only where the field holds that JSON type: ``"seed": ""`` or ``"lip_sync_switch": []`` is
  the wrong type (400013), as the client sees it (a blank string is no integer).
* Unknown keys are ignored, as the live service does. ``camera_movement`` is checked on text-
  and image-to-video only (NOTES); on other pages it is an unknown key.
* Models: any non-empty string is accepted (v6, c1, ...). Model-specific rules are one row per
  model in ``MODEL_LIMITS`` (docs/api-notes.md): durations (5/8; 5/8/10 on v5.5), the
  durations 1080p keeps, where fast motion works, the fields a model does not take (motion
  mode on v5, style past v3.5, the v5.5 fields before v5.5; v6: 1 to 15 s, multi-clip only on
  text and image). A model without a row (c1, unknown) only needs a positive integer
  duration. The vocabularies (quality, aspect ratio with the reported 3:2, 2:3, 21:9, styles,
  thinking types) always apply.
* ``webhook_id`` is a string; ``generate_audio_switch`` and ``generate_multi_clip_switch``
  are booleans; ``thinking_type`` is enabled, disabled or auto.
* Mimic (motion control): ``img_id`` and exactly one of ``video_media_id`` /
  ``source_video_id``; image template: a non-empty ``img_ids`` and a ``template_id``; the
  reported upscale endpoint: one video source (its fields are not published). Modify: exactly
  one of ``source_video_id`` / ``video_media_id`` and a prompt; its other fields (areas,
  images, keyframe) are not published and pass.
* Transition: only prompt, model, duration, quality, first_frame_img, last_frame_img are
  required; the switches are optional booleans (NOTES). Extend and fusion keep their pages'
  required lists, ``seed`` included.
* Image-to-video: exactly one of ``img_id`` / ``img_ids`` (the page's required ``img_id`` is
  relaxed for multi-image templates); ``img_ids`` does not also demand a ``template_id``.
* ``lip_sync_switch: true`` on a generation page requires ``lip_sync_tts_speaker_id`` and
  ``lip_sync_tts_content``; TTS content is at most 140 characters wherever it is given.
* Lip sync: exactly one of ``source_video_id`` / ``video_media_id`` and exactly one of
  ``audio_media_id`` or (``lip_sync_tts_speaker_id`` and ``lip_sync_tts_content``).
* Swap and mask selection: ``keyframe_id`` is optional (the page and NOTES give it a default of
  1) and at least 1; its upper bound and the mask/video pairing are state, the app's job.
* Multi-transition: 2 to 7 frames; every frame has ``img_id``; every frame but the last has an
  integer ``duration >= 1``; the last frame's ``duration`` is optional, may be 0 (as in the
  page's example) and is not counted; the counted total is 1 to 30 s.
* Fusion: ``image_references`` is a non-empty list of ``{type, img_id, ref_name}``, ``type`` in
  subject/background, ``ref_name`` unique (case-sensitive) and mentioned in the prompt as
  ``@ref_name`` not followed by a word character (``@dogs`` does not mention ``dog``).
* Ids (``img_id``, ``*_video_id``, ``*_media_id``, ``template_id``, ``restyle_id``) are JSON
  integers from 0 to 2**64-1 (the pages type them uint64); whether they exist is the app's job.
* Lengths are counted in Unicode code points (Python ``len``).
* List queries: ``page_num`` and ``page_size`` are required decimal integers (leading zeros
  allowed, no sign); ``page_num >= 1``; ``1 <= page_size <= PAGE_SIZE_MAX`` (100).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from pixverse_async.constants import ErrCode, Limits, Paths, Vocab

__all__ = [
    "ID_MAX",
    "PAGE_SIZE_MAX",
    "REFERENCES",
    "VALIDATORS",
    "RefKind",
    "Reference",
    "Rejection",
    "referenced_ids",
    "validate_list_query",
]

ID_MAX: Final = 2**64 - 1
"""Largest id accepted (the pages type ids as uint64)."""

PAGE_SIZE_MAX: Final = 100
"""Largest ``page_size`` the list endpoints accept (the pages state none; chosen here)."""

_QUERY_MAX_DIGITS: Final = 18  # longer digit strings are out of range, and never parsed


@dataclass(frozen=True)
class Rejection:
    """Why a request is refused: the business code, a message naming the field and the rule."""

    err_code: int
    err_msg: str
    field: str


class RefKind:
    """Kinds of integer ids a request can point at (``Reference.kind``).

    ``mask_id`` (swap) and ``lip_sync_tts_speaker_id`` are string handles, not ids: the app
    reads them from the body itself (the swap's mask/keyframe/video pairing is its job).
    """

    IMAGE: Final = "image"  # img_id from the image upload
    VIDEO: Final = "video"  # video_id from a generation
    MEDIA_VIDEO: Final = "media_video"  # media_id of an uploaded video
    MEDIA_AUDIO: Final = "media_audio"  # media_id of an uploaded audio
    TEMPLATE: Final = "template"  # template_id (must be activated)
    RESTYLE: Final = "restyle"  # restyle_id from the restyle effect list
    STORED: Final = (IMAGE, VIDEO, MEDIA_VIDEO, MEDIA_AUDIO)  # issued by the emulator itself
    ALL: Final = (*STORED, TEMPLATE, RESTYLE)


class Reference(NamedTuple):
    """One id a request refers to: its kind, the field path it sits at, and the id."""

    kind: str
    field: str
    id: int


# --------------------------------------------------------------------------- helpers

_Check = Callable[[str, object], Rejection | None]
_Rule = Callable[[Mapping[str, object]], Rejection | None]


def _absent(value: object) -> bool:
    """True for what counts as "not given": null, a blank string, an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list) and not value


def _show(value: object) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # int too long to print, absurdly deep nesting
        return f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _empty(field: str, rule: str = "is required") -> Rejection:
    return Rejection(ErrCode.EMPTY_PARAMETER, f"{field}: {rule}", field)


def _wrong(field: str, expected: str, value: object) -> Rejection:
    return Rejection(
        ErrCode.WRONG_PARAMETER,
        f"{field}: must be {expected}, got {type(value).__name__} {_show(value)}",
        field,
    )


def _invalid(field: str, rule: str) -> Rejection:
    return Rejection(ErrCode.INVALID_PARAMETER, f"{field}: {rule}", field)


def _choices(options: Sequence[object]) -> str:
    return ", ".join(str(o) for o in options)


# --------------------------------------------------------------------------- field checks


def _integer(lo: int | None = None, hi: int | None = None) -> _Check:
    if lo is not None and hi is not None:
        rule = f"must be from {lo} to {hi}"
    elif lo is not None:
        rule = f"must be at least {lo}"
    else:
        rule = f"must be at most {hi}"

    def check(field: str, value: object) -> Rejection | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return _wrong(field, "an integer", value)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return _invalid(field, f"{rule}, got {_show(value)}")
        return None

    return check


_ident = _integer(0, ID_MAX)


def _boolean(field: str, value: object) -> Rejection | None:
    if not isinstance(value, bool):
        return _wrong(field, "a boolean", value)
    return None


def _string(max_len: int | None = None, too_long: int = ErrCode.INVALID_PARAMETER) -> _Check:
    def check(field: str, value: object) -> Rejection | None:
        if not isinstance(value, str):
            return _wrong(field, "a string", value)
        if max_len is not None and len(value) > max_len:
            return Rejection(
                too_long, f"{field}: must be at most {max_len} characters, got {len(value)}", field
            )
        return None

    return check


def _one_of(options: Sequence[str]) -> _Check:
    def check(field: str, value: object) -> Rejection | None:
        if not isinstance(value, str):
            return _wrong(field, "a string", value)
        if value not in options:
            return _invalid(field, f"must be one of {_choices(options)}, got {_show(value)}")
        return None

    return check


def _list_of(item: _Check) -> _Check:
    def check(field: str, value: object) -> Rejection | None:
        if not isinstance(value, list):
            return _wrong(field, "a list", value)
        for index, element in enumerate(value):
            rejection = item(f"{field}[{index}]", element)
            if rejection is not None:
                return rejection
        return None

    return check


@dataclass(frozen=True)
class _Field:
    name: str
    check: _Check
    required: bool = False


def _check_object(
    obj: Mapping[str, object], fields: Sequence[_Field], prefix: str = ""
) -> Rejection | None:
    """Required fields first, then each given field's type and value, in order."""
    for f in fields:
        if f.required and _absent(obj.get(f.name)):
            return _empty(prefix + f.name)
    for f in fields:
        value = obj.get(f.name)
        rejection = None if value is None else f.check(prefix + f.name, value)
        if _absent(value) and (rejection is None or rejection.err_code != ErrCode.WRONG_PARAMETER):
            continue  # "not given"; but a blank string or [] is never an integer or a boolean
        if rejection is not None:
            return rejection
    return None


# --------------------------------------------------------------------------- field vocabulary

_PROMPT = _string(Limits.PROMPT_MAX_CHARS, ErrCode.PROMPT_TOO_LONG)


def _prompt(required: bool = True) -> _Field:
    return _Field("prompt", _PROMPT, required)


_NEGATIVE_PROMPT = _Field(
    "negative_prompt", _string(Limits.PROMPT_MAX_CHARS, ErrCode.NEGATIVE_PROMPT_TOO_LONG)
)
_MODEL = _Field("model", _string(), required=True)
_QUALITY = _Field("quality", _one_of(Vocab.QUALITIES), required=True)
_DURATION = _Field("duration", _integer(1), required=True)  # 5/8 is a rule: model-specific
_ASPECT_RATIO = _Field("aspect_ratio", _one_of(Vocab.ASPECT_RATIOS), required=True)
_MOTION_MODE = _Field("motion_mode", _one_of(Vocab.MOTION_MODES))
_STYLE = _Field("style", _one_of(Vocab.STYLES))
_TEMPLATE_ID = _Field("template_id", _ident)
_TEMPLATE_ID_REQUIRED = _Field("template_id", _ident, required=True)
_CAMERA_MOVEMENT = _Field("camera_movement", _one_of(Vocab.CAMERA_MOVEMENTS))
_WEBHOOK_ID = _Field("webhook_id", _string())  # a string (docs/api-notes.md, "Webhooks")
_V5_5 = (  # the v5.5 fields (docs/api-notes.md); which models take them is MODEL_LIMITS' rule
    _Field("generate_audio_switch", _boolean),
    _Field("generate_multi_clip_switch", _boolean),
    _Field("thinking_type", _one_of(Vocab.THINKING_TYPES)),
)


def _seed(required: bool = False) -> _Field:
    return _Field("seed", _integer(Limits.SEED_MIN, Limits.SEED_MAX), required)


_SOURCE_VIDEO_ID = _Field("source_video_id", _ident)
_VIDEO_MEDIA_ID = _Field("video_media_id", _ident)
_TTS_SPEAKER = _Field("lip_sync_tts_speaker_id", _string())
_TTS_CONTENT = _Field("lip_sync_tts_content", _string(Limits.TTS_CONTENT_MAX_CHARS))
_SOUND_EFFECT_CONTENT = _Field("sound_effect_content", _string())
_EXTRAS = (  # sound effect and lip sync add-ons of the text/image/transition pages
    _Field("sound_effect_switch", _boolean),
    _SOUND_EFFECT_CONTENT,
    _Field("lip_sync_switch", _boolean),
    _TTS_CONTENT,
    _TTS_SPEAKER,
)


# --------------------------------------------------------------------------- cross-field rules


def _exactly_one(first: str, second: str) -> _Rule:
    def rule(body: Mapping[str, object]) -> Rejection | None:
        has_first, has_second = not _absent(body.get(first)), not _absent(body.get(second))
        if not has_first and not has_second:
            return _empty(first, f"one of {first} or {second} is required")
        if has_first and has_second:
            return _invalid(second, f"give either {first} or {second}, not both")
        return None

    return rule


_ONE_VIDEO = _exactly_one("source_video_id", "video_media_id")


@dataclass(frozen=True)
class _ModelLimits:
    """One model's limits as PixVerse's pages state them; ``None``: not stated, not checked."""

    durations: tuple[int, ...] | None = None
    durations_1080p: tuple[int, ...] | None = None
    fast_durations: tuple[int, ...] | None = None
    fast_at_1080p: bool | None = None
    allowed: tuple[str, ...] = ()  # fields the pages name for this model
    refused: tuple[str, ...] = ()  # fields the pages say this model does not take
    only_on: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # its paths


_V5_5_FIELDS = ("generate_audio_switch", "generate_multi_clip_switch", "thinking_type")
_V4_ERA = _ModelLimits((5, 8), (5,), (5,), False, refused=("style", *_V5_5_FIELDS))

#: Model-specific rules, one row per model (PixVerse's text-to-video page; the spec notes;
#: v6: PixVerse's v6 parameter matrix). c1 has a page but only reported limits: no row.
MODEL_LIMITS: Final[Mapping[str, _ModelLimits]] = {
    "v3.5": _ModelLimits((5, 8), (5,), (5,), False, refused=_V5_5_FIELDS),
    "v4": _V4_ERA,
    "v4.5": _V4_ERA,
    "v5": _ModelLimits((5, 8), (5,), refused=("motion_mode", "style", *_V5_5_FIELDS)),
    "v5.5": _ModelLimits((5, 8, 10), (5, 8), allowed=_V5_5_FIELDS, refused=("style",)),
    "v5.6": _ModelLimits(allowed=("generate_audio_switch",), refused=("style",)),
    "v6": _ModelLimits(
        tuple(range(1, 16)),
        tuple(range(1, 16)),
        allowed=("generate_audio_switch", "generate_multi_clip_switch"),
        only_on={"generate_multi_clip_switch": (Paths.TEXT_TO_VIDEO, Paths.IMAGE_TO_VIDEO)},
    ),
}


def _only_on_rule(path: str) -> Callable[[Mapping[str, object]], Rejection | None]:
    """The rule of ``path`` for fields a model takes on some endpoints only."""

    def rule(body: Mapping[str, object]) -> Rejection | None:
        found = _limits(body)
        if found is None:
            return None
        model, limits = found
        for name, paths in limits.only_on.items():
            value = body.get(name)
            if path not in paths and not _absent(value) and value is not False:
                return _invalid(name, f"is not supported on this endpoint with model {model}")
        return None

    return rule


def _limits(body: Mapping[str, object]) -> tuple[str, _ModelLimits] | None:
    model = body.get("model")
    if isinstance(model, str) and model in MODEL_LIMITS:
        return model, MODEL_LIMITS[model]
    return None


def _duration_rule(body: Mapping[str, object]) -> Rejection | None:
    found = _limits(body)
    if found is None:
        return None
    model, limits = found
    duration = body.get("duration")
    if limits.durations is not None and duration not in limits.durations:
        return _invalid(
            "duration",
            f"must be one of {_choices(limits.durations)} for model {model}, got {_show(duration)}",
        )
    if (
        body.get("quality") == "1080p"
        and limits.durations_1080p is not None
        and duration not in limits.durations_1080p
    ):
        return _invalid("duration", f"1080p does not support {_show(duration)} s on {model}")
    return None


def _feature_rule(body: Mapping[str, object]) -> Rejection | None:
    """Fields a model does not take (motion mode on v5, style past v3.5, v5.5's fields)."""
    found = _limits(body)
    if found is None:
        return None
    model, limits = found
    for name in limits.refused:
        value = body.get(name)
        if not _absent(value) and value is not False:
            return _invalid(name, f"is not supported on model {model}")
    return None


def _motion_rule(body: Mapping[str, object]) -> Rejection | None:
    found = _limits(body)
    if body.get("motion_mode") != "fast" or found is None:
        return None
    model, limits = found
    if body.get("quality") == "1080p" and limits.fast_at_1080p is False:
        return _invalid("motion_mode", f"fast is not supported with 1080p on {model}")
    if limits.fast_durations is not None and body.get("duration") not in limits.fast_durations:
        return _invalid("motion_mode", f"fast is only available with duration 5 on {model}")
    return None


def _lip_sync_switch_rule(body: Mapping[str, object]) -> Rejection | None:
    if body.get("lip_sync_switch") is True:
        for name in ("lip_sync_tts_speaker_id", "lip_sync_tts_content"):
            if _absent(body.get(name)):
                return _empty(name, "is required when lip_sync_switch is true")
    return None


def _audio_or_tts_rule(body: Mapping[str, object]) -> Rejection | None:
    audio = not _absent(body.get("audio_media_id"))
    speaker = not _absent(body.get("lip_sync_tts_speaker_id"))
    content = not _absent(body.get("lip_sync_tts_content"))
    if audio:
        if speaker or content:
            field = "lip_sync_tts_speaker_id" if speaker else "lip_sync_tts_content"
            return _invalid(
                field, "give either audio_media_id or TTS speaker and content, not both"
            )
        return None
    if not speaker and not content:
        return _empty(
            "audio_media_id",
            "one of audio_media_id or lip_sync_tts_speaker_id + lip_sync_tts_content is required",
        )
    if not speaker:
        return _empty("lip_sync_tts_speaker_id", "is required with lip_sync_tts_content")
    if not content:
        return _empty("lip_sync_tts_content", "is required with lip_sync_tts_speaker_id")
    return None


# --------------------------------------------------------------------------- nested lists

_FRAME_FIELDS = (
    _Field("img_id", _ident, required=True),
    _Field("duration", _integer(1), required=True),
    _prompt(required=False),
)
_LAST_FRAME_FIELDS = (
    _Field("img_id", _ident, required=True),
    _Field("duration", _integer(0)),  # optional and not counted; the page's example sends 0
    _prompt(required=False),
)


def _multi_transition(field: str, value: object) -> Rejection | None:
    if not isinstance(value, list):
        return _wrong(field, "a list", value)
    low, high = Limits.MULTI_TRANSITION_MIN_FRAMES, Limits.MULTI_TRANSITION_MAX_FRAMES
    if not low <= len(value) <= high:
        return _invalid(field, f"must hold {low} to {high} frames, got {len(value)}")
    total = 0
    for index, frame in enumerate(value):
        path = f"{field}[{index}]"
        if not isinstance(frame, dict):
            return _wrong(path, "an object", frame)
        last = index == len(value) - 1
        rejection = _check_object(frame, _LAST_FRAME_FIELDS if last else _FRAME_FIELDS, path + ".")
        if rejection is not None:
            return rejection
        if not last:
            total += frame["duration"]
    low, high = (
        Limits.MULTI_TRANSITION_MIN_TOTAL_SECONDS,
        Limits.MULTI_TRANSITION_MAX_TOTAL_SECONDS,
    )
    if not low <= total <= high:
        return _invalid(field, f"total duration must be {low} to {high} s, got {total}")
    return None


_REFERENCE_FIELDS = (
    _Field("type", _one_of(Vocab.FUSION_REFERENCE_TYPES), required=True),
    _Field("img_id", _ident, required=True),
    _Field("ref_name", _string(), required=True),
)


def _image_references(field: str, value: object) -> Rejection | None:
    if not isinstance(value, list):
        return _wrong(field, "a list", value)
    seen: set[str] = set()
    for index, reference in enumerate(value):
        path = f"{field}[{index}]"
        if not isinstance(reference, dict):
            return _wrong(path, "an object", reference)
        rejection = _check_object(reference, _REFERENCE_FIELDS, path + ".")
        if rejection is not None:
            return rejection
        name = reference["ref_name"]
        if name in seen:
            return _invalid(f"{path}.ref_name", f"duplicate ref_name {_show(name)}")
        seen.add(name)
    return None


def _mentions_rule(body: Mapping[str, object]) -> Rejection | None:
    prompt, references = body.get("prompt"), body.get("image_references")
    if not isinstance(prompt, str) or not isinstance(references, list):
        return None
    for index, reference in enumerate(references):
        name = reference.get("ref_name") if isinstance(reference, dict) else None
        if isinstance(name, str) and not re.search("@" + re.escape(name) + r"(?!\w)", prompt):
            return _invalid(
                f"image_references[{index}].ref_name",
                f"{_show(name)} is not mentioned in the prompt as @{name}",
            )
    return None


# --------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class _Endpoint:
    fields: tuple[_Field, ...]
    rules: tuple[_Rule, ...] = ()

    def __call__(self, body: Any) -> Rejection | None:
        if not isinstance(body, dict):
            return _wrong("body", "a JSON object", body)
        rejection = _check_object(body, self.fields)
        if rejection is not None:
            return rejection
        for rule in self.rules:
            rejection = rule(body)
            if rejection is not None:
                return rejection
        return None


_GENERATION_RULES = (_duration_rule, _feature_rule, _motion_rule, _lip_sync_switch_rule)

VALIDATORS: dict[str, Callable[[Any], Rejection | None]] = {
    Paths.TEXT_TO_VIDEO: _Endpoint(
        (
            _ASPECT_RATIO,
            _DURATION,
            _MODEL,
            _MOTION_MODE,
            _NEGATIVE_PROMPT,
            _prompt(),
            _QUALITY,
            _seed(),
            _STYLE,
            _TEMPLATE_ID,
            _CAMERA_MOVEMENT,
            *_EXTRAS,
            *_V5_5,
            _WEBHOOK_ID,
        ),
        _GENERATION_RULES,
    ),
    Paths.IMAGE_TO_VIDEO: _Endpoint(
        (
            _DURATION,
            _Field("img_id", _ident),
            _Field("img_ids", _list_of(_ident)),
            _MODEL,
            _MOTION_MODE,
            _NEGATIVE_PROMPT,
            _prompt(),
            _QUALITY,
            _seed(),
            _STYLE,
            _TEMPLATE_ID,
            _CAMERA_MOVEMENT,
            *_EXTRAS,
            *_V5_5,
            _WEBHOOK_ID,
        ),
        (_exactly_one("img_id", "img_ids"), *_GENERATION_RULES),
    ),
    Paths.TRANSITION: _Endpoint(
        (
            _prompt(),
            _MODEL,
            _DURATION,
            _QUALITY,
            _MOTION_MODE,
            _seed(),
            _Field("first_frame_img", _ident, required=True),
            _Field("last_frame_img", _ident, required=True),
            *_EXTRAS,
            *_V5_5,
            _WEBHOOK_ID,
        ),
        (*_GENERATION_RULES, _only_on_rule(Paths.TRANSITION)),
    ),
    Paths.MULTI_TRANSITION: _Endpoint(
        (
            _Field("multi_transition", _multi_transition, required=True),
            _MODEL,
            _QUALITY,
            _WEBHOOK_ID,
        ),
    ),
    Paths.EXTEND: _Endpoint(
        (
            _SOURCE_VIDEO_ID,
            _VIDEO_MEDIA_ID,
            _prompt(),
            _seed(required=True),
            _QUALITY,
            _DURATION,
            _MODEL,
            _MOTION_MODE,
            _STYLE,
            _Field("generate_audio_switch", _boolean),
            _WEBHOOK_ID,
        ),
        (_ONE_VIDEO, _duration_rule, _feature_rule, _motion_rule),
    ),
    Paths.FUSION: _Endpoint(
        (
            _Field("image_references", _image_references, required=True),
            _prompt(),
            _MODEL,
            _DURATION,
            _QUALITY,
            _ASPECT_RATIO,
            _seed(required=True),
            _WEBHOOK_ID,
        ),
        (_mentions_rule, _duration_rule),
    ),
    Paths.MIMIC: _Endpoint(
        (
            _Field("img_id", _ident, required=True),
            _QUALITY,
            _VIDEO_MEDIA_ID,
            _SOURCE_VIDEO_ID,
            _WEBHOOK_ID,
        ),
        (_exactly_one("video_media_id", "source_video_id"),),
    ),
    Paths.VIDEO_MODIFY: _Endpoint(  # how-to-use-modify page: the sources are exclusive
        (
            _SOURCE_VIDEO_ID,
            _VIDEO_MEDIA_ID,
            _prompt(),
            _Field("quality", _one_of(Vocab.QUALITIES)),  # optional; 1080p only reported out
            _WEBHOOK_ID,
        ),
        (_ONE_VIDEO,),
    ),
    Paths.VIDEO_UPSCALE: _Endpoint(  # reported only: the emulator asks for one video source
        (_SOURCE_VIDEO_ID, _VIDEO_MEDIA_ID, _WEBHOOK_ID),
        (_ONE_VIDEO,),
    ),
    Paths.IMAGE_TEMPLATE: _Endpoint(
        (
            _Field("img_ids", _list_of(_ident), required=True),
            _TEMPLATE_ID_REQUIRED,
        ),
    ),
    Paths.RESTYLE: _Endpoint(
        (
            _SOURCE_VIDEO_ID,
            _VIDEO_MEDIA_ID,
            _Field("restyle_id", _ident),
            _Field("restyle_prompt", _PROMPT),
            _seed(),
            _WEBHOOK_ID,
        ),
        (_ONE_VIDEO, _exactly_one("restyle_id", "restyle_prompt")),
    ),
    Paths.MASK_SELECTION: _Endpoint(
        (
            _SOURCE_VIDEO_ID,
            _VIDEO_MEDIA_ID,
            _Field("keyframe_id", _integer(Limits.KEYFRAME_MIN, ID_MAX)),
        ),
        (_ONE_VIDEO,),
    ),
    Paths.SWAP: _Endpoint(
        (
            _SOURCE_VIDEO_ID,
            _VIDEO_MEDIA_ID,
            _Field("keyframe_id", _integer(Limits.KEYFRAME_MIN, ID_MAX)),
            _Field("mask_id", _string(), required=True),
            _Field("img_id", _ident, required=True),
            _Field("quality", _one_of(Vocab.SWAP_QUALITIES), required=True),
            _WEBHOOK_ID,
        ),
        (_ONE_VIDEO,),
    ),
    Paths.LIP_SYNC: _Endpoint(
        (
            _SOURCE_VIDEO_ID,
            _VIDEO_MEDIA_ID,
            _Field("audio_media_id", _ident),
            _TTS_SPEAKER,
            _TTS_CONTENT,
            _WEBHOOK_ID,
        ),
        (_ONE_VIDEO, _audio_or_tts_rule),
    ),
    Paths.SOUND_EFFECT: _Endpoint(
        (
            _SOURCE_VIDEO_ID,
            _VIDEO_MEDIA_ID,
            _Field("original_sound_switch", _boolean),
            _SOUND_EFFECT_CONTENT,
            _WEBHOOK_ID,
        ),
        (_ONE_VIDEO,),
    ),
}
"""One validator per JSON generation endpoint: ``body -> Rejection | None``; never raises."""


# --------------------------------------------------------------------------- list queries

_DIGITS = re.compile(r"[0-9]+")


def validate_list_query(params: Mapping[str, str]) -> Rejection | None:
    """Check ``page_num`` (>= 1) and ``page_size`` (1..PAGE_SIZE_MAX) query parameters."""
    for name, high in (("page_num", None), ("page_size", PAGE_SIZE_MAX)):
        raw: object = params.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return _empty(name)
        if not isinstance(raw, str) or not _DIGITS.fullmatch(raw):
            return _wrong(name, "a decimal integer", raw)
        rule = f"must be from 1 to {high}" if high else "must be at least 1"
        if len(raw) > _QUERY_MAX_DIGITS:
            return _invalid(name, f"{rule}, got {_show(raw)}")
        value = int(raw)
        if value < 1 or (high is not None and value > high):
            return _invalid(name, f"{rule}, got {value}")
    return None


# --------------------------------------------------------------------------- references

_VIDEO_SOURCES = (("source_video_id", RefKind.VIDEO), ("video_media_id", RefKind.MEDIA_VIDEO))

REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    Paths.TEXT_TO_VIDEO: (("template_id", RefKind.TEMPLATE),),
    Paths.IMAGE_TO_VIDEO: (
        ("img_id", RefKind.IMAGE),
        ("img_ids[]", RefKind.IMAGE),
        ("template_id", RefKind.TEMPLATE),
    ),
    Paths.TRANSITION: (("first_frame_img", RefKind.IMAGE), ("last_frame_img", RefKind.IMAGE)),
    Paths.MULTI_TRANSITION: (("multi_transition[].img_id", RefKind.IMAGE),),
    Paths.EXTEND: _VIDEO_SOURCES,
    Paths.FUSION: (("image_references[].img_id", RefKind.IMAGE),),
    Paths.RESTYLE: (*_VIDEO_SOURCES, ("restyle_id", RefKind.RESTYLE)),
    Paths.MASK_SELECTION: _VIDEO_SOURCES,
    Paths.SWAP: (*_VIDEO_SOURCES, ("img_id", RefKind.IMAGE)),
    Paths.LIP_SYNC: (*_VIDEO_SOURCES, ("audio_media_id", RefKind.MEDIA_AUDIO)),
    Paths.SOUND_EFFECT: _VIDEO_SOURCES,
    Paths.MIMIC: (("img_id", RefKind.IMAGE), *_VIDEO_SOURCES),
    Paths.IMAGE_TEMPLATE: (("img_ids[]", RefKind.IMAGE), ("template_id", RefKind.TEMPLATE)),
    Paths.VIDEO_UPSCALE: _VIDEO_SOURCES,
    Paths.VIDEO_MODIFY: _VIDEO_SOURCES,
}
"""Per path, ``(pattern, kind)`` pairs; ``name[]`` walks a list, ``a[].b`` a list of objects."""


def _walk(value: object, segments: Sequence[str], path: str) -> list[tuple[str, object]]:
    if not segments:
        return [(path, value)]
    head, rest = segments[0], segments[1:]
    name, is_list = (head[:-2], True) if head.endswith("[]") else (head, False)
    if not isinstance(value, dict) or name not in value:
        return []
    child, child_path = value[name], f"{path}.{name}" if path else name
    if not is_list:
        return _walk(child, rest, child_path)
    if not isinstance(child, list):
        return []
    found: list[tuple[str, object]] = []
    for index, element in enumerate(child):
        found.extend(_walk(element, rest, f"{child_path}[{index}]"))
    return found


def referenced_ids(
    path: str, body: object, kinds: Collection[str] = RefKind.STORED
) -> list[Reference]:
    """The ids ``body`` refers to, of the given kinds, in ``REFERENCES`` order.

    By default only ``RefKind.STORED``: the ids the emulator itself issues (uploaded images and
    media, generated videos); pass ``kinds=RefKind.ALL`` to also get ``template_id`` and
    ``restyle_id``. Meant for a body its validator accepted; on any other body it still never
    raises and skips values that are not integers. An unknown path yields no references.
    """
    found: list[Reference] = []
    for pattern, kind in REFERENCES.get(path, ()):
        if kind not in kinds:
            continue
        for field, value in _walk(body, pattern.split("."), ""):
            if isinstance(value, int) and not isinstance(value, bool):
                found.append(Reference(kind, field, value))
    return found
