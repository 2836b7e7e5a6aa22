"""What the journal stores: :class:`JournalEntry`, and the stable key of a request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .states import JournalState

__all__ = ["COLUMNS", "JournalEntry", "canonical", "request_key"]

_KEY_DOMAIN: Final = "pixverse-async/journal/v1"

COLUMNS: Final = (
    "key",
    "kind",
    "body",
    "state",
    "attempts",
    "trace_id",
    "video_id",
    "credits",
    "url",
    "result",
    "error_type",
    "error_message",
    "created_at",
    "updated_at",
    "resends",
)
"""The stored columns of an entry, in the order both stores select them."""


@attrs.frozen
class JournalEntry:
    """One journaled request, as stored. Times are seconds since the epoch."""

    key: str
    kind: str
    body: dict[str, Any] = attrs.field(hash=False)
    state: JournalState
    attempts: int
    """How many times ``mark_sending`` was recorded for it."""
    trace_id: str | None
    video_id: int | None
    credits: int | None
    url: str | None
    result: dict[str, Any] | None = attrs.field(hash=False)
    error_type: str | None
    error_message: str | None
    created_at: float
    updated_at: float
    resends: int = 0
    """How many times it was sent again under its ``trace_id`` (by the SDK's resends of an
    unknown outcome, or a later run's send of a requeued entry)."""

    @classmethod
    def from_row(cls, row: Any) -> JournalEntry:
        """Build an entry from a stored row (a sequence in :data:`COLUMNS` order)."""
        result = row[9]
        return cls(
            key=row[0],
            kind=row[1],
            body=json.loads(row[2]),
            state=JournalState(row[3]),
            attempts=row[4],
            trace_id=row[5],
            video_id=row[6],
            credits=row[7],
            url=row[8],
            result=None if result is None else json.loads(result),
            error_type=row[10],
            error_message=row[11],
            created_at=row[12],
            updated_at=row[13],
            resends=row[14],
        )

    @property
    def is_terminal(self) -> bool:
        """True when the request is finished (SUCCEEDED or FAILED)."""
        return self.state.is_terminal

    @property
    def needs_attention(self) -> bool:
        """True when a person must decide (SENDING or UNKNOWN): it may have been paid for."""
        return self.state.is_ambiguous


def request_key(kind: str, body: Mapping[str, Any], occurrence: int = 0) -> str:
    """Return the stable journal key of a request: a 64-character hex SHA-256.

    The key covers ``kind`` (e.g. ``"text_to_video"``), the canonical JSON of ``body`` (sorted
    keys, no whitespace, UTF-8) and ``occurrence``: how many times the runner has already seen
    this same ``kind`` + ``body`` in the batch, so that a request listed twice on purpose gets
    two keys (two videos) while a rerun of the same batch maps onto the same keys again.

    Pass the JSON body exactly as it is sent (the unstructured request): ``5`` and ``5.0`` or
    ``1`` and ``True`` give different keys, and non-JSON values raise ``TypeError``.

    Example::

        >>> a = request_key("text_to_video", {"prompt": "a cat", "duration": 5})
        >>> a == request_key("text_to_video", {"duration": 5, "prompt": "a cat"})
        True
        >>> a == request_key("text_to_video", {"prompt": "a cat", "duration": 5}, occurrence=1)
        False
    """
    if isinstance(occurrence, bool) or not isinstance(occurrence, int) or occurrence < 0:
        raise ValueError(f"occurrence must be an int >= 0, got {occurrence!r}")
    payload = canonical([_KEY_DOMAIN, kind, dict(body), occurrence])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical(value: Any) -> str:
    """The canonical JSON text of ``value``: sorted keys, no whitespace, no NaN (one encoder
    for every call: ``json.dumps`` with options builds one per call, a third of a key's
    cost)."""
    return _CANONICAL.encode(value)
