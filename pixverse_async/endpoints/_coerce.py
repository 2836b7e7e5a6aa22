"""Accepting either a request object or its fields as keywords."""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from ..errors import ValidationError

T = TypeVar("T")


def coerce_request(cls: type[T], request: T | None, fields: dict[str, Any]) -> T:
    """``request`` as it is, or ``cls(**fields)``; never both.

    A missing required field or an unknown one is a :class:`ValidationError` naming it, like
    every other rule, rather than Python's ``TypeError``.
    """
    if request is not None:
        if fields:
            raise TypeError(f"pass either a {cls.__name__} or its fields as keywords, not both")
        if not isinstance(request, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(request).__name__}")
        return request
    known, needed = _names(cls)
    if not needed <= fields.keys() or not known >= fields.keys():
        for name in fields:
            if name not in known:
                raise ValidationError(name, f"is not a field of {cls.__name__}")
        for name in sorted(needed - fields.keys()):
            raise ValidationError(name, "is required")
    return cls(**fields)


_NAMES: dict[type[Any], tuple[frozenset[str], frozenset[str]]] = {}


def _names(cls: type[Any]) -> tuple[frozenset[str], frozenset[str]]:
    """A request class's field names, and those without a default."""
    names = _NAMES.get(cls)
    if names is None:
        fields = attrs.fields(cls)
        names = _NAMES[cls] = (
            frozenset(f.name for f in fields),
            frozenset(f.name for f in fields if f.default is attrs.NOTHING),
        )
    return names
