"""Request bodies of the paid endpoints, validated when built.

One frozen attrs class per endpoint. Building one checks every rule a confirmed source states
(docs/api-notes.md: "Reading the spec pages" and what PixVerse says today); a broken rule raises
:class:`~pixverse_async.errors.ValidationError` naming the field, before anything is sent::

    >>> from pixverse_async.types import TextToVideo
    >>> TextToVideo(prompt="a cat", model="v5.5", duration=10, quality="1080p")
    Traceback (most recent call last):
    ...
    pixverse_async.errors.ValidationError: duration: 10 s is not available at 1080p on model v5.5

**Validation never blocks the unknown** (docs/api-notes.md, "Principle for the SDK"): enumerated
fields (model, quality, aspect ratio, motion mode, style, camera movement, thinking type,
duration) take a known value (an enum member or its string) *or* any other string / integer,
which is sent as written; the service's answer tells. The rules that depend on the model come
from one table, :data:`~pixverse_async.types.MODEL_RULES`, and apply only to the models
it describes. Fields the SDK does not type yet go in ``extra_body`` (merged into the JSON; a
key that names a typed field is refused).

Every request also carries the per-call transport options ``timeout``, ``max_retries`` and
``extra_headers``: they are never sent in the body and take no part in equality.

Fields a request needs but the user left out take the defaults written here, the same for
the SDK, a batch file line and ``pixverse generate`` (model v5, 5 s, 540p, 16:9).

Decisions where the pages are silent or loose (each is tested):

- Ids (``img_id``, ``template_id``, video and media ids) are 64-bit unsigned integers
  (1 to 2**64-1); ``bool`` is never accepted as an int. ``seed`` is 0..2147483647.
- Required prompts must not be blank. The 2048-character limit also applies to
  ``restyle_prompt`` and to multi-transition frame prompts.
- On text-to-video, image-to-video and transition, ``lip_sync_switch=True`` needs both
  ``lip_sync_tts_speaker_id`` and ``lip_sync_tts_content`` (the page gives no default voice or
  text), and those two fields need ``lip_sync_switch=True``; ``sound_effect_content`` needs
  ``sound_effect_switch=True`` (a switch alone is fine: the service then picks the sound).
  Otherwise the service would silently ignore them.
- ``img_ids`` (image-to-video) is for multi-image templates, so it needs ``template_id``.
- Multi-transition: the video runs from each frame to the next, so the total (1 to 30 s) is
  the sum of every frame's ``duration`` but the last; the last frame's ``duration`` may be
  left out or 0 (the page's example sends 0) and is not counted.
- ``Swap.keyframe_id`` defaults to 1 (the page's default) and is always sent (the page marks it
  required).
- The transition page marks its sound/lip-sync fields required and types the switches as
  strings; per docs/api-notes.md they are optional booleans.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, ClassVar, TypeVar, cast

import attrs

from ..constants import Limits, Paths
from ..errors import ValidationError
from ..option_rules import Timeout, as_client_timeout, check_extra_headers, check_max_retries
from ._checks import (
    LOG,
    MAX_INT32,
    boolean,
    check_id,
    describe,
    exactly_one,
    ident,
    integer,
    text,
)
from .enums import (
    AspectRatio,
    CameraMovement,
    FusionReferenceType,
    Model,
    MotionMode,
    Quality,
    Style,
    ThinkingType,
)
from .rules import FEATURES, MODEL_RULES, check_model

__all__ = [
    "PaidRequest",
    "GenerationRequest",
    "TextToVideo",
    "ImageToVideo",
    "Transition",
    "MultiTransition",
    "MultiTransitionFrame",
    "Extend",
    "Fusion",
    "ImageReference",
    "Restyle",
    "MaskSelection",
    "ImageTemplate",
    "Mimic",
    "Modify",
    "Swap",
    "LipSync",
    "SoundEffect",
    "PageQuery",
    "SpeakerListQuery",
    "RestyleListQuery",
    "REQUEST_KINDS",
    "TRANSPORT_OPTIONS",
    "build_request",
    "missing_fields",
]

_PROMPT_MAX = Limits.PROMPT_MAX_CHARS
_SWAP_QUALITIES = (Quality.P360, Quality.P540, Quality.P720)
_NAME_MAX = 64

#: The defaults of the fields most generations need (one rule for the SDK, a batch file line
#: and ``pixverse generate``): the cheapest common choice.
DEFAULT_MODEL = Model.V5
DEFAULT_DURATION = 5
DEFAULT_QUALITY = Quality.P540
DEFAULT_ASPECT_RATIO = AspectRatio.R16_9

#: Request fields that are options of the call, never part of the JSON body.
TRANSPORT_OPTIONS = frozenset({"timeout", "max_retries", "extra_headers"})

T = TypeVar("T")

# --- converters: named functions (the mypy attrs plugin needs them so) ---------------------
# A known string becomes its enum member; any other value passes unchanged (sent as written,
# or reported by the field's validator). They run on every request built: kept to a class
# check and a dict lookup.

_MODELS: dict[Any, Any] = dict(Model._value2member_map_)
_QUALITIES: dict[Any, Any] = dict(Quality._value2member_map_)
_ASPECT_RATIOS: dict[Any, Any] = dict(AspectRatio._value2member_map_)
_MOTION_MODES: dict[Any, Any] = dict(MotionMode._value2member_map_)
_STYLES: dict[Any, Any] = dict(Style._value2member_map_)
_CAMERA_MOVEMENTS: dict[Any, Any] = dict(CameraMovement._value2member_map_)
_THINKING_TYPES: dict[Any, Any] = dict(ThinkingType._value2member_map_)
_REFERENCE_TYPES: dict[Any, Any] = dict(FusionReferenceType._value2member_map_)


def _to_model(value: Model | str) -> Model | str:
    return _MODELS.get(value, value) if value.__class__ is str else value


def _to_quality(value: Quality | str) -> Quality | str:
    return _QUALITIES.get(value, value) if value.__class__ is str else value


def _to_optional_quality(value: Quality | str | None) -> Quality | str | None:
    return _QUALITIES.get(value, value) if value.__class__ is str else value


def _to_aspect_ratio(value: AspectRatio | str) -> AspectRatio | str:
    return _ASPECT_RATIOS.get(value, value) if value.__class__ is str else value


def _to_motion_mode(value: MotionMode | str | None) -> MotionMode | str | None:
    return _MOTION_MODES.get(value, value) if value.__class__ is str else value


def _to_style(value: Style | str | None) -> Style | str | None:
    return _STYLES.get(value, value) if value.__class__ is str else value


def _to_camera_movement(value: CameraMovement | str | None) -> CameraMovement | str | None:
    return _CAMERA_MOVEMENTS.get(value, value) if value.__class__ is str else value


def _to_thinking_type(value: ThinkingType | str | None) -> ThinkingType | str | None:
    return _THINKING_TYPES.get(value, value) if value.__class__ is str else value


def _to_reference_type(value: FusionReferenceType | str) -> FusionReferenceType | str:
    return _REFERENCE_TYPES.get(value, value) if value.__class__ is str else value


def _wire(value: Any) -> Any:
    """An enum member's wire value; anything else as it is."""
    return value._value_ if isinstance(value, Enum) else value


