"""Request bodies of the generation endpoints, validated when built.

One frozen attrs class per endpoint. Building one checks every rule the spec pages state or
imply (NOTES.md, "Generation limits"); a broken rule raises
:class:`~pixverse_async.errors.ValidationError` naming the field, before anything is sent::

    >>> from pixverse_async.models import TextToVideo
    >>> TextToVideo(prompt="a cat", model="v5", duration=8, quality="1080p", aspect_ratio="16:9")
    Traceback (most recent call last):
    ...
    pixverse_async.errors.ValidationError: duration: 8 s is not available at 1080p

Enum fields take the enum or its string. Optional fields default to ``None`` and are left out
of the JSON body (:func:`pixverse_async.models.to_json`).

Models the SDK does not know (the service adds them: ``"v5.5"``, ``"v6"``, ...) are sent as
given, with a DEBUG log line; only the checks tied to a named model are skipped (style only on
v3.5, no motion mode on v5, durations 5 or 8); every other rule still holds.

Decisions where the pages are silent or loose (each is tested):

- Ids (``img_id``, ``template_id``, video and media ids) are positive 64-bit integers; ``bool``
  is never accepted as an int. ``seed`` is 0..2147483647.
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
  strings; per NOTES.md they are optional booleans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar, cast

import attrs

from ..constants import Limits, Paths
from ..errors import ValidationError
from ._checks import (
    LOG,
    MAX_INT32,
    boolean,
    check_id,
    exactly_one,
    ident,
    integer,
    lookup,
    member_of,
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
)

__all__ = [
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
    "Swap",
    "LipSync",
    "SoundEffect",
    "PageQuery",
    "SpeakerListQuery",
    "RestyleListQuery",
    "REQUEST_KINDS",
    "build_request",
]

_PROMPT_MAX = Limits.PROMPT_MAX_CHARS
_SWAP_QUALITIES = (Quality.P360, Quality.P540, Quality.P720)
_KNOWN_DURATIONS = (5, 8)
_MODEL_NAME_MAX = 64

T = TypeVar("T")

# --- converters: named functions (the mypy attrs plugin needs them so) ---------------------


def _to_model(value: Model | str) -> Model | str:
    return cast("Model | str", lookup(Model, value))


def _to_quality(value: Quality | str) -> Quality:
    return cast(Quality, lookup(Quality, value))


def _to_aspect_ratio(value: AspectRatio | str) -> AspectRatio:
    return cast(AspectRatio, lookup(AspectRatio, value))


def _to_motion_mode(value: MotionMode | str | None) -> MotionMode | None:
    return cast("MotionMode | None", lookup(MotionMode, value))


def _to_style(value: Style | str | None) -> Style | None:
    return cast("Style | None", lookup(Style, value))


def _to_camera_movement(value: CameraMovement | str | None) -> CameraMovement | None:
    return cast("CameraMovement | None", lookup(CameraMovement, value))


def _to_reference_type(value: FusionReferenceType | str) -> FusionReferenceType:
    return cast(FusionReferenceType, lookup(FusionReferenceType, value))


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


def _from_mapping(cls: type[T], data: Mapping[Any, Any], prefix: str = "") -> T:
    """Build ``cls(**data)``, turning unknown or missing keys into ValidationError."""
    dot = f"{prefix}." if prefix else ""
    fields = attrs.fields_dict(cls)  # type: ignore[arg-type]
    for key in data:
        if not isinstance(key, str) or key not in fields:
            raise ValidationError(f"{dot}{key}", f"unknown field for {cls.__name__}", data[key])
    for name, field in fields.items():
        if field.default is attrs.NOTHING and name not in data:
            raise ValidationError(f"{dot}{name}", "is required")
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
_id = ident()
_optional_id = ident(optional=True)
_seed = integer(Limits.SEED_MIN, Limits.SEED_MAX)
_optional_seed = integer(Limits.SEED_MIN, Limits.SEED_MAX, optional=True)
_duration = integer(1, MAX_INT32)
_optional_keyframe = integer(Limits.KEYFRAME_MIN, MAX_INT32, optional=True)
_keyframe = integer(Limits.KEYFRAME_MIN, MAX_INT32)
_quality = member_of(Quality)
_swap_quality = member_of(Quality, _SWAP_QUALITIES)
_aspect_ratio = member_of(AspectRatio)
_motion_mode = member_of(MotionMode, optional=True)
_style = member_of(Style, optional=True)
_camera_movement = member_of(CameraMovement, optional=True)
_reference_type = member_of(FusionReferenceType)


def _model(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, Model):
        return
    if value is None:
        raise ValidationError(attr.name, "is required")
    known = ", ".join(m.value for m in Model)
    if (
        not isinstance(value, str)
        or not value
        or value.strip() != value
        or len(value) > _MODEL_NAME_MAX
        or any(ch.isspace() for ch in value)
    ):
        raise ValidationError(
            attr.name, f"must be a model name such as {known} (got {value!r:.60})", value
        )
    LOG.debug(
        "model %r is not known to this SDK version; sending it as is and skipping the "
        "model-specific checks",
        value,
    )


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


# --- cross-field rules ------------------------------------------------------------------------


def _check_model_rules(
    model: Model | str,
    duration: int | None,
    quality: Quality,
    motion_mode: MotionMode | None = None,
    style: Style | None = None,
) -> None:
    """Model, duration, quality, motion mode and style together (NOTES.md limits)."""
    known = isinstance(model, Model)
    if duration is not None:
        if known and duration not in _KNOWN_DURATIONS:
            raise ValidationError("duration", f"must be 5 or 8 seconds (got {duration})", duration)
        if duration == 8 and quality is Quality.P1080:
            raise ValidationError("duration", "8 s is not available at 1080p", duration)
    if motion_mode is not None:
        if known and model is Model.V5:
            raise ValidationError("motion_mode", "not supported on model v5", motion_mode.value)
        if motion_mode is MotionMode.FAST:
            if duration is not None and duration != 5:
                raise ValidationError(
                    "motion_mode", f"fast motion only with duration 5 (got {duration})", "fast"
                )
            if quality is Quality.P1080:
                raise ValidationError(
                    "motion_mode", "fast motion is not available at 1080p", "fast"
                )
    if style is not None and known and model is not Model.V3_5:
        raise ValidationError(
            "style", f"only supported on model v3.5 (got model {model})", style.value
        )


def _check_audio_rules(
    sound_effect_switch: bool | None,
    sound_effect_content: str | None,
    lip_sync_switch: bool | None,
    lip_sync_tts_speaker_id: str | None,
    lip_sync_tts_content: str | None,
) -> None:
    """The sound-effect and lip-sync options of the generation pages."""
    if sound_effect_content is not None and sound_effect_switch is not True:
        raise ValidationError(
            "sound_effect_switch",
            "must be true when sound_effect_content is set",
            sound_effect_switch,
        )
    if lip_sync_switch is True:
        if lip_sync_tts_speaker_id is None:
            raise ValidationError(
                "lip_sync_tts_speaker_id", "is required when lip_sync_switch is true"
            )
        if lip_sync_tts_content is None:
            raise ValidationError(
                "lip_sync_tts_content", "is required when lip_sync_switch is true"
            )
    elif lip_sync_tts_speaker_id is not None or lip_sync_tts_content is not None:
        raise ValidationError(
            "lip_sync_switch",
            "must be true when lip_sync_tts_speaker_id or lip_sync_tts_content is set",
            lip_sync_switch,
        )


# --- request classes ----------------------------------------------------------------------------


class GenerationRequest:
    """Base of the request classes: each has a ``path`` and a ``kind`` (its batch-file name)."""

    __slots__ = ()

    path: ClassVar[str]
    kind: ClassVar[str]


@attrs.frozen(kw_only=True)
class TextToVideo(GenerationRequest):
    """``POST /openapi/v2/video/text/generate``.

    Sound and speech are opt-in: ``sound_effect_content`` needs ``sound_effect_switch=True``;
    ``lip_sync_switch=True`` needs ``lip_sync_tts_speaker_id`` and ``lip_sync_tts_content``
    (at most 140 characters), and those need the switch (the same on image-to-video and
    transition).

    >>> from pixverse_async.models import TextToVideo, to_json
    >>> req = TextToVideo(prompt="a cat naps", model="v5", duration=5, quality="540p",
    ...                   aspect_ratio="16:9", camera_movement="zoom_in")
    >>> to_json(req)["camera_movement"], "seed" in to_json(req)
    ('zoom_in', False)
    """

    path: ClassVar[str] = Paths.TEXT_TO_VIDEO
    kind: ClassVar[str] = "text_to_video"

    prompt: str = attrs.field(validator=_prompt)
    model: Model | str = attrs.field(converter=_to_model, validator=_model)
    duration: int = attrs.field(validator=_duration)
    quality: Quality = attrs.field(converter=_to_quality, validator=_quality)
    aspect_ratio: AspectRatio = attrs.field(converter=_to_aspect_ratio, validator=_aspect_ratio)
    negative_prompt: str | None = attrs.field(default=None, validator=_optional_prompt)
    motion_mode: MotionMode | None = attrs.field(
        default=None, converter=_to_motion_mode, validator=_motion_mode
    )
    seed: int | None = attrs.field(default=None, validator=_optional_seed)
    style: Style | None = attrs.field(default=None, converter=_to_style, validator=_style)
    template_id: int | None = attrs.field(default=None, validator=_optional_id)
    camera_movement: CameraMovement | None = attrs.field(
        default=None, converter=_to_camera_movement, validator=_camera_movement
    )
    sound_effect_switch: bool | None = attrs.field(default=None, validator=boolean)
    sound_effect_content: str | None = attrs.field(default=None, validator=_optional_text)
    lip_sync_switch: bool | None = attrs.field(default=None, validator=boolean)
    lip_sync_tts_speaker_id: str | None = attrs.field(default=None, validator=_speaker)
    lip_sync_tts_content: str | None = attrs.field(default=None, validator=_tts_content)

    def __attrs_post_init__(self) -> None:
        _check_model_rules(self.model, self.duration, self.quality, self.motion_mode, self.style)
        _check_audio_rules(
            self.sound_effect_switch,
            self.sound_effect_content,
            self.lip_sync_switch,
            self.lip_sync_tts_speaker_id,
            self.lip_sync_tts_content,
        )


@attrs.frozen(kw_only=True)
class ImageToVideo(GenerationRequest):
    """``POST /openapi/v2/video/img/generate``: animate an uploaded image.

    Give exactly one of ``img_id`` (a single image or a single-image template) and ``img_ids``
    (multi-image templates only, so ``template_id`` is then required).

    >>> from pixverse_async.models import ImageToVideo, to_json
    >>> to_json(ImageToVideo(img_id=302325299692608, prompt="the cat yawns", model="v4.5",
    ...                      duration=5, quality="540p", motion_mode="normal"))["img_id"]
    302325299692608
    """

    path: ClassVar[str] = Paths.IMAGE_TO_VIDEO
    kind: ClassVar[str] = "image_to_video"

    prompt: str = attrs.field(validator=_prompt)
    model: Model | str = attrs.field(converter=_to_model, validator=_model)
    duration: int = attrs.field(validator=_duration)
    quality: Quality = attrs.field(converter=_to_quality, validator=_quality)
    img_id: int | None = attrs.field(default=None, validator=_optional_id)
    img_ids: tuple[int, ...] | None = attrs.field(
        default=None, converter=_to_img_ids, validator=_img_ids
    )
    negative_prompt: str | None = attrs.field(default=None, validator=_optional_prompt)
    motion_mode: MotionMode | None = attrs.field(
        default=None, converter=_to_motion_mode, validator=_motion_mode
    )
    seed: int | None = attrs.field(default=None, validator=_optional_seed)
    style: Style | None = attrs.field(default=None, converter=_to_style, validator=_style)
    template_id: int | None = attrs.field(default=None, validator=_optional_id)
    camera_movement: CameraMovement | None = attrs.field(
        default=None, converter=_to_camera_movement, validator=_camera_movement
    )
    sound_effect_switch: bool | None = attrs.field(default=None, validator=boolean)
    sound_effect_content: str | None = attrs.field(default=None, validator=_optional_text)
    lip_sync_switch: bool | None = attrs.field(default=None, validator=boolean)
    lip_sync_tts_speaker_id: str | None = attrs.field(default=None, validator=_speaker)
    lip_sync_tts_content: str | None = attrs.field(default=None, validator=_tts_content)

    def __attrs_post_init__(self) -> None:
        exactly_one("img_id", self.img_id, "img_ids", self.img_ids)
        if self.img_ids is not None and self.template_id is None:
            raise ValidationError(
                "img_ids", "only for multi-image templates: template_id is required"
            )
        _check_model_rules(self.model, self.duration, self.quality, self.motion_mode, self.style)
        _check_audio_rules(
            self.sound_effect_switch,
            self.sound_effect_content,
            self.lip_sync_switch,
            self.lip_sync_tts_speaker_id,
            self.lip_sync_tts_content,
        )


@attrs.frozen(kw_only=True)
class Transition(GenerationRequest):
    """``POST /openapi/v2/video/transition/generate``: a video from a first and a last frame.

    >>> from pixverse_async.models import Transition, to_json
    >>> body = to_json(Transition(prompt="transform into a puppy", model="v5", duration=5,
    ...                           quality="540p", first_frame_img=1, last_frame_img=2,
    ...                           sound_effect_switch=True))
    >>> body["sound_effect_switch"]
    True
    """

    path: ClassVar[str] = Paths.TRANSITION
    kind: ClassVar[str] = "transition"

    prompt: str = attrs.field(validator=_prompt)
    model: Model | str = attrs.field(converter=_to_model, validator=_model)
    duration: int = attrs.field(validator=_duration)
    quality: Quality = attrs.field(converter=_to_quality, validator=_quality)
    first_frame_img: int = attrs.field(validator=_id)
    last_frame_img: int = attrs.field(validator=_id)
    motion_mode: MotionMode | None = attrs.field(
        default=None, converter=_to_motion_mode, validator=_motion_mode
    )
    seed: int | None = attrs.field(default=None, validator=_optional_seed)
    sound_effect_switch: bool | None = attrs.field(default=None, validator=boolean)
    sound_effect_content: str | None = attrs.field(default=None, validator=_optional_text)
    lip_sync_switch: bool | None = attrs.field(default=None, validator=boolean)
    lip_sync_tts_speaker_id: str | None = attrs.field(default=None, validator=_speaker)
    lip_sync_tts_content: str | None = attrs.field(default=None, validator=_tts_content)

    def __attrs_post_init__(self) -> None:
        _check_model_rules(self.model, self.duration, self.quality, self.motion_mode)
        _check_audio_rules(
            self.sound_effect_switch,
            self.sound_effect_content,
            self.lip_sync_switch,
            self.lip_sync_tts_speaker_id,
            self.lip_sync_tts_content,
        )


@attrs.frozen(kw_only=True)
class MultiTransitionFrame:
    """One keyframe of a multi-transition video.

    ``duration`` (seconds, from 1) is required on every frame but the last; the last frame's
    is optional, may be 0 (as in the page's example) and is not counted in the total.

    >>> from pixverse_async.models import MultiTransitionFrame
    >>> MultiTransitionFrame(img_id=7, duration=3, prompt="turns around").duration
    3
    """

    img_id: int = attrs.field(validator=_id)
    duration: int | None = attrs.field(default=None, validator=integer(0, MAX_INT32, optional=True))
    prompt: str | None = attrs.field(default=None, validator=_optional_prompt)


@attrs.frozen(kw_only=True)
class MultiTransition(GenerationRequest):
    """``POST /openapi/v2/video/multi_transition/generate``: 2 to 7 keyframes, 1 to 30 s in all.

    Frames may be :class:`MultiTransitionFrame` objects or plain mappings.

    >>> from pixverse_async.models import MultiTransition, to_json
    >>> req = MultiTransition(model="v5", quality="360p", multi_transition=[
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
    model: Model | str = attrs.field(converter=_to_model, validator=_model)
    quality: Quality = attrs.field(converter=_to_quality, validator=_quality)

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


@attrs.frozen(kw_only=True)
class Extend(GenerationRequest):
    """``POST /openapi/v2/video/extend/generate``: continue a video.

    Exactly one of ``source_video_id`` (a generated video) and ``video_media_id`` (an uploaded
    one). The page makes ``seed`` required.

    >>> from pixverse_async.models import Extend
    >>> Extend(source_video_id=9, prompt="across the universe", seed=123123, quality="540p",
    ...        duration=5, model="v4.5").kind
    'extend'
    """

    path: ClassVar[str] = Paths.EXTEND
    kind: ClassVar[str] = "extend"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    prompt: str = attrs.field(validator=_prompt)
    seed: int = attrs.field(validator=_seed)
    quality: Quality = attrs.field(converter=_to_quality, validator=_quality)
    duration: int = attrs.field(validator=_duration)
    model: Model | str = attrs.field(converter=_to_model, validator=_model)
    motion_mode: MotionMode | None = attrs.field(
        default=None, converter=_to_motion_mode, validator=_motion_mode
    )
    style: Style | None = attrs.field(default=None, converter=_to_style, validator=_style)

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)
        _check_model_rules(self.model, self.duration, self.quality, self.motion_mode, self.style)


@attrs.frozen(kw_only=True)
class ImageReference:
    """One image of a fusion request: a ``subject`` or a ``background`` named ``ref_name``.

    ``ref_name`` has no spaces and no ``@``; the fusion prompt mentions it as ``@ref_name``.

    >>> from pixverse_async.models import ImageReference
    >>> ImageReference(type="subject", img_id=1, ref_name="dog").type.value
    'subject'
    """

    type: FusionReferenceType = attrs.field(converter=_to_reference_type, validator=_reference_type)
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


@attrs.frozen(kw_only=True)
class Fusion(GenerationRequest):
    """``POST /openapi/v2/video/fusion/generate``: a video from named reference images.

    Every ``ref_name`` is unique and the prompt mentions each as ``@ref_name``.

    >>> from pixverse_async.models import Fusion, to_json
    >>> req = Fusion(image_references=[
    ...         {"type": "subject", "img_id": 1, "ref_name": "dog"},
    ...         {"type": "background", "img_id": 2, "ref_name": "room"}],
    ...     prompt="@dog plays at @room", model="v4.5", duration=5, quality="540p",
    ...     aspect_ratio="16:9", seed=123456789)
    >>> to_json(req)["image_references"][1]
    {'type': 'background', 'img_id': 2, 'ref_name': 'room'}
    """

    path: ClassVar[str] = Paths.FUSION
    kind: ClassVar[str] = "fusion"

    image_references: tuple[ImageReference, ...] = attrs.field(
        converter=_to_references, validator=_items_of(ImageReference, 1)
    )
    prompt: str = attrs.field(validator=_prompt)
    model: Model | str = attrs.field(converter=_to_model, validator=_model)
    duration: int = attrs.field(validator=_duration)
    quality: Quality = attrs.field(converter=_to_quality, validator=_quality)
    aspect_ratio: AspectRatio = attrs.field(converter=_to_aspect_ratio, validator=_aspect_ratio)
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
        _check_model_rules(self.model, self.duration, self.quality)


@attrs.frozen(kw_only=True)
class Restyle(GenerationRequest):
    """``POST /openapi/v2/video/restyle/generate``.

    Exactly one video source, and exactly one of ``restyle_id`` (from the restyle list) and
    ``restyle_prompt``.

    >>> from pixverse_async.models import Restyle, to_json
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


@attrs.frozen(kw_only=True)
class MaskSelection(GenerationRequest):
    """``POST /openapi/v2/video/mask/selection``: find swappable masks on one keyframe.

    ``keyframe_id`` counts from 1; the service uses 1 when it is left out.

    >>> from pixverse_async.models import MaskSelection, to_json
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


@attrs.frozen(kw_only=True)
class Swap(GenerationRequest):
    """``POST /openapi/v2/video/swap/generate``: replace a masked object with an image.

    The video, ``keyframe_id`` and ``mask_id`` must come from the same mask selection;
    ``quality`` is 360p, 540p or 720p.

    >>> from pixverse_async.models import Swap, to_json
    >>> to_json(Swap(video_media_id=3, mask_id="12", img_id=4, quality="360p"))
    {'video_media_id': 3, 'keyframe_id': 1, 'mask_id': '12', 'img_id': 4, 'quality': '360p'}
    """

    path: ClassVar[str] = Paths.SWAP
    kind: ClassVar[str] = "swap"

    source_video_id: int | None = attrs.field(default=None, validator=_optional_id)
    video_media_id: int | None = attrs.field(default=None, validator=_optional_id)
    keyframe_id: int = attrs.field(default=Limits.KEYFRAME_MIN, validator=_keyframe)
    mask_id: str = attrs.field(validator=text(non_empty=True))
    img_id: int = attrs.field(validator=_id)
    quality: Quality = attrs.field(converter=_to_quality, validator=_swap_quality)

    def __attrs_post_init__(self) -> None:
        exactly_one("source_video_id", self.source_video_id, "video_media_id", self.video_media_id)


@attrs.frozen(kw_only=True)
class LipSync(GenerationRequest):
    """``POST /openapi/v2/video/lip_sync/generate``.

    One video source (``source_video_id`` or ``video_media_id``) and one voice: either
    ``audio_media_id`` or ``lip_sync_tts_speaker_id`` together with ``lip_sync_tts_content``
    (at most 140 characters).

    >>> from pixverse_async.models import LipSync, to_json
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
    lip_sync_tts_content: str | None = attrs.field(
        default=None,
        validator=text(Limits.TTS_CONTENT_MAX_CHARS, optional=True, non_empty=True),
    )

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


@attrs.frozen(kw_only=True)
class SoundEffect(GenerationRequest):
    """``POST /openapi/v2/video/sound_effect/generate``: add sound to a video.

    Without ``sound_effect_content`` the service picks a sound from the video content.

    >>> from pixverse_async.models import SoundEffect, to_json
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
    although the page shows a JSON body; see NOTES.md)."""

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
        MaskSelection,
        Swap,
        LipSync,
        SoundEffect,
    )
}


def build_request(data: Mapping[str, Any]) -> GenerationRequest:
    """Build a request from a mapping with a ``"kind"`` key and the request's fields.

    Unknown kinds, unknown keys and missing required fields raise ValidationError too.

    >>> from pixverse_async.models import build_request
    >>> build_request({"kind": "mask_selection", "source_video_id": 5})
    MaskSelection(source_video_id=5, video_media_id=None, keyframe_id=None)
    """
    if not isinstance(data, Mapping):
        raise ValidationError("kind", f"a request must be a mapping (got {type(data).__name__})")
    kind = data.get("kind")
    cls = REQUEST_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValidationError("kind", f"must be one of {', '.join(REQUEST_KINDS)}", kind)
    return _from_mapping(cls, {k: v for k, v in data.items() if k != "kind"})
