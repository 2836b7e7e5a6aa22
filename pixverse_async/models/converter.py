"""The one cattrs converter between the models and JSON.

- :func:`to_json` turns a request into its JSON body: ``None`` fields left out, enums as their
  values, booleans as booleans, nested frames and references as dicts in lists.
- :func:`from_json` builds a response class from a decoded ``Resp`` object. Extra keys are
  ignored; a missing required key or a value of the wrong JSON type raises
  :class:`~pixverse_async.errors.ResponseDecodingError` naming the field, never a bare
  cattrs, ``KeyError`` or ``TypeError``.

Both sit on hot paths (every submit and every status poll), so the per-class functions are
generated once (by cattrs), when this module is imported.

>>> from pixverse_async.models import TextToVideo, Video, from_json, to_json
>>> body = to_json(TextToVideo(prompt="a cat", model="v5", duration=5, quality="540p",
...                            aspect_ratio="16:9", seed=0))
>>> body["model"], body["quality"], body["seed"], "style" in body
('v5', '540p', 0, False)
>>> from_json(Video, {"id": 3})
Traceback (most recent call last):
...
pixverse_async.errors.ResponseDecodingError: missing field 'status' in Video
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ..errors import ResponseDecodingError, ValidationError
from .enums import VideoStatus
from .requests import (
    REQUEST_KINDS,
    TRANSPORT_OPTIONS,
    GenerationRequest,
    ImageReference,
    ImageTemplate,
    MaskSelection,
    MultiTransitionFrame,
    PageQuery,
    PaidRequest,
    RestyleListQuery,
    SpeakerListQuery,
    Swap,
    build_request,
)
from .responses import (
    Balance,
    GenerationResult,
    ImageResult,
    ImageTemplateResult,
    ImageUpload,
    MaskInfo,
    MaskSelectionResult,
    MediaUpload,
    RestyleEffect,
    RestylePage,
    Speaker,
    SpeakerPage,
    Video,
)

__all__ = ["converter", "from_json", "to_json"]

T = TypeVar("T")

#: The SDK's converter. Requests unstructure to JSON bodies; responses structure strictly.
converter = cattrs.Converter(
    forbid_extra_keys=False,
    detailed_validation=True,
    unstruct_collection_overrides={tuple: list},
)

# --- requests -> JSON -------------------------------------------------------------------------

#: The request fields that never go into the body as such: options of the call, and
#: ``extra_body`` (merged into the body by :func:`to_json`).
_NOT_IN_BODY = (*sorted(TRANSPORT_OPTIONS), "extra_body")
#: Fields sent even when they hold their default (the page marks them required).
_ALWAYS_SENT = {Swap: ("keyframe_id",)}


def _make_unstructure(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """cattrs' own generated function for ``cls``: fields at their default left out.

    Defaults are ``None`` for optional fields, and the service's default for required ones
    the SDK fills (model, duration, quality, aspect ratio), which are always sent.
    """
    attrs.resolve_types(cls)
    names = {f.name for f in attrs.fields(cls)}
    overrides: dict[str, Any] = {n: override(omit=True) for n in _NOT_IN_BODY if n in names}
    for field in attrs.fields(cls):
        if field.default is not None and field.name not in overrides:
            overrides[field.name] = override(omit_if_default=False)
    return make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **overrides)


def _has_enum(tp: Any) -> bool:
    return any(isinstance(a, type) and issubclass(a, enum.Enum) for a in (tp, *get_args(tp)))


def _enum_value(value: Any) -> Any:
    """A str enum as its value; a plain str (a value this SDK does not know) as it is."""
    return value._value_ if isinstance(value, enum.Enum) else value


converter.register_unstructure_hook_func(_has_enum, _enum_value)
for _part in (MultiTransitionFrame, ImageReference):
    converter.register_unstructure_hook(_part, _make_unstructure(_part))

_UNSTRUCTURE: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}
_cls: type[Any]
for _cls in (*REQUEST_KINDS.values(), MaskSelection, ImageTemplate):
    _UNSTRUCTURE[_cls] = _make_unstructure(_cls)
    converter.register_unstructure_hook(_cls, _UNSTRUCTURE[_cls])
for _cls in (SpeakerListQuery, RestyleListQuery):
    converter.register_unstructure_hook(_cls, PageQuery.to_params)


def to_json(request: PaidRequest) -> dict[str, Any]:
    """The JSON body of ``request``: unset optional fields omitted, enums as strings, and
    ``extra_body`` merged in.

    >>> from pixverse_async.types import Restyle, to_json
    >>> to_json(Restyle(video_media_id=4, restyle_prompt="as a watercolour"))
    {'video_media_id': 4, 'restyle_prompt': 'as a watercolour'}
    """
    fn = _UNSTRUCTURE.get(request.__class__)
    if fn is None:
        fn = _unstructure_for(request.__class__)
    body = fn(request)
    if request.extra_body:
        body.update(request.extra_body)
    return body


def _unstructure_for(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """The JSON builder of a request class not seen yet (a user's subclass, say)."""
    if not (isinstance(cls, type) and issubclass(cls, PaidRequest) and attrs.has(cls)):
        raise TypeError(f"not a request model: {cls.__name__}")
    fn = _UNSTRUCTURE[cls] = _make_unstructure(cls)
    converter.register_unstructure_hook(cls, fn)
    return fn


# Requests from mappings (the CLI batch file): ValidationError, never a cattrs error.
def _structure_request(data: Any, cls: type[GenerationRequest]) -> GenerationRequest:
    if not isinstance(data, Mapping):
        raise ValidationError("kind", f"a request must be a mapping (got {type(data).__name__})")
    return build_request({**data, "kind": cls.kind})


for _cls in REQUEST_KINDS.values():
    converter.register_structure_hook(_cls, _structure_request)


# --- JSON -> responses ------------------------------------------------------------------------


def _structure_int(value: Any, _type: Any) -> int:
    if value.__class__ is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {_json_type(value)}")


def _structure_str(value: Any, _type: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {_json_type(value)}")


def _structure_bool(value: Any, _type: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {_json_type(value)}")


_STATUS_BY_VALUE = {member.value: member for member in VideoStatus}


def _structure_status(value: Any, _type: Any) -> VideoStatus:
    member = _STATUS_BY_VALUE.get(value) if value.__class__ is int else None
    if member is not None:
        return member
    return VideoStatus(_structure_int(value, int))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook(VideoStatus, _structure_status)


def _optional(hook: Callable[[Any, Any], T]) -> Callable[[Any, Any], T | None]:
    def structure(value: Any, _type: Any) -> T | None:
        return None if value is None else hook(value, _type)

    return structure


def _is(expected: Any) -> Callable[[Any], bool]:
    def predicate(tp: Any) -> bool:
        return bool(tp == expected)

    return predicate


# cattrs' generic Optional hook dispatches on every call; these are direct (status poll path).
for _type, _hook in ((int, _structure_int), (str, _structure_str), (bool, _structure_bool)):
    converter.register_structure_hook_func(_is(_type | None), _optional(_hook))


def _tuple_hook(tuple_type: Any) -> Callable[[Any, Any], tuple[Any, ...]]:
    (item_type, _ellipsis) = get_args(tuple_type)
    item_hook = converter.get_structure_hook(item_type)

    def structure(value: Any, _type: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise TypeError(f"expected an array, got {_json_type(value)}")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(item_hook(item, item_type))
            except Exception as exc:
                note = IterableValidationNote(f"Structuring item @ index {index}", index, item_type)
                notes = [*getattr(exc, "__notes__", []), note]
                exc.__notes__ = notes  # type: ignore[attr-defined]  # 3.10 has no add_note
                raise IterableValidationError(
                    f"While structuring {tuple_type!r}", [exc], tuple_type
                ) from None
        return tuple(items)

    return structure


#: JSON key of each renamed attribute, per class (for the attribute -> key in messages).
_JSON_NAMES: dict[type[Any], dict[str, str]] = {
    Video: {"output_width": "outputWidth", "output_height": "outputHeight"},
}
_WITH_EXTRA = (RestyleEffect, Balance, ImageResult)
_FALLBACK_KEYS: dict[type[Any], dict[str, str]] = {
    RestyleEffect: {"name": "restyle_name", "thumbnail": "web_thumbnail_url"},
    # the cost is ``credits`` on some endpoints and ``credit`` on others (docs/api-notes.md)
    GenerationResult: {"credits": "credit"},
    ImageTemplateResult: {"credits": "credit"},
    ImageResult: {"url": "image_url"},
}


def _register_response(cls: type[Any]) -> None:
    renames = _JSON_NAMES.get(cls, {})
    for field in attrs.fields(cls):
        if get_origin(field.type) is tuple:
            converter.register_structure_hook_func(_is(field.type), _tuple_hook(field.type))
    overrides: dict[str, Any] = {name: override(rename=key) for name, key in renames.items()}
    if cls in _WITH_EXTRA:
        overrides["extra"] = override(omit=True)
    generated = make_dict_structure_fn(cls, converter, **overrides)

    if cls in _WITH_EXTRA:
        known = {f.name for f in attrs.fields(cls)} - {"extra"}
        fallbacks = _FALLBACK_KEYS.get(cls, {})
        # keys read as fallbacks are not "extra" either
        consumed = known | set(fallbacks.values())

        def structure(value: Any, _type: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {_json_type(value)}")
            data = value
            if fallbacks:
                data = dict(value)
                for name, key in fallbacks.items():
                    if name not in data and key in data:
                        data[name] = data[key]
            obj = generated(data, _type)
            extra = {k: v for k, v in value.items() if k not in consumed}
            if extra:
                object.__setattr__(obj, "extra", extra)
            return obj

    elif cls in _FALLBACK_KEYS:
        ((name, key),) = _FALLBACK_KEYS[cls].items()

        def structure(value: Any, _type: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {_json_type(value)}")
            if name not in value and key in value:
                value = {**value, name: value[key]}
            return generated(value, _type)

    else:

        def structure(value: Any, _type: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {_json_type(value)}")
            return generated(value, _type)

    converter.register_structure_hook(cls, structure)


# Nested classes first: a hook captures the hooks of its fields when it is generated.
for _cls in (
    MaskInfo,
    Speaker,
    RestyleEffect,
    GenerationResult,
    ImageTemplateResult,
    ImageResult,
    Video,
    MaskSelectionResult,
    ImageUpload,
    MediaUpload,
    SpeakerPage,
    RestylePage,
    Balance,
):
    attrs.resolve_types(_cls)
    _register_response(_cls)


def from_json(cls: type[T], data: Any) -> T:
    """Build response class ``cls`` from a decoded JSON object (the envelope's ``Resp``).

    Raises :class:`~pixverse_async.errors.ResponseDecodingError` naming the field when a
    required key is missing or a value has the wrong type.

    >>> from pixverse_async.models import MediaUpload, from_json
    >>> from pixverse_async import ResponseDecodingError
    >>> try:
    ...     from_json(MediaUpload, {"media_id": "7", "media_type": "video", "url": "u"})
    ... except ResponseDecodingError as exc:
    ...     print(exc)
    field 'media_id' in MediaUpload: expected an integer, got string
    """
    try:
        return converter.structure(data, cls)
    except Exception as exc:
        problems = _describe(exc, cls.__name__, None)
        raise ResponseDecodingError("; ".join(problems)) from exc


def _describe(exc: BaseException, where: str, owner: type[Any] | None) -> list[str]:
    """Readable problems of a (possibly nested) cattrs error, with field paths."""
    if isinstance(exc, ClassValidationError):
        owner = exc.cl
        problems: list[str] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            key = _JSON_NAMES.get(owner, {}).get(note.name, note.name)
            if isinstance(sub, (ClassValidationError, IterableValidationError)):
                problems += _describe(sub, f"{where}.{key}", owner)
            elif isinstance(sub, KeyError):
                problems.append(f"missing field {sub.args[0]!r} in {where}")
            else:
                problems.append(f"field {key!r} in {where}: {_message(sub)}")
        problems += [f"{where}: {_message(sub)}" for sub in without]
        return problems
    if isinstance(exc, IterableValidationError):
        problems = []
        with_inotes, without = exc.group_exceptions()
        for sub, inote in with_inotes:
            problems += _describe(sub, f"{where}[{inote.index}]", owner)
        problems += [f"{where}: {_message(sub)}" for sub in without]
        return problems
    return [f"{where}: {_message(exc)}"]


def _message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, (TypeError, ValueError)) else f"{type(exc).__name__}: {exc}"
