"""What the emulator remembers: generations, uploads, masks, and a record of every request.

Tests read :class:`EmulatorState` to assert on the server side, for instance that a
generation was charged exactly once or that a client never exceeded its concurrency.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..constants import VideoStatusCode
from .credits import Ledger, refund_time

#: Ids the emulator hands out fit in 64 bits: 19 decimal digits at most.
_ID_MAX_DIGITS = 19


def parse_id(text: str) -> int | None:
    """``text`` as an id the state could hold, else None (not ASCII digits, or too long).

    Bounded before ``int()``, whose digit limit (4,300) would raise on longer strings; and
    ``"²"`` is a digit to ``str.isdigit()`` but not to ``int()``.
    """
    if len(text) > _ID_MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


@dataclass
class RequestRecord:
    """One request as the emulator saw it."""

    method: str
    path: str
    trace_id: str | None
    status: int = 0
    err_code: int | None = None
    fault: str | None = None
    at: float = field(default_factory=time.monotonic)
    #: The request's headers but the API key (for tests of extra headers).
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Generation:
    """One paid generation: what was asked, by whom, and how it will end."""

    video_id: int
    api_key: str
    path: str
    body: dict[str, Any]
    trace_id: str | None
    created_at: float
    done_at: float
    outcome: str  # success | failed | moderated | deleted
    credits: int
    seed: int
    width: int
    height: int
    #: The quality asked, and the whole seconds the served MP4 lasts (see :mod:`.videos`).
    quality: str = "540p"
    duration: int = 5

    @property
    def final_status(self) -> int:
        """The status the generation ends with at ``done_at``."""
        return _FINAL_STATUS[self.outcome]


_FINAL_STATUS = {
    "success": VideoStatusCode.SUCCESSFUL,
    "failed": VideoStatusCode.FAILED,
    "moderated": VideoStatusCode.MODERATION_FAILED,
    "deleted": VideoStatusCode.DELETED,
}


@dataclass
class WebhookDelivery:
    """One webhook delivery attempt and the receiver's answer.

    ``attempt`` is 0 for the first try and 1 to 8 for the retries; ``delay`` the (scaled) wait
    before it; ``fault`` the injected fault, if any (a ``drop`` was never sent, a ``lose`` stands
    for a whole delivery never made); ``acknowledged`` means HTTP 200 with the body ``ok``.
    """

    webhook_id: str
    video_id: int
    status: int
    attempt: int = 0
    delay: float = 0.0
    fault: str | None = None
    http_status: int | None = None
    answer: str = ""
    error: str | None = None
    acknowledged: bool = False
    at: float = field(default_factory=time.monotonic)


@dataclass
class Upload:
    """A stored upload: an image (``kind == "image"``) or media (``"video"``/``"audio"``)."""

    upload_id: int
    kind: str
    mime: str
    path: Path
    size: int
    api_key: str


@dataclass
class MaskSelection:
    """A mask selection answer, remembered so a swap can be checked against it."""

    source_field: str
    source_id: int
    keyframe_id: int
    mask_ids: tuple[str, ...]


@dataclass
class EmulatorState:
    """Everything the emulator knows; safe to read from tests while it runs."""

    requests: list[RequestRecord] = field(default_factory=list)
    generations: dict[int, Generation] = field(default_factory=dict)
    uploads: dict[int, Upload] = field(default_factory=dict)
    masks: dict[str, MaskSelection] = field(default_factory=dict)
    webhook_deliveries: list[WebhookDelivery] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    peak_in_flight: Counter[str] = field(default_factory=Counter)
    _active: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(300000000000001))

    def next_id(self) -> int:
        return next(self._ids)

    def in_flight(self, api_key: str, now: float) -> int:
        """Generations of ``api_key`` still running at ``now``."""
        heap = self._active[api_key]
        while heap and heap[0] <= now:
            heapq.heappop(heap)
        return len(heap)

    def add_generation(self, generation: Generation) -> None:
        self.generations[generation.video_id] = generation
        heap = self._active[generation.api_key]
        heapq.heappush(heap, generation.done_at)
        self.peak_in_flight[generation.api_key] = max(
            self.peak_in_flight[generation.api_key], len(heap)
        )

    def finish(self, video_id: int, now: float, outcome: str | None = None) -> Generation:
        """End generation ``video_id`` at ``now`` (if still running), with ``outcome`` if given."""
        generation = self.generations[video_id]
        if outcome is not None:
            generation.outcome = outcome
        if generation.done_at > now:
            generation.done_at = now
            heap = self._active[generation.api_key]
            heap[:] = [g.done_at for g in self.generations.values()
                       if g.api_key == generation.api_key and g.done_at > now]  # fmt: skip
            heapq.heapify(heap)
        # It reaches its final status now at the latest: the ledger refunds accordingly.
        refund_at = refund_time(generation.outcome, max(generation.done_at, now))
        self.ledger.schedule_refund(generation.api_key, video_id, refund_at, now=now)
        return generation

    # Queries for tests -------------------------------------------------------------------

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        """Requests whose path starts with ``path`` (and of ``method``, when given)."""
        return [
            r
            for r in self.requests
            if r.path.startswith(path) and (method is None or r.method == method)
        ]

    def generations_for(self, path: str | None = None) -> list[Generation]:
        return [g for g in self.generations.values() if path is None or g.path == path]

    def deliveries_for(self, video_id: int) -> list[WebhookDelivery]:
        """Webhook delivery attempts for ``video_id``, in the order they were made."""
        return [d for d in self.webhook_deliveries if d.video_id == video_id]

    def generation_count_by_prompt(self) -> Counter[str]:
        """How many generations each prompt started (to spot a request charged twice)."""
        return Counter(str(g.body.get("prompt")) for g in self.generations.values())
