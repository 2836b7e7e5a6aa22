"""Per-call options: a timeout, a retry count, extra headers and extra body fields.

Every public call accepts these (as keywords, or on a request object); the client keeps
defaults for them (``PixVerse(timeout=..., max_retries=...)``, ``client.with_options(...)``).
They are for what the SDK does not know yet, and follow three rules:

- ``extra_body`` is merged into the JSON body of a POST; a GET has no body, so its keys go
  to the query string; an upload sends them as extra form fields. It only *adds*: a key the
  SDK already sends is a :class:`~pixverse_async.errors.ValidationError` (set that field
  through its typed argument). Outside a JSON body, values are sent as text (strings as
  they are, booleans as ``true``/``false``, numbers in decimal, lists and mappings as JSON).
- ``extra_headers`` are added to the request's headers and may replace ``User-Agent`` or add
  anything else, but not the headers the SDK owns: ``API-KEY`` (the key is only ever the
  client's ``api_key``, so it cannot leak through a header meant for something else),
  ``Ai-trace-id`` (one per logical call, reused by its retries and reported in errors),
  ``Content-Type`` and ``Content-Length`` (computed from the body). Naming one is a
  ``ValidationError``, raised before anything is sent; header values never appear in it.
- ``timeout`` and ``max_retries`` replace the client's for this call only.

Example::

    from pixverse_async.options import RequestOptions

    options = RequestOptions(timeout=5.0, max_retries=0, extra_headers={"X-Debug": "1"})
    assert options.client_timeout().total == 5.0
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs

from .errors import ValidationError
from .option_rules import (
    RESERVED_HEADERS,
    Timeout,
    as_client_timeout,
    check_extra_headers,
    check_max_retries,
)

__all__ = [
    "RESERVED_HEADERS",
    "RequestOptions",
    "Timeout",
    "as_client_timeout",
    "as_text",
    "check_extra_headers",
    "check_max_retries",
    "merge_extra",
    "merge_query",
    "request_options",
]


def _check_timeout(_: object, __: object, value: Timeout | None) -> None:
    if value is not None:
        as_client_timeout(value)


def _check_retries(_: object, __: object, value: int | None) -> None:
    if value is not None:
        check_max_retries(value)


def _check_headers(_: object, __: object, value: Mapping[str, str] | None) -> None:
    if value is not None:
        check_extra_headers(value)


def _check_body(_: object, __: object, value: Mapping[str, Any] | None) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError("extra_body", "must be a mapping with string keys")


@attrs.frozen(kw_only=True)
class RequestOptions:
    """What one call may override; ``None`` means the client's default.

    Checked when built: a bad value is a :class:`~pixverse_async.errors.ValidationError`
    naming the option, before anything is sent.
    """

    timeout: Timeout | None = attrs.field(default=None, validator=_check_timeout)
    max_retries: int | None = attrs.field(default=None, validator=_check_retries)
    extra_headers: Mapping[str, str] | None = attrs.field(default=None, validator=_check_headers)
    extra_body: Mapping[str, Any] | None = attrs.field(default=None, validator=_check_body)

    def client_timeout(self) -> aiohttp.ClientTimeout | None:
        """The timeout as aiohttp takes it, or None for the client's default."""
        return None if self.timeout is None else as_client_timeout(self.timeout)


def request_options(
    *,
    timeout: Timeout | None = None,
    max_retries: int | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> RequestOptions | None:
    """The four per-call keywords as one :class:`RequestOptions`, or None when none is set
    (the common case, which then costs nothing further)."""
    if timeout is None and max_retries is None and extra_headers is None and extra_body is None:
        return None
    return RequestOptions(
        timeout=timeout,
        max_retries=max_retries,
        extra_headers=extra_headers,
        extra_body=extra_body,
    )


def merge_extra(base: Mapping[str, Any] | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra``'s keys added; a key already in ``base`` is a ValidationError."""
    merged = dict(base or {})
    for key, value in extra.items():
        if key in merged:
            raise ValidationError(
                f"extra_body.{key}",
                "is a field the SDK already sends: set it through its typed argument",
            )
        merged[key] = value
    return merged


def as_text(key: str, value: Any) -> str:
    """An ``extra_body`` value as text, for a query string or a form field."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValidationError(f"extra_body.{key}", "must be a finite number", value)
        return str(value)
    try:
        return json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"extra_body.{key}", f"cannot be sent as text: {exc}") from exc


def merge_query(params: Mapping[str, str] | None, extra: Mapping[str, Any]) -> dict[str, str]:
    """A GET's query parameters with ``extra_body``'s added (see the module's rules)."""
    return merge_extra(params, {key: as_text(key, value) for key, value in extra.items()})