def _to_extra_body(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A copy (later changes to the caller's dict are not sent unchecked); empty: None."""
    if isinstance(value, Mapping):
        return dict(value) if value else None
    return value


def _as_items(value: object) -> list[Any] | None:
    """The items of a list or tuple; None for anything else (the validator reports it)."""
    return list(value) if isinstance(value, (list, tuple)) else None


def _to_img_ids(value: Iterable[int] | None) -> tuple[int, ...] | None:
    items = _as_items(value)
    return cast("tuple[int, ...] | None", value if items is None else tuple(items))


def _to_frames(
    value: Iterable[MultiTransitionFrame | Mapping[str, Any]],
) -> tuple[MultiTransitionFrame, ...]:
    items = _as_items(value)
    if items is None:
        return cast("tuple[MultiTransitionFrame, ...]", value)
    return tuple(
        _from_mapping(MultiTransitionFrame, item, f"multi_transition[{i}]")
        if isinstance(item, Mapping)
        else item
        for i, item in enumerate(items)
    )


def _to_references(
    value: Iterable[ImageReference | Mapping[str, Any]],
) -> tuple[ImageReference, ...]:
    items = _as_items(value)
    if items is None:
        return cast("tuple[ImageReference, ...]", value)
    return tuple(
        _from_mapping(ImageReference, item, f"image_references[{i}]")
        if isinstance(item, Mapping)
        else item
        for i, item in enumerate(items)
    )


def missing_fields(cls: type[Any], given: Iterable[str]) -> ValidationError | None:
    """The error naming *every* required field of ``cls`` not in ``given`` (None if none).

    >>> from pixverse_async.types import Swap, missing_fields
    >>> print(missing_fields(Swap, ["quality"]))
    mask_id, img_id: are required
    """
    given = set(given)
    absent = [
        f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING and f.name not in given
    ]
    if not absent:
        return None
    return ValidationError(", ".join(absent), "is required" if len(absent) == 1 else "are required")


def _from_mapping(cls: type[T], data: Mapping[Any, Any], prefix: str = "") -> T:
    """Build ``cls(**data)``, turning unknown or missing keys into ValidationError."""
    dot = f"{prefix}." if prefix else ""
    fields = attrs.fields_dict(cls)  # type: ignore[arg-type]
    for key in data:
        if not isinstance(key, str) or key not in fields:
            raise ValidationError(f"{dot}{key}", f"unknown field for {cls.__name__}", data[key])
    missing = missing_fields(cls, data)
    if missing is not None:
        names = ", ".join(dot + name for name in missing.field.split(", "))
        raise ValidationError(names, missing.rule)
    try:
        return cls(**data)
    except ValidationError as exc:
        if not prefix:
            raise
        raise ValidationError(f"{dot}{exc.field}", exc.rule, exc.value) from None


# --- validators -------------------------------------------------------------------------------

_prompt = text(_PROMPT_MAX, non_empty=True)
_optional_prompt = text(_PROMPT_MAX, optional=True)
_optional_text = text(optional=True)
_tts_content = text(Limits.TTS_CONTENT_MAX_CHARS, optional=True, non_empty=True)
_speaker = text(optional=True, non_empty=True)
_webhook_id = text(optional=True, non_empty=True)
_id = ident()
_optional_id = ident(optional=True)
_seed = integer(Limits.SEED_MIN, Limits.SEED_MAX)
_optional_seed = integer(Limits.SEED_MIN, Limits.SEED_MAX, optional=True)
_duration = integer(1, MAX_INT32)
_optional_keyframe = integer(Limits.KEYFRAME_MIN, MAX_INT32, optional=True)
_keyframe = integer(Limits.KEYFRAME_MIN, MAX_INT32)


def _open(enum_cls: type[Any], *, optional: bool = False) -> Any:
    """A value of an open enumeration: a member, or any other name (sent as written).

    Only the shape is checked (a non-empty string without spaces, at most 64 characters):
    whether the service knows the name is the service's to say.
    """
    examples = ", ".join(str(m.value) for m in list(enum_cls.__members__.values())[:6])

    def validate(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            if optional:
                return
            raise ValidationError(attr.name, "is required")
        if isinstance(value, enum_cls):
            return
        if (
            not isinstance(value, str)
            or isinstance(value, Enum)  # a member of another enumeration: a mix-up
            or not value
            or len(value) > _NAME_MAX
            or any(ch.isspace() for ch in value)
        ):
            raise ValidationError(
                attr.name, f"must be a name such as {examples} (got {describe(value)})", value
            )
        LOG.debug("%s %r is not known to this SDK version; sending it as written", attr.name, value)

    return validate


_model = _open(Model)
_quality = _open(Quality)
_optional_quality = _open(Quality, optional=True)
_aspect_ratio = _open(AspectRatio)
_motion_mode = _open(MotionMode, optional=True)
_style = _open(Style, optional=True)
_camera_movement = _open(CameraMovement, optional=True)
_thinking_type = _open(ThinkingType, optional=True)
_reference_type = _open(FusionReferenceType)


def _swap_quality(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    _quality(inst, attr, value)
    if isinstance(value, Quality) and value not in _SWAP_QUALITIES:
        raise ValidationError(attr.name, "must be 360p, 540p or 720p on swap", value.value)


def _img_ids(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, tuple) or not value:
        raise ValidationError(attr.name, "must be a non-empty list of image ids", value)
    for i, item in enumerate(value):
        check_id(f"{attr.name}[{i}]", item)


def _items_of(cls: type[Any], minimum: int, maximum: int | None = None) -> Any:
    def validate(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, tuple):
            raise ValidationError(
                attr.name, f"must be a list of {cls.__name__} (got {type(value).__name__})", value
            )
        if len(value) < minimum or (maximum is not None and len(value) > maximum):
            span = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise ValidationError(attr.name, f"{span} items (got {len(value)})", len(value))
        for i, item in enumerate(value):
            if not isinstance(item, cls):
                raise ValidationError(
                    f"{attr.name}[{i}]",
                    f"must be a {cls.__name__} or a mapping (got {type(item).__name__})",
                    item,
                )

    return validate


def _extra_body(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    """Keys are strings, and none names a typed field (that field is the way to set it)."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise ValidationError(
            attr.name, f"must be a mapping (got {type(value).__name__})", describe(value)
        )
    fields = attrs.fields_dict(inst.__class__)
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(attr.name, f"keys must be strings (got {describe(key)})", key)
        if key in fields:
            raise ValidationError(
                f"{attr.name}.{key}",
                f"{key} is a typed field of {inst.__class__.__name__}: set it as {key}=...",
                value[key],
            )
        try:
            json.dumps(value[key], allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            raise ValidationError(
                f"{attr.name}.{key}",
                "must be JSON: strings, finite numbers, booleans, null, lists and objects",
                describe(value[key]),
            ) from None


def _timeout(_inst: Any, _attr: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        as_client_timeout(value)  # a ValidationError


def _max_retries(_inst: Any, _attr: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        check_max_retries(value)


def _headers(_inst: Any, _attr: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        check_extra_headers(value)


# --- field order: the fields of the base classes' options last --------------------------------

_LAST = ("webhook_id", "extra_body", "timeout", "max_retries", "extra_headers")


def _ordered(_cls: type, fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    last = sorted((f for f in fields if f.name in _LAST), key=lambda f: _LAST.index(f.name))
    return [f for f in fields if f.name not in _LAST] + last


# --- request classes ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class PaidRequest:
    """Base of every request that starts paid work: generations and mask selection.

    Each has a ``path`` and a ``kind``, ``extra_body`` (fields the SDK does not type yet,
    merged into the JSON body) and the call's transport options ``timeout`` (seconds or an
    :class:`aiohttp.ClientTimeout`), ``max_retries`` and ``extra_headers``, which are never
    sent in the body, never shown in ``repr`` and take no part in equality.

    >>> from pixverse_async.types import MaskSelection, to_json
    >>> req = MaskSelection(video_media_id=3, extra_body={"mask_hint": "person"}, timeout=5)
    >>> to_json(req), req == MaskSelection(video_media_id=3, extra_body={"mask_hint": "person"})
    ({'video_media_id': 3, 'mask_hint': 'person'}, True)
    """

    path: ClassVar[str]
    kind: ClassVar[str]

    extra_body: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_to_extra_body, validator=_extra_body, hash=False
    )
    timeout: Timeout | None = attrs.field(default=None, validator=_timeout, eq=False, repr=False)
    max_retries: int | None = attrs.field(
        default=None, validator=_max_retries, eq=False, repr=False
    )
    extra_headers: Mapping[str, str] | None = attrs.field(
        default=None, validator=_headers, eq=False, repr=False
    )


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class GenerationRequest(PaidRequest):
    """Base of the requests that start a video generation (answered with a ``video_id``).

    ``webhook_id`` (a string from the PixVerse console) asks the service to report each status
    change to that webhook (docs/api-notes.md, "Webhooks").
    """

    webhook_id: str | None = attrs.field(default=None, validator=_webhook_id)

    def _check_model(self) -> None:
        """The model table's rules (:mod:`~pixverse_async.models.rules`) for this request."""
        model = _wire(getattr(self, "model", None))
        if model not in MODEL_RULES:
            return  # a model no confirmed source describes: sent as written
        features = {}
        for name in FEATURES:  # str enums compare equal to their wire values
            value = getattr(self, name, None)
            if value is not None:
                features[name] = value
        check_model(
            model,
            duration=getattr(self, "duration", None),
            quality=getattr(self, "quality", None),
            features=features,
            kind=self.kind,
        )


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class VideoGeneration(GenerationRequest):
    """The fields text-to-video, image-to-video and transition share (written once).

    Sound and speech are opt-in: ``sound_effect_content`` needs ``sound_effect_switch=True``;
    ``lip_sync_switch=True`` needs ``lip_sync_tts_speaker_id`` and ``lip_sync_tts_content``
    (at most 140 characters), and those need the switch. ``generate_audio_switch``,
    ``generate_multi_clip_switch`` and ``thinking_type`` are the v5.5 fields (docs/api-notes.md);
    which models take them is the model table's rule.
    """

    prompt: str = attrs.field(validator=_prompt)
    model: Model | str = attrs.field(default=DEFAULT_MODEL, converter=_to_model, validator=_model)
    duration: int = attrs.field(default=DEFAULT_DURATION, validator=_duration)
    quality: Quality | str = attrs.field(
        default=DEFAULT_QUALITY, converter=_to_quality, validator=_quality
    )
    motion_mode: MotionMode | str | None = attrs.field(
        default=None, converter=_to_motion_mode, validator=_motion_mode
    )
    seed: int | None = attrs.field(default=None, validator=_optional_seed)
    sound_effect_switch: bool | None = attrs.field(default=None, validator=boolean)
    sound_effect_content: str | None = attrs.field(default=None, validator=_optional_text)
    lip_sync_switch: bool | None = attrs.field(default=None, validator=boolean)
    lip_sync_tts_speaker_id: str | None = attrs.field(default=None, validator=_speaker)
    lip_sync_tts_content: str | None = attrs.field(default=None, validator=_tts_content)
    generate_audio_switch: bool | None = attrs.field(default=None, validator=boolean)
    generate_multi_clip_switch: bool | None = attrs.field(default=None, validator=boolean)
    thinking_type: ThinkingType | str | None = attrs.field(
        default=None, converter=_to_thinking_type, validator=_thinking_type
    )

    def __attrs_post_init__(self) -> None:
        self._check_model()
        if self.sound_effect_content is not None and self.sound_effect_switch is not True:
            raise ValidationError(
                "sound_effect_switch",
                "must be true when sound_effect_content is set",
                self.sound_effect_switch,
            )
        speaker, content = self.lip_sync_tts_speaker_id, self.lip_sync_tts_content
        if self.lip_sync_switch is True:
            if speaker is None:
                raise ValidationError(
                    "lip_sync_tts_speaker_id", "is required when lip_sync_switch is true"
                )
            if content is None:
                raise ValidationError(
                    "lip_sync_tts_content", "is required when lip_sync_switch is true"
                )
        elif speaker is not None or content is not None:
            raise ValidationError(
                "lip_sync_switch",
                "must be true when lip_sync_tts_speaker_id or lip_sync_tts_content is set",
                self.lip_sync_switch,
            )


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class TextToVideo(VideoGeneration):
    """``POST /openapi/v2/video/text/generate``.

    >>> from pixverse_async.types import TextToVideo, to_json
    >>> to_json(TextToVideo(prompt="a cat naps", camera_movement="zoom_in"))
    {'prompt': 'a cat naps', 'model': 'v5', 'duration': 5, 'quality': '540p', \
'aspect_ratio': '16:9', 'camera_movement': 'zoom_in'}
    >>> to_json(TextToVideo(prompt="x", model="c1", duration=7, quality="1080p",
    ...                     aspect_ratio="3:2", webhook_id="1234"))["aspect_ratio"]
    '3:2'
    """

    path: ClassVar[str] = Paths.TEXT_TO_VIDEO
    kind: ClassVar[str] = "text_to_video"

    aspect_ratio: AspectRatio | str = attrs.field(
        default=DEFAULT_ASPECT_RATIO, converter=_to_aspect_ratio, validator=_aspect_ratio
    )
    negative_prompt: str | None = attrs.field(default=None, validator=_optional_prompt)
    style: Style | str | None = attrs.field(default=None, converter=_to_style, validator=_style)
    template_id: int | None = attrs.field(default=None, validator=_optional_id)
    camera_movement: CameraMovement | str | None = attrs.field(
        default=None, converter=_to_camera_movement, validator=_camera_movement
    )


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class ImageToVideo(VideoGeneration):
    """``POST /openapi/v2/video/img/generate``: animate an uploaded image.

    Give exactly one of ``img_id`` (a single image or a single-image template) and ``img_ids``
    (multi-image templates only, so ``template_id`` is then required). With ``template_id``
    this is PixVerse's template video generation (an effect from the console).

    >>> from pixverse_async.types import ImageToVideo, to_json
    >>> to_json(ImageToVideo(img_id=302325299692608, prompt="the cat yawns", model="v4.5",
    ...                      motion_mode="normal"))["img_id"]
    302325299692608
    """

    path: ClassVar[str] = Paths.IMAGE_TO_VIDEO
    kind: ClassVar[str] = "image_to_video"

    img_id: int | None = attrs.field(default=None, validator=_optional_id)
    img_ids: tuple[int, ...] | None = attrs.field(
        default=None, converter=_to_img_ids, validator=_img_ids
    )
    negative_prompt: str | None = attrs.field(default=None, validator=_optional_prompt)
    style: Style | str | None = attrs.field(default=None, converter=_to_style, validator=_style)
    template_id: int | None = attrs.field(default=None, validator=_optional_id)
    camera_movement: CameraMovement | str | None = attrs.field(
        default=None, converter=_to_camera_movement, validator=_camera_movement
    )

    def __attrs_post_init__(self) -> None:
        exactly_one("img_id", self.img_id, "img_ids", self.img_ids)
        if self.img_ids is not None and self.template_id is None:
            raise ValidationError(
                "img_ids", "only for multi-image templates: template_id is required"
            )
        super().__attrs_post_init__()


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class Transition(VideoGeneration):
    """``POST /openapi/v2/video/transition/generate``: a video from a first and a last frame.

    >>> from pixverse_async.types import Transition, to_json
    >>> body = to_json(Transition(prompt="transform into a puppy", first_frame_img=1,
    ...                           last_frame_img=2, sound_effect_switch=True))
    >>> body["sound_effect_switch"]
    True
    """

    path: ClassVar[str] = Paths.TRANSITION
    kind: ClassVar[str] = "transition"

    first_frame_img: int = attrs.field(validator=_id)
    last_frame_img: int = attrs.field(validator=_id)


@attrs.frozen(kw_only=True)
class MultiTransitionFrame:
    """One keyframe of a multi-transition video.

    ``duration`` (seconds, from 1) is required on every frame but the last; the last frame's
    is optional, may be 0 (as in the page's example) and is not counted in the total.

    >>> from pixverse_async.types import MultiTransitionFrame
    >>> MultiTransitionFrame(img_id=7, duration=3, prompt="turns around").duration
    3
    """

    img_id: int = attrs.field(validator=_id)
    duration: int | None = attrs.field(default=None, validator=integer(0, MAX_INT32, optional=True))
    prompt: str | None = attrs.field(default=None, validator=_optional_prompt)


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class MultiTransition(GenerationRequest):
    """``POST /openapi/v2/video/multi_transition/generate``: 2 to 7 keyframes, 1 to 30 s in all.

    Frames may be :class:`MultiTransitionFrame` objects or plain mappings.

    >>> from pixverse_async.types import MultiTransition, to_json
    >>> req = MultiTransition(quality="360p", multi_transition=[
    ...     {"img_id": 1, "duration": 3, "prompt": "a"}, {"img_id": 2}])
    >>> to_json(req)["multi_transition"]
    [{'img_id': 1, 'duration': 3, 'prompt': 'a'}, {'img_id': 2}]
    """

    path: ClassVar[str] = Paths.MULTI_TRANSITION
    kind: ClassVar[str] = "multi_transition"

    multi_transition: tuple[MultiTransitionFrame, ...] = attrs.field(
        converter=_to_frames,
        validator=_items_of(
            MultiTransitionFrame,
            Limits.MULTI_TRANSITION_MIN_FRAMES,
            Limits.MULTI_TRANSITION_MAX_FRAMES,
        ),
    )
    model: Model | str = attrs.field(default=DEFAULT_MODEL, converter=_to_model, validator=_model)
    quality: Quality | str = attrs.field(
        default=DEFAULT_QUALITY, converter=_to_quality, validator=_quality
    )

    def __attrs_post_init__(self) -> None:
        total = 0
        last = len(self.multi_transition) - 1
        for i, frame in enumerate(self.multi_transition):
            if i == last:
                break  # the last frame's duration (optional, often 0) is not part of the video
            if frame.duration is None:
                raise ValidationError(
                    f"multi_transition[{i}].duration", "required on every frame but the last"
                )
            if frame.duration < 1:
                raise ValidationError(
                    f"multi_transition[{i}].duration",
                    f"must be at least 1 on every frame but the last (got {frame.duration})",
                    frame.duration,
                )
            total += frame.duration
        low = Limits.MULTI_TRANSITION_MIN_TOTAL_SECONDS
        high = Limits.MULTI_TRANSITION_MAX_TOTAL_SECONDS
        if not low <= total <= high:
            raise ValidationError(
                "multi_transition", f"total duration must be {low} to {high} s (got {total})", total
            )


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class Extend(GenerationRequest):
    """``POST /openapi/v2/video/extend/generate``: continue a video.

    Exactly one of ``source_video_id`` (a generated video) and ``video_media_id`` (an uploaded
    one). The page makes ``seed`` required. ``generate_audio_switch`` is on v6's extend
    (PixVerse's v6 parameter matrix); the model table says which models take it.

    >>> from pixverse_async.types import Extend
    >>> Extend(source_video_id=9, prompt="across the universe", seed=123123, model="v4.5").kind
    'extend'
    """

    path: ClassVar[str] = Paths.EXTEND
    kind: ClassVar[str] = "extend"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    prompt: str = attrs.field(validator=_prompt)
    seed: int = attrs.field(validator=_seed)
    quality: Quality | str = attrs.field(
        default=DEFAULT_QUALITY, converter=_to_quality, validator=_quality
    )
    duration: int = attrs.field(default=DEFAULT_DURATION, validator=_duration)
    model: Model | str = attrs.field(default=DEFAULT_MODEL, converter=_to_model, validator=_model)
    motion_mode: MotionMode | str | None = attrs.field(
        default=None, converter=_to_motion_mode, validator=_motion_mode
    )
    style: Style | str | None = attrs.field(default=None, converter=_to_style, validator=_style)
    generate_audio_switch: bool | None = attrs.field(default=None, validator=boolean)

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)
        self._check_model()


@attrs.frozen(kw_only=True)
class ImageReference:
    """One image of a fusion request: a ``subject`` or a ``background`` named ``ref_name``.

    ``ref_name`` has no spaces and no ``@``; the fusion prompt mentions it as ``@ref_name``.

    >>> from pixverse_async.types import ImageReference
    >>> ImageReference(type="subject", img_id=1, ref_name="dog").type.value
    'subject'
    """

    type: FusionReferenceType | str = attrs.field(
        converter=_to_reference_type, validator=_reference_type
    )
    img_id: int = attrs.field(validator=_id)
    ref_name: str = attrs.field(validator=text(non_empty=True))

    def __attrs_post_init__(self) -> None:
        if "@" in self.ref_name or any(ch.isspace() for ch in self.ref_name):
            raise ValidationError("ref_name", "must not contain spaces or '@'", self.ref_name)


def _mentions(prompt: str, name: str) -> bool:
    """Whether ``prompt`` has ``@name`` not followed by another name character."""
    start = prompt.find("@" + name)
    while start != -1:
        end = start + 1 + len(name)
        if end == len(prompt) or not (prompt[end].isalnum() or prompt[end] == "_"):
            return True
        start = prompt.find("@" + name, start + 1)
    return False


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class Fusion(GenerationRequest):
    """``POST /openapi/v2/video/fusion/generate``: a video from named reference images.

    Every ``ref_name`` is unique and the prompt mentions each as ``@ref_name``.

    >>> from pixverse_async.types import Fusion, to_json
    >>> req = Fusion(image_references=[
    ...         {"type": "subject", "img_id": 1, "ref_name": "dog"},
    ...         {"type": "background", "img_id": 2, "ref_name": "room"}],
    ...     prompt="@dog plays at @room", model="v4.5", seed=123456789)
    >>> to_json(req)["image_references"][1]
    {'type': 'background', 'img_id': 2, 'ref_name': 'room'}
    """

    path: ClassVar[str] = Paths.FUSION
    kind: ClassVar[str] = "fusion"

    image_references: tuple[ImageReference, ...] = attrs.field(
        converter=_to_references, validator=_items_of(ImageReference, 1)
    )
    prompt: str = attrs.field(validator=_prompt)
    model: Model | str = attrs.field(default=DEFAULT_MODEL, converter=_to_model, validator=_model)
    duration: int = attrs.field(default=DEFAULT_DURATION, validator=_duration)
    quality: Quality | str = attrs.field(
        default=DEFAULT_QUALITY, converter=_to_quality, validator=_quality
    )
    aspect_ratio: AspectRatio | str = attrs.field(
        default=DEFAULT_ASPECT_RATIO, converter=_to_aspect_ratio, validator=_aspect_ratio
    )
    seed: int = attrs.field(validator=_seed)

    def __attrs_post_init__(self) -> None:
        seen: set[str] = set()
        for i, ref in enumerate(self.image_references):
            if ref.ref_name in seen:
                raise ValidationError(
                    f"image_references[{i}].ref_name",
                    f"duplicate ref_name {ref.ref_name!r}",
                    ref.ref_name,
                )
            seen.add(ref.ref_name)
        missing = [
            "@" + ref.ref_name
            for ref in self.image_references
            if not _mentions(self.prompt, ref.ref_name)
        ]
        if missing:
            raise ValidationError(
                "prompt", f"must mention every reference (missing {', '.join(missing)})", missing
            )
        self._check_model()


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class Restyle(GenerationRequest):
    """``POST /openapi/v2/video/restyle/generate``.

    Exactly one video source, and exactly one of ``restyle_id`` (from the restyle list) and
    ``restyle_prompt``.

    >>> from pixverse_async.types import Restyle, to_json
    >>> to_json(Restyle(source_video_id=5, restyle_id=322878269109312, seed=937433858))
    {'source_video_id': 5, 'restyle_id': 322878269109312, 'seed': 937433858}
    """

    path: ClassVar[str] = Paths.RESTYLE
    kind: ClassVar[str] = "restyle"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    restyle_id: int | None = attrs.field(default=None, validator=_optional_id)
    restyle_prompt: str | None = attrs.field(
        default=None, validator=text(_PROMPT_MAX, optional=True, non_empty=True)
    )
    seed: int | None = attrs.field(default=None, validator=_optional_seed)

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)
        exactly_one("restyle_id", self.restyle_id, "restyle_prompt", self.restyle_prompt)


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class MaskSelection(PaidRequest):
    """``POST /openapi/v2/video/mask/selection``: find swappable masks on one keyframe.

    Paid, but not a generation (it answers masks, not a video): submit it with
    ``client.videos.select_mask``. ``keyframe_id`` counts from 1; the service uses 1 when it
    is left out.

    >>> from pixverse_async.types import MaskSelection, to_json
    >>> to_json(MaskSelection(video_media_id=3))
    {'video_media_id': 3}
    """

    path: ClassVar[str] = Paths.MASK_SELECTION
    kind: ClassVar[str] = "mask_selection"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    keyframe_id: int | None = attrs.field(default=None, validator=_optional_keyframe)

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class ImageTemplate(PaidRequest):
    """``POST /openapi/v2/image/template/generate``: an image from a template (docs/api-notes.md).

    Paid, and answered with an ``image_id`` (not a video): submit it with
    ``client.image_templates.generate``, which returns an ``ImageJob``.

    >>> from pixverse_async.types import ImageTemplate, to_json
    >>> to_json(ImageTemplate(img_ids=[1, 2], template_id=7))
    {'img_ids': [1, 2], 'template_id': 7}
    """

    path: ClassVar[str] = Paths.IMAGE_TEMPLATE
    kind: ClassVar[str] = "image_template"

    img_ids: tuple[int, ...] = attrs.field(converter=_to_img_ids, validator=_img_ids)
    template_id: int = attrs.field(validator=_id)

    def __attrs_post_init__(self) -> None:
        if self.img_ids is None:
            raise ValidationError("img_ids", "is required")


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class Swap(GenerationRequest):
    """``POST /openapi/v2/video/swap/generate``: replace a masked object with an image.

    The video, ``keyframe_id`` and ``mask_id`` must come from the same mask selection;
    ``quality`` is 360p, 540p or 720p (a quality this SDK does not know is sent as written).

    >>> from pixverse_async.types import Swap, to_json
    >>> to_json(Swap(video_media_id=3, mask_id="12", img_id=4, quality="360p"))
    {'keyframe_id': 1, 'mask_id': '12', 'img_id': 4, 'quality': '360p', 'video_media_id': 3}
    """

    path: ClassVar[str] = Paths.SWAP
    kind: ClassVar[str] = "swap"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    keyframe_id: int = attrs.field(default=Limits.KEYFRAME_MIN, validator=_keyframe)
    mask_id: str = attrs.field(validator=text(non_empty=True))
    img_id: int = attrs.field(validator=_id)
    quality: Quality | str = attrs.field(
        default=DEFAULT_QUALITY, converter=_to_quality, validator=_swap_quality
    )

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class Mimic(GenerationRequest):
    """``POST /openapi/v2/video/mimic/generate``: motion control (docs/api-notes.md, confirmed).

    The person or animal of image ``img_id`` moves as in a video: exactly one of
    ``video_media_id`` (uploaded) and ``source_video_id`` (generated). The service refuses an
    image without a clear subject (701002) and a video without a person (701003).

    >>> from pixverse_async.types import Mimic, to_json
    >>> to_json(Mimic(img_id=1, video_media_id=2))
    {'img_id': 1, 'quality': '540p', 'video_media_id': 2}
    """

    path: ClassVar[str] = Paths.MIMIC
    kind: ClassVar[str] = "mimic"

    img_id: int = attrs.field(validator=_id)
    quality: Quality | str = attrs.field(
        default=DEFAULT_QUALITY, converter=_to_quality, validator=_quality
    )
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)

    def __attrs_post_init__(self) -> None:
        exactly_one("video_media_id", self.video_media_id, "source_video_id", self.source_video_id)


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class Modify(GenerationRequest):
    """``POST /openapi/v2/video/modify/generate``: change part of a video by prompt.

    PixVerse's how-to-use-modify page names seven uses: swapping one subject, swapping up to
    three selected areas at once, adding something, removing something, "type anything",
    replacing text, and restyling. Exactly one of ``source_video_id`` (a generated video) and
    ``video_media_id`` (an uploaded one): the page makes them mutually exclusive. The prompt
    names the selected areas ``@selection0``, ``@selection1``, ... and the reference images
    ``@img0``, ``@img1``, ... . The page reports more (quality 360p to 720p only, at most 5
    reference images, a keyframe time in milliseconds) without confirming it, so none of it
    is refused, and the fields that carry areas, images and the keyframe are not published:
    send them in ``extra_body``.

    >>> from pixverse_async.types import Modify, to_json
    >>> to_json(Modify(source_video_id=5, prompt="replace @selection0 with @img0",
    ...                extra_body={"img_ids": [7]}))
    {'prompt': 'replace @selection0 with @img0', 'source_video_id': 5, 'img_ids': [7]}
    """

    path: ClassVar[str] = Paths.VIDEO_MODIFY
    kind: ClassVar[str] = "modify"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    prompt: str = attrs.field(validator=_prompt)
    quality: Quality | str | None = attrs.field(
        default=None, converter=_to_optional_quality, validator=_optional_quality
    )

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class LipSync(GenerationRequest):
    """``POST /openapi/v2/video/lip_sync/generate``.

    One video source (``source_video_id`` or ``video_media_id``) and one voice: either
    ``audio_media_id`` or ``lip_sync_tts_speaker_id`` together with ``lip_sync_tts_content``
    (at most 140 characters).

    >>> from pixverse_async.types import LipSync, to_json
    >>> to_json(LipSync(source_video_id=1, lip_sync_tts_speaker_id="Auto",
    ...                 lip_sync_tts_content="hello"))
    {'source_video_id': 1, 'lip_sync_tts_speaker_id': 'Auto', 'lip_sync_tts_content': 'hello'}
    """

    path: ClassVar[str] = Paths.LIP_SYNC
    kind: ClassVar[str] = "lip_sync"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    audio_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    lip_sync_tts_speaker_id: str | None = attrs.field(default=None, validator=_speaker)
    lip_sync_tts_content: str | None = attrs.field(default=None, validator=_tts_content)

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)
        speaker, content = self.lip_sync_tts_speaker_id, self.lip_sync_tts_content
        if speaker is not None and content is None:
            raise ValidationError(
                "lip_sync_tts_content", "is required with lip_sync_tts_speaker_id"
            )
        if content is not None and speaker is None:
            raise ValidationError(
                "lip_sync_tts_speaker_id", "is required with lip_sync_tts_content"
            )
        if self.audio_media_id is None and speaker is None:
            raise ValidationError(
                "audio_media_id",
                "exactly one of audio_media_id or lip_sync_tts_speaker_id + lip_sync_tts_content"
                " is required (got neither)",
            )
        if self.audio_media_id is not None and speaker is not None:
            raise ValidationError(
                "audio_media_id",
                "exactly one of audio_media_id or lip_sync_tts_speaker_id + lip_sync_tts_content"
                " is allowed (got both)",
                self.audio_media_id,
            )


