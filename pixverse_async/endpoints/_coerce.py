"""Accepting either a request object or its fields as keywords; a request's call options."""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from ..errors import ValidationError
from ..models import PaidRequest, missing_fields
from ..options import RequestOptions, request_options

T = TypeVar("T")


def coerce_request(cls: type[T], request: T | None, fields: dict[str, Any]) -> T:
    """``request`` as it is, or ``cls(**fields)``; never both.

    A missing required field or an unknown one is a :class:`ValidationError` naming it (every
    missing one at once), like every other rule, rather than Python's ``TypeError``.
    """
    if request is not None:
        if fields:
            raise TypeError(f"pass either a {cls.__name__} or its fields as keywords, not both")
        if not isinstance(request, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(request).__name__}")
        return request
    try:
        return cls(**fields)
    except TypeError:  # a missing or unknown keyword: say which, as a ValidationError
        known, _needed = _names(cls)
        for name in fields:
            if name not in known:
                raise ValidationError(name, f"is not a field of {cls.__name__}") from None
        missing = missing_fields(cls, fields)
        if missing is not None:
            raise missing from None
        raise


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


def call_options(request: PaidRequest) -> RequestOptions | None:
    """The transport options ``request`` carries, or None when none is set (the defaults)."""
    return request_options(
        timeout=request.timeout,
        max_retries=request.max_retries,
        extra_headers=request.extra_headers,
    )
