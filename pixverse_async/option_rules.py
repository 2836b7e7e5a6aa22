"""The rules for a call's transport options: ``timeout``, ``max_retries``, ``extra_headers``.

One place for them, below both the request models (which carry the options, checked when
built) and :mod:`pixverse_async.options` and the session (which apply them): a bad value is a
:class:`~pixverse_async.errors.ValidationError` naming the option, before anything is sent.

Example::

    from pixverse_async.option_rules import as_client_timeout, check_max_retries

    assert as_client_timeout(5).total == 5.0
    check_max_retries(0)  # a negative count or a bool would raise ValidationError
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import aiohttp

from .constants import API_KEY_HEADER, TRACE_ID_HEADER
from .errors import ValidationError

__all__ = [
    "RESERVED_HEADERS",
    "Timeout",
    "as_client_timeout",
    "check_extra_headers",
    "check_max_retries",
]

Timeout = float | aiohttp.ClientTimeout
"""A total timeout in seconds, or an :class:`aiohttp.ClientTimeout` for finer control."""

#: Headers the SDK sets itself; ``extra_headers`` may not name them (any letter case).
RESERVED_HEADERS = frozenset(
    name.lower() for name in (API_KEY_HEADER, TRACE_ID_HEADER, "Content-Type", "Content-Length")
)


def as_client_timeout(value: Timeout) -> aiohttp.ClientTimeout:
    """``value`` as an :class:`aiohttp.ClientTimeout` (a number is the total, in seconds).

    Anything else than a positive number or a ``ClientTimeout`` is a
    :class:`~pixverse_async.errors.ValidationError` (also a ``ValueError``).
    """
    if isinstance(value, aiohttp.ClientTimeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValidationError(
            "timeout",
            f"must be a positive number of seconds or an aiohttp.ClientTimeout, got {value!r:.40}",
            value,
        )
    return aiohttp.ClientTimeout(total=float(value))


def check_max_retries(value: object, field: str = "max_retries") -> None:
    """Raise :class:`~pixverse_async.errors.ValidationError` unless ``value`` is an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(field, f"must be an int >= 0, got {value!r:.40}", value)


def check_extra_headers(value: Mapping[str, str]) -> None:
    """Refuse header names the SDK owns, and names or values that are not one-line text."""
    if not isinstance(value, Mapping):
        raise ValidationError("extra_headers", "must be a mapping of header names to values")
    for name, text in value.items():
        field = f"extra_headers[{name!r:.60}]"
        if not isinstance(name, str) or not name or not _is_header_text(name):
            raise ValidationError(field, "a header name must be a non-empty one-line string")
        if name.lower() in RESERVED_HEADERS:
            raise ValidationError(
                field,
                f"is set by the SDK and cannot be replaced (reserved: {API_KEY_HEADER}, "
                f"{TRACE_ID_HEADER}, Content-Type, Content-Length)",
            )
        if not isinstance(text, str) or not _is_header_text(text):
            raise ValidationError(field, "a header value must be a one-line string")


def _is_header_text(text: str) -> bool:
    return "\r" not in text and "\n" not in text and "\0" not in text