@attrs.frozen(kw_only=True, field_transformer=_ordered)
class SoundEffect(GenerationRequest):
    """``POST /openapi/v2/video/sound_effect/generate``: add sound to a video.

    Without ``sound_effect_content`` the service picks a sound from the video content.

    >>> from pixverse_async.types import SoundEffect, to_json
    >>> to_json(SoundEffect(source_video_id=123123, original_sound_switch=True))
    {'source_video_id': 123123, 'original_sound_switch': True}
    """

    path: ClassVar[str] = Paths.SOUND_EFFECT
    kind: ClassVar[str] = "sound_effect"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    original_sound_switch: bool | None = attrs.field(default=None, validator=boolean)
    sound_effect_content: str | None = attrs.field(default=None, validator=_optional_text)

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)


# --- list queries -------------------------------------------------------------------------------


_page_number = integer(1, MAX_INT32)


@attrs.frozen(kw_only=True)
class PageQuery:
    """Paging of the list endpoints, sent as query parameters (strings, as the pages type them).

    >>> from pixverse_async.models import SpeakerListQuery
    >>> SpeakerListQuery(page_num=1, page_size=2).to_params()
    {'page_num': '1', 'page_size': '2'}
    """

    path: ClassVar[str]

    page_num: int = attrs.field(default=1, validator=_page_number)
    page_size: int = attrs.field(default=20, validator=_page_number)

    def to_params(self) -> dict[str, str]:
        """The query parameters of this page."""
        return {"page_num": str(self.page_num), "page_size": str(self.page_size)}


