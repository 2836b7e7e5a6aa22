"""Checks and converters shared by the request classes.

Every check raises :class:`~pixverse_async.errors.ValidationError` naming the field and the
rule, whatever the value's type: a request built from arbitrary input never lets a
``TypeError`` or ``KeyError`` escape.

Converters never raise: a value they cannot convert passes through unchanged, and the field's
validator then reports it with the field's name (attrs validators know the attribute,
converters do not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

from ..errors import ValidationError

LOG = logging.getLogger("pixverse_async")

#: Largest id the service takes: ids are 64-bit unsigned integers (docs/api-notes.md), e.g.
#: ``302325299692608``.
MAX_ID = 2**64 - 1
#: Largest value of the small counters (keyframe_id, page_num, ...): a 32-bit int.
MAX_INT32 = 2**31 - 1

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def describe(value: object) -> str:
    """A short, bounded description of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: object) -> bool:
    """True for ints, false for bools (``True`` is an ``int`` in Python, never an id here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(field: str, value: object, minimum: int, maximum: int) -> int:
    if not is_int(value):
        raise ValidationError(field, f"must be an integer (got {type(value).__name__})", value)
    assert isinstance(value, int)
    if value < minimum or value > maximum:
        if minimum == 1 and maximum == MAX_ID:
            rule = f"must be a positive 64-bit unsigned integer (got {value})"
        else:
            rule = f"must be between {minimum} and {maximum} (got {value})"
        raise ValidationError(field, rule, value)
    return value


def check_id(field: str, value: object) -> int:
    return check_int(field, value, 1, MAX_ID)


def check_text(
    field: str, value: object, *, max_chars: int | None = None, non_empty: bool = False
) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string (got {type(value).__name__})", value)
    if non_empty and not value.strip():
        raise ValidationError(field, "must not be empty", value)
    if max_chars is not None and len(value) > max_chars:
        raise ValidationError(field, f"at most {max_chars} characters (got {len(value)})", value)
    return value


def required(field: str) -> ValidationError:
    return ValidationError(field, "is required", None)


# --- attrs validators -----------------------------------------------------------------------


def ident(optional: bool = False) -> Validator:
    """A positive 64-bit id (img_id, template_id, video ids, media ids)."""

    def validate(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            if optional:
                return
            raise required(attr.name)
        check_id(attr.name, value)

    return validate


def integer(minimum: int, maximum: int, optional: bool = False) -> Validator:
    def validate(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            if optional:
                return
            raise required(attr.name)
        check_int(attr.name, value, minimum, maximum)

    return validate


def text(
    max_chars: int | None = None, *, optional: bool = False, non_empty: bool = False
) -> Validator:
    def validate(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            if optional:
                return
            raise required(attr.name)
        check_text(attr.name, value, max_chars=max_chars, non_empty=non_empty)

    return validate


def boolean(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    """An optional boolean switch: ``True``/``False``, never ``"true"`` or ``1``."""
    if value is not None and not isinstance(value, bool):
        raise ValidationError(attr.name, f"must be a boolean (got {type(value).__name__})", value)


def exactly_one(first: str, first_value: object, second: str, second_value: object) -> None:
    """Exactly one of two alternative fields is set; the error names the first."""
    if first_value is None and second_value is None:
        raise ValidationError(
            first, f"exactly one of {first} or {second} is required (got neither)"
        )
    if first_value is not None and second_value is not None:
        raise ValidationError(
            first, f"exactly one of {first} or {second} is allowed (got both)", first_value
        )
