"""Intake: read a run's requests in chunks, key them, and ask the journal what became of each.

A request the journal has not seen is recorded PENDING and queued; one an earlier run (or
another worker) submitted is polled again (:meth:`Poller.resume <.poller.Poller.resume>`);
one that ended is reported from its entry. Reading pauses while the queue is far ahead of
the dispatcher.

Example (how a run drives it)::

    await intake.run()  # until the input is read
"""

from __future__ import annotations

import array
import asyncio
import bisect
import collections
import itertools
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

from ..errors import ValidationError
from ..journal import JournalEntry, JournalState, request_key
from ..models import GenerationRequest, to_json
from .ends import Ends
from .outcomes import Outcome, OutcomeState
from .poller import Poller
from .run_job import RunJob
from .run_state import RunState

__all__ = ["Intake"]

_CHUNK = 256
_UNFINISHED = frozenset((JournalState.PENDING, JournalState.SENDING, JournalState.SUBMITTED))


class Intake:
    """Reads the input of one run."""

    def __init__(
        self,
        state: RunState,
        ends: Ends,
        poller: Poller,
        requests: Iterable[Any] | AsyncIterable[Any],
    ) -> None:
        self.state = state
        self.ends = ends
        self.poller = poller
        self.requests = requests

    async def run(self) -> None:
        occurrences = Occurrences()
        index = 0
        async for chunk in _chunks(self.requests, _CHUNK):
            jobs = []
            for request in chunk:
                if not isinstance(request, GenerationRequest):
                    self._reject(index, request)
                    index += 1
                    continue
                body = to_json(request)
                first = request_key(request.kind, body)
                seen = occurrences.add(first)
                key = first if not seen else request_key(request.kind, body, seen)
                jobs.append(RunJob(index, key, request, body))
                index += 1
            self.state.progress.seen += len(jobs)
            entries = await self.state.journal.get_many([j.key for j in jobs])
            fresh = [(j.key, j.request.kind, j.body) for j in jobs if j.key not in entries]
            if fresh:
                await self.state.journal.mark_pending_many(fresh)
            for job in jobs:
                self._admit(job, entries.get(job.key))
            self.state.wake_dispatcher.set()
            while self._far_ahead():
                self.state.room_for_intake.clear()
                await self.state.room_for_intake.wait()
        self.state.intake_done = True
        self.state.wake_dispatcher.set()

    def _far_ahead(self) -> bool:
        """Whether reading pauses: what was read and not sent (queued; on PostgreSQL also
        waiting for a claim) or its outcomes not taken by the consumer are far ahead. So the
        run holds what is in flight and a few chunks, not the input."""
        state = self.state
        ahead = len(state.queue) + (len(state.shared.waiting) if state.shared is not None else 0)
        most = 4 * state.runner.concurrency + _CHUNK
        return ahead > most or state.results.qsize() > most

    def _reject(self, index: int, request: Any) -> None:
        """A request that is not a generation: reported as failed, never sent."""
        self.state.progress.seen += 1
        error = ValidationError(
            "request",
            f"{type(request).__name__} is not a generation request the runner can submit",
        )
        self.ends.emit(
            Outcome(index=index, key="", request=request, state=OutcomeState.FAILED,
                    error=error, error_type="ValidationError", error_message=str(error))
        )  # fmt: skip

    def _admit(self, job: RunJob, entry: JournalEntry | None) -> None:
        state = entry.state if entry is not None else JournalState.PENDING
        job.trace_id = entry.trace_id if entry is not None else None
        if self.state.shared is not None and state in _UNFINISHED:
            # Sent or polled once this worker claims it. SENDING too: a living worker (maybe
            # this one) is sending it; a dead worker's send becomes UNKNOWN at its take-over.
            self.state.shared.admit(job)
        elif state is JournalState.PENDING:
            self.state.queue.append(job)
        elif state is JournalState.SUBMITTED:
            assert entry is not None
            self.poller.resume(job, entry)
        elif self.state.shared is not None and self.state.shared.own:
            self.ends.elsewhere(job)  # ended before this run read it: not this run's end
        else:
            assert entry is not None
            self.ends.emit_entry(job, entry)
        self.state.changed()


class Occurrences:
    """How many times each request key was seen in a run's input, in about 8 bytes a key:
    64 bits of each key, sorted in an array (plus a small set of the latest), and a count
    only for the keys seen more than once.

    >>> seen = Occurrences()
    >>> seen.add("ab" * 32), seen.add("cd" * 32), seen.add("ab" * 32)
    (0, 0, 1)
    """

    _RECENT = 4096

    def __init__(self) -> None:
        self._sorted = array.array("Q")
        self._recent: set[int] = set()
        self._repeats: collections.Counter[int] = collections.Counter()

    def add(self, key: str) -> int:
        """Count one more ``key`` (a hex digest); return how many times it was seen before."""
        digest = int(key[:16], 16)
        if digest in self._recent or self._in_sorted(digest):
            self._repeats[digest] += 1
            return self._repeats[digest]
        self._recent.add(digest)
        if len(self._recent) >= self._RECENT:
            self._sorted = array.array("Q", sorted(itertools.chain(self._sorted, self._recent)))
            self._recent.clear()
        return 0

    def _in_sorted(self, digest: int) -> bool:
        at = bisect.bisect_left(self._sorted, digest)
        return at < len(self._sorted) and self._sorted[at] == digest


async def _chunks(
    requests: Iterable[Any] | AsyncIterable[Any], size: int
) -> AsyncIterator[list[Any]]:
    chunk: list[Any] = []
    if isinstance(requests, AsyncIterable):
        async for item in requests:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    else:
        for item in requests:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
                await asyncio.sleep(0)
    if chunk:
        yield chunk