@attrs.frozen(kw_only=True)
class SpeakerListQuery(PageQuery):
    """``GET /openapi/v2/video/lip_sync/tts_list``: a page of TTS speakers."""

    path: ClassVar[str] = Paths.TTS_LIST


@attrs.frozen(kw_only=True)
class RestyleListQuery(PageQuery):
    """``GET /openapi/v2/video/restyle/list``: a page of restyle effects (query parameters,
    although the page shows a JSON body; see docs/api-notes.md)."""

    path: ClassVar[str] = Paths.RESTYLE_LIST


# --- registry -----------------------------------------------------------------------------------

#: Every generation request class by its ``kind`` (the ``"kind"`` key of a CLI batch file).
REQUEST_KINDS: dict[str, type[GenerationRequest]] = {
    cls.kind: cls
    for cls in (
        TextToVideo,
        ImageToVideo,
        Transition,
        MultiTransition,
        Extend,
        Fusion,
        Restyle,
        Swap,
        LipSync,
        SoundEffect,
        Mimic,
        Modify,
    )
}


def build_request(data: Mapping[str, Any]) -> GenerationRequest:
    """Build a generation request from a mapping with a ``"kind"`` key and its fields.

    Unknown kinds, unknown keys and missing required fields (all of them, at once) raise
    ValidationError too; fields left out take the request class's defaults.

    >>> from pixverse_async.types import build_request
    >>> build_request({"kind": "text_to_video", "prompt": "a paper boat"}).model
    <Model.V5: 'v5'>
    """
    if not isinstance(data, Mapping):
        raise ValidationError("kind", f"a request must be a mapping (got {type(data).__name__})")
    kind = data.get("kind")
    cls = REQUEST_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        if kind == MaskSelection.kind:
            raise ValidationError(
                "kind", "mask selection is not a generation: use `pixverse mask`", kind
            )
        raise ValidationError("kind", f"must be one of {', '.join(REQUEST_KINDS)}", kind)
    return _from_mapping(cls, {k: v for k, v in data.items() if k != "kind"})
