"""Where a generation activity's task token waits for its video's end: the token store.

A webhook-completed activity records ``video_id -> task token`` and returns without a result
(Temporal's asynchronous completion); whichever process hears the video's end, by its
webhook or by a safety-net poll, reads the token back and completes the activity. The store
is what they share: :class:`MemoryTokenStore` within one process,
:class:`~pixverse_async.temporal.pg_store.PostgresTokenStore` across replicas, or any object
with the methods of :class:`TokenStore`.

An end may arrive before its token is recorded (a generation quicker than the write, or a
webhook route on another replica): the store then keeps the end, and :meth:`TokenStore.record`
returns it, so the activity finishes at once.

Times are wall-clock seconds (``time.time()``): the processes sharing a store share no loop.

Example::

    import asyncio
    from pixverse_async.temporal import MemoryTokenStore, PendingActivity

    async def main() -> None:
        store = MemoryTokenStore()
        pending = PendingActivity(video_id=7, task_token=b"t", trace_id="x", credits=30)
        assert await store.record(pending, check_at=100.0) is None
        assert await store.ended(7, {"id": 7, "status": 1, "url": "u"}, now=5.0) == pending
        assert [p.video_id for p in await store.due(now=100.0, check_at=160.0)] == [7]
        await store.forget(7, b"t")
        assert await store.due(now=1e9, check_at=1e9) == []

    asyncio.run(main())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

#: What a store keeps of a video's end: its status answer's JSON (``id``, ``status``, ``url``).
End = Mapping[str, Any]


@attrs.frozen(kw_only=True)
class PendingActivity:
    """An activity waiting for its video: the token that completes it and what it submitted.

    The task token is a credential of the Temporal namespace: it never appears in a repr.
    """

    video_id: int
    task_token: bytes = attrs.field(repr=False)
    trace_id: str
    credits: int | None = None


class TokenStore(Protocol):
    """What the activities and the completer need of a store (see the module docstring)."""

    async def record(self, pending: PendingActivity, *, check_at: float) -> End | None:
        """Keep ``pending`` (replacing an earlier attempt's token for the same video), its
        first safety-net check due at ``check_at``; return the video's end if one was
        already recorded by :meth:`ended`, else None."""
        ...

    async def ended(self, video_id: int, end: End, *, now: float) -> PendingActivity | None:
        """The video ended: the activity waiting for it, or None (the end is then kept, for
        a :meth:`record` to come, until :meth:`purge` drops it)."""
        ...

    async def forget(self, video_id: int, task_token: bytes) -> None:
        """The activity holding ``task_token`` was completed: drop it (a newer attempt's
        token for the same video stays)."""
        ...

    async def due(self, *, now: float, check_at: float, limit: int = 100) -> list[PendingActivity]:
        """Up to ``limit`` activities whose safety-net check is due by ``now``, their next
        one moved to ``check_at`` (so that concurrent callers do not get the same ones)."""
        ...

    async def purge(self, *, before: float) -> int:
        """Drop the ends kept without a token since before ``before``; return how many."""
        ...


@attrs.define(eq=False)
class _Row:
    pending: PendingActivity | None = None
    check_at: float = 0.0
    end: End | None = None
    ended_at: float = 0.0


@attrs.define(eq=False)
class MemoryTokenStore:
    """A :class:`TokenStore` in this process's memory: for a worker that also serves the
    webhook route (one replica), tests and examples. Lost when the process ends."""

    _rows: dict[int, _Row] = attrs.field(factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        """Activities waiting (ends kept without a token are not counted)."""
        return sum(row.pending is not None for row in self._rows.values())

    async def record(self, pending: PendingActivity, *, check_at: float) -> End | None:
        row = self._rows.setdefault(pending.video_id, _Row())
        row.pending, row.check_at = pending, check_at
        return row.end

    async def ended(self, video_id: int, end: End, *, now: float) -> PendingActivity | None:
        row = self._rows.setdefault(video_id, _Row())
        row.end, row.ended_at = end, now
        return row.pending

    async def forget(self, video_id: int, task_token: bytes) -> None:
        row = self._rows.get(video_id)
        if row is not None and row.pending is not None and row.pending.task_token == task_token:
            del self._rows[video_id]

    async def due(self, *, now: float, check_at: float, limit: int = 100) -> list[PendingActivity]:
        rows = sorted(
            (r for r in self._rows.values() if r.pending is not None and r.check_at <= now),
            key=lambda r: r.check_at,
        )[:limit]
        for row in rows:
            row.check_at = check_at
        return [row.pending for row in rows if row.pending is not None]

    async def purge(self, *, before: float) -> int:
        old = [k for k, r in self._rows.items() if r.pending is None and r.ended_at < before]
        for key in old:
            del self._rows[key]
        return len(old)
