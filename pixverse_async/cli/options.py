"""Command-line options derived from the request classes, one per attrs field.

Every field of a request class becomes ``--field-name``: integers are parsed as integers,
booleans accept ``true/false`` (a bare flag means true), enum fields offer their values as
choices (``--model`` also takes models this SDK does not know), and list fields take JSON,
e.g. ``--multi-transition '[{"img_id": 1, "duration": 3}, {"img_id": 2}]'``. Image and media
id fields also take a file path or an http(s) URL, uploaded first (see :mod:`.sources`).
"""

from __future__ import annotations

import argparse
import enum
import json
import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

from ..models import REQUEST_KINDS, MaskSelection
from ..models.requests import TRANSPORT_OPTIONS
from .sources import IMAGE_ID_FIELDS, MEDIA_ID_FIELDS

#: ``pixverse generate <name>`` → the request kind it builds.
GENERATE_KINDS: dict[str, str] = {
    "text": "text_to_video",
    "image": "image_to_video",
    "transition": "transition",
    "multi-transition": "multi_transition",
    "extend": "extend",
    "fusion": "fusion",
    "restyle": "restyle",
    "swap": "swap",
    "lip-sync": "lip_sync",
    "sound-effect": "sound_effect",
    "mimic": "mimic",
    "modify": "modify",
}

#: Every request class the command line builds, by kind (generations, and mask selection).
CLI_KINDS: dict[str, type[Any]] = {**REQUEST_KINDS, MaskSelection.kind: MaskSelection}
#: Request fields that are no command-line options (the call's own options).
_NOT_OPTIONS = TRANSPORT_OPTIONS | {"extra_body"}

_DEST_PREFIX = "field__"
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_bool(text: str) -> bool:
    """``true/yes/on/1`` or ``false/no/off/0`` (any case)."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_json(text: str) -> Any:
    """A JSON value (lists of objects, for instance)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None


def parse_id_or_source(text: str) -> int | str:
    """An id, or else a file path / URL to upload."""
    return int(text) if text.isascii() and text.isdigit() else text


def parse_id_list(text: str) -> Any:
    """A JSON list, or comma-separated ids / paths."""
    if text.lstrip().startswith("["):
        return parse_json(text)
    return [parse_id_or_source(part.strip()) for part in text.split(",") if part.strip()]


@attrs.frozen
class FieldOption:
    """How one request field appears on the command line."""

    name: str
    flag: str
    parse: Callable[[str], Any]
    required: bool
    default: Any = None
    choices: tuple[str, ...] | None = None
    is_bool: bool = False
    help: str = ""

    @property
    def dest(self) -> str:
        return _DEST_PREFIX + self.name


def _members(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(m for m in typing.get_args(hint) if m is not type(None))
    return (hint,)


def _option_for(field: attrs.Attribute[Any], hint: Any) -> FieldOption:
    members = _members(hint)
    # Defaults live in the request classes (one rule for the SDK, batch lines and this
    # command): an option left out is not sent to the class, which fills it.
    required = field.default is attrs.NOTHING
    default = None if required else field.default
    enums = [m for m in members if isinstance(m, type) and issubclass(m, enum.Enum)]
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    if field.name in IMAGE_ID_FIELDS or field.name in MEDIA_ID_FIELDS:
        what = "image" if field.name in IMAGE_ID_FIELDS else "video or audio"
        parse, text = parse_id_or_source, f"an id, or an {what} file path / URL to upload first"
    elif field.name == "img_ids":
        parse, text = parse_id_list, "image ids or paths: JSON list or comma-separated"
    elif bool in members:
        parse, text = parse_bool, "true or false; the bare flag means true"
    elif enums:
        values = tuple(str(m.value) for m in enums[0])
        if str in members:  # an open set: models newer than this SDK are sent as given
            text = "e.g. " + ", ".join(values)
        else:
            choices, text = values, "one of: " + ", ".join(values)
    elif any(typing.get_origin(m) in (tuple, list) for m in members):
        parse, text = parse_json, "JSON list"
    elif int in members:
        parse, text = int, "integer"
    else:
        text = "text"
    if required:
        text += " (required)"
    elif default is not None:
        text += f" (default: {default})"
    return FieldOption(
        name=field.name,
        flag="--" + field.name.replace("_", "-"),
        parse=parse,
        required=required,
        default=default,
        choices=choices,
        is_bool=parse is parse_bool,
        help=text,
    )


def field_options(cls: type[Any]) -> list[FieldOption]:
    """The options of a request class, in field order."""
    hints = typing.get_type_hints(cls)
    return [_option_for(f, hints[f.name]) for f in attrs.fields(cls) if f.name not in _NOT_OPTIONS]


def add_field_options(parser: argparse.ArgumentParser, kind: str) -> None:
    """Add one option per field of request ``kind``; :func:`fields_from_args` reads them."""
    cls = CLI_KINDS[kind]
    group = parser.add_argument_group(f"{cls.__name__} fields")
    for opt in field_options(cls):
        kwargs: dict[str, Any] = {
            "dest": opt.dest,
            "type": opt.parse,
            "required": opt.required,
            "default": None,
            "help": opt.help,
            "metavar": opt.name.upper(),
        }
        if opt.is_bool:
            kwargs.update(nargs="?", const=True)
        if opt.choices is not None:
            kwargs["choices"] = opt.choices
            kwargs["metavar"] = opt.name.upper()
        group.add_argument(opt.flag, **kwargs)
    parser.set_defaults(kind=kind)


def fields_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields given on the command line (None values left out)."""
    return {
        key[len(_DEST_PREFIX) :]: value
        for key, value in vars(args).items()
        if key.startswith(_DEST_PREFIX) and value is not None
    }
