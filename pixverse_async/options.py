"""Per-call options: a timeout, a retry count, extra headers and extra body fields.

Every public call accepts these (as keywords, or on a request object); the client keeps
defaults for them (``PixVerse(timeout=..., max_retries=...)``, ``client.with_options(...)``).
``extra_body`` is merged into the JSON body (or the upload's form fields) and
``extra_headers`` into the request's headers, for what the SDK does not know yet.

Example::

    from pixverse_async.options import RequestOptions

    options = RequestOptions(timeout=5.0, max_retries=0, extra_headers={"X-Debug": "1"})
    assert options.client_timeout().total == 5.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs

Timeout = float | aiohttp.ClientTimeout
"""A total timeout in seconds, or an :class:`aiohttp.ClientTimeout` for finer control."""


def as_client_timeout(value: Timeout) -> aiohttp.ClientTimeout:
    """``value`` as an :class:`aiohttp.ClientTimeout` (a number is the total, in seconds)."""
    if isinstance(value, aiohttp.ClientTimeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {value!r}")
    return aiohttp.ClientTimeout(total=float(value))


@attrs.frozen(kw_only=True)
class RequestOptions:
    """What one call may override; ``None`` means the client's default."""

    timeout: Timeout | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] | None = None
    extra_body: Mapping[str, Any] | None = None

    def client_timeout(self) -> aiohttp.ClientTimeout | None:
        """The timeout as aiohttp takes it, or None for the client's default."""
        return None if self.timeout is None else as_client_timeout(self.timeout)
