"""The signed content of a delivery: ``f"{timestamp}\\n{nonce}\\n{form-encoded fields}"``.

PixVerse signs ``base64(HMAC-SHA256(secret, content))`` where the fields are the body's top-level
keys form-encoded as ``key=value`` joined by ``&`` (space as ``+``, booleans ``true``/``false``).
Its own examples disagree on the key order (body order in two, sorted in two), so both orders
can be built. Where the page is silent the rule is: numbers as JSON writes them, ``null`` as
``null``, nested values as compact JSON.

Example::

    from pixverse_async.webhooks.signing import form_payload

    body = {"id": "1", "url": "https://x/a b.mp4", "has_audio": True}
    assert form_payload(body) == "id=1&url=https%3A%2F%2Fx%2Fa+b.mp4&has_audio=true"
    assert form_payload(body, sort=True).startswith("has_audio=true&id=1")
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any


def form_value(value: Any) -> str:
    """A body value as the signed form shows it."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)  # what json writes for a finite float
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Characters form encoding leaves as they are (``quote_plus``'s always-safe set).
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_unreserved = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch
# Every UTF-8 byte (as a latin-1 character) to its form encoding: ``quote_plus`` in one pass.
_FORM_BYTES = {
    byte: "+" if byte == 0x20 else chr(byte) if chr(byte) in _UNRESERVED else f"%{byte:02X}"
    for byte in range(256)
}


def _quote(text: str) -> str:
    if _unreserved(text):
        return text
    # surrogatepass: a lone surrogate (valid in JSON text) still encodes, and fails the HMAC
    return text.encode("utf-8", "surrogatepass").decode("latin-1").translate(_FORM_BYTES)


def form_payload(fields: Mapping[str, Any], *, sort: bool = False) -> str:
    """The form-encoded top-level fields, in body order or sorted by key.

    The same as ``urllib.parse.urlencode(..., quote_via=quote_plus)``, faster.
    """
    keys = sorted(fields) if sort else fields
    return "&".join(f"{_quote(key)}={_quote(form_value(fields[key]))}" for key in keys)


def signed_content(timestamp: str, nonce: str, payload: str) -> bytes:
    """The exact bytes the HMAC covers."""
    return f"{timestamp}\n{nonce}\n{payload}".encode()
