"""Accepting either a request object or its fields as keywords."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def coerce_request(cls: type[T], request: T | None, fields: dict[str, Any]) -> T:
    """``request`` as it is, or ``cls(**fields)``; never both."""
    if request is not None:
        if fields:
            raise TypeError(f"pass either a {cls.__name__} or its fields as keywords, not both")
        if not isinstance(request, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(request).__name__}")
        return request
    return cls(**fields)
