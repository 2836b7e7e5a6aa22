"""Signing deliveries in the tests, written from the spec independently of the SDK's code.

``base64(HMAC-SHA256(secret, f"{timestamp}\\n{nonce}\\n{fields}"))``, the fields form-encoded
(space as ``+``, booleans ``true``/``false``) in body order or sorted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote_plus


def form(body: dict[str, Any], *, sort: bool = False) -> str:
    def text(value: Any) -> str:
        if value is True:
            return "true"
        if value is False:
            return "false"
        return str(value)

    keys = sorted(body) if sort else list(body)
    return "&".join(quote_plus(k) + "=" + quote_plus(text(body[k])) for k in keys)


def signature(secret: str, timestamp: str, nonce: str, payload: str) -> str:
    content = f"{timestamp}\n{nonce}\n{payload}".encode()
    return base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha256).digest()).decode()


def delivery(
    secret: str,
    body: dict[str, Any],
    *,
    timestamp: int,
    nonce: str,
    sort: bool = False,
    trace_id: str | None = "trace-1",
) -> tuple[dict[str, str], bytes]:
    """Headers and raw body of one signed delivery."""
    ts = str(timestamp)
    headers = {
        "Webhook-Timestamp": ts,
        "Webhook-Nonce": nonce,
        "Webhook-Signature": signature(secret, ts, nonce, form(body, sort=sort)),
    }
    if trace_id is not None:
        headers["Ai-Trace-Id"] = trace_id
    return headers, json.dumps(body, ensure_ascii=False).encode()
