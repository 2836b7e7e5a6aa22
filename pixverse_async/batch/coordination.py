"""Cooperating workers: what a runner does differently on a PostgreSQL journal.

Several runner processes (on one machine or many) given the same PostgreSQL journal and batch
name share the batch's requests. :class:`SharedBatch` is the runner's strategy for that; the
runner calls it at a few points (a request read, a send, a service answer, an outcome):

- **Claims.** A request goes to the runner's send queue only once this worker claimed it
  (:meth:`~pixverse_async.journal.postgres.PostgresStore.claim`): no two workers send the same
  request. Requests of the batch that another worker recorded (not in this runner's input)
  are run too when claimed, without an outcome in this run's stream.
- **Take-over.** Every ``lease / 3`` seconds the worker ends the expired leases of the batch:
  a dead worker's SENDING requests become UNKNOWN (never resubmitted blindly), its claimed
  PENDING and its SUBMITTED requests are claimed again by the living (sent, or polled).
- **One limit for the account.** A send is recorded only while the account has fewer than
  the shared limit in flight (:meth:`~pixverse_async.journal.postgres.PostgresStore.
  try_mark_sending`); the runner's ``concurrency`` sets that limit when it starts. A 500044
  answer shrinks the shared target, accepted submits grow it back.
- **Outcomes from other workers.** With ``report="all"`` each run reports one outcome per
  request of its input, whoever ran it: a request finished by another worker is read from the
  journal when its ``NOTIFY`` arrives (``resumed=True``), without a status request. With
  ``report="own"`` a run reports only what it ended (a dead worker's send it turned UNKNOWN
  at a take-over included): another worker's end only takes the request off the run's list,
  counted in ``Progress.elsewhere``, without reading it. Either way the run ends when every
  request of its input has an end.
- **Other batches' generations.** Generations of another batch of the account that nobody
  watches (its run was stopped, or its worker died with no worker of its batch left) count
  against the account's limit while the service may be generating them; every run of the
  account polls them at the safety net's pace and records their ends in their batch, so
  they give their places back without waiting for their batch to be run again.
- **One spending cap for the batch.** With ``max_credits``, each send is decided against the
  batch's record in the database, every worker's spend and reservations
  (:meth:`SharedBatch.reserve`, :mod:`pixverse_async.journal.pg_spending`). A request a run
  ended not submitted stays held by its worker until that run ends (so no other worker
  sends it meanwhile); another run waiting for it reports it not submitted too.

Example (the same program started on several machines)::

    async with PixVerse(api_key=key) as client:
        runner = client.runner(concurrency=30, journal="postgresql://db.internal/jobs",
                               batch="nightly")
        async with runner.run(requests) as outcomes:
            async for outcome in outcomes:
                print(outcome.index, outcome.state)
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..errors import PixVerseError
from ..jobs.generation_job import raise_for_terminal
from ..jobs.polling import TRANSIENT_POLL_ERRORS, SafetyNet
from ..journal import JournalEntry, JournalError, JournalLeaseError, JournalState
from ..journal.journal import succeeded_args
from ..journal.pg_claims import Orphan
from ..journal.pg_spending import BatchSpend
from ..journal.postgres import PostgresStore
from ..logs import sdk_logger
from ..models import build_request, to_json
from .outcomes import Outcome, Progress
from .run_job import RunJob
from .spending import SpendingCap, Verdict

if TYPE_CHECKING:
    from ..endpoints.videos import Videos

__all__ = ["RunHooks", "SharedBatch"]

logger = sdk_logger("pixverse_async")

_FINISHED: Final = frozenset(
    (JournalState.SUCCEEDED.value, JournalState.FAILED.value, JournalState.UNKNOWN.value)
)
_PENDING: Final = JournalState.PENDING.value
_UNKNOWN: Final = JournalState.UNKNOWN.value
_READ_CHUNK: Final = 1000
_MARKS_AT_ONCE: Final = 500
"""The most sends recorded in one statement (one lock of the account row, one commit)."""


class RunHooks(Protocol):
    """What :class:`SharedBatch` uses of the run it coordinates (:class:`~.run.Run`)."""

    @property
    def concurrency(self) -> int: ...
    @property
    def watch_net(self) -> SafetyNet: ...
    @property
    def videos(self) -> Videos: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def intake_done(self) -> bool: ...
    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def queue(self) -> collections.deque[RunJob]: ...
    @property
    def progress(self) -> Progress: ...
    @property
    def wake_dispatcher(self) -> asyncio.Event: ...
    def changed(self) -> None: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...
    def count_charge(self, job: RunJob, credits: int | None) -> None: ...
    def emit(self, outcome: Outcome) -> None: ...
    def emit_entry(self, job: RunJob, entry: JournalEntry) -> None: ...
    def elsewhere(self, job: RunJob) -> None: ...
    def resume_polling(self, job: RunJob, entry: JournalEntry) -> None: ...


class SharedBatch:
    """The PostgreSQL side of one run: claims, take-overs, the shared limit, notifications.

    ``run`` is the runner's run; ``store`` its journal's PostgreSQL store. Jobs of this run's
    input are ``waiting`` (not claimed by this worker: unclaimed, or another worker's) or
    ``held`` (claimed here: queued, being sent or polled).
    """

    def __init__(self, run: RunHooks, store: PostgresStore, *, own: bool = False) -> None:
        self.run = run
        self.store = store
        self.own = own  # report only what this run ended (report="own")
        self.tick = max(0.05, min(1.0, store.lease / 3))
        self.waiting: dict[str, RunJob] = {}
        self.held: dict[str, RunJob] = {}
        # Outcomes of held jobs not (yet) in the input, with their jobs.
        self.quiet: dict[str, tuple[RunJob, Outcome]] = {}
        # Requests this run reported not submitted: never sent by it, released when it ends.
        self.unsent: set[str] = set()
        # Requests this run reported but left unfinished in the journal (PENDING: nothing was
        # generated; SUBMITTED: timed out, maybe still watched): released when it ends.
        self.left: set[str] = set()
        self.cap_waiting = False  # the cap said wait: look again after a change
        self.recheck: set[str] = set()  # waiting requests that may have finished
        self.recheck_unsent: set[str] = set()  # ... or been ended not submitted elsewhere
        self.budget: int | None = None
        """Sends the dispatcher may start: None while the shared limit is not known to be
        full; after a refusal, 0 plus one per request the batch's workers finished since
        (each frees a place), or one to try after another change of the schema or a tick
        (never at once: a refused try changes nothing, and trying again would spin)."""
        self._freed = 0  # places freed since the budget last counted them
        self._frees = 0  # places freed in all (to count those freed during a refused send)
        self._refused_at = float("-inf")  # when the shared limit last refused a send
        self.shrunk = False  # the shared target is below the configured limit
        self.wake = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._last_takeover = float("-inf")
        self.drained = False  # the last claim found nothing more: wait for a reason to look
        self._to_mark: list[tuple[str, str, asyncio.Future[JournalEntry | None]]] = []
        self._marking = False
        self._orphans_due: dict[tuple[str, str], float] = {}  # next poll of each

    # -- lifecycle

    async def start(self) -> None:
        """Set the account's limit to the runner's concurrency and start listening."""
        limit = await self.store.set_limit(self.run.concurrency)
        self.shrunk = limit.target < limit.configured
        self._unsubscribe = await self.store.subscribe(self._on_event)

    async def stop(self) -> None:
        """Stop listening; give back what this run claimed but did not finish (a stopped run,
        or requests left to poll) or ended not submitted, so that another run or worker
        takes them."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.unsent:
            await self.store.spending.drop_unsent()
        if self.held or self.unsent or self.left:
            await self.store.release([*self.held, *self.unsent, *self.left])

    @property
    def idle(self) -> bool:
        """True when every request of the input has its outcome."""
        return not self.waiting and not self.held

    def poke(self) -> None:
        """Ask the coordination loop to claim more (the send queue runs low)."""
        self.wake.set()

    # -- runner hooks

    def admit(self, job: RunJob) -> None:
        """A request of the input that is PENDING, SENDING or SUBMITTED in the journal."""
        held = self.held.get(job.key)
        if held is not None:  # claimed before the input reached it: report it as ours
            self._adopt(held, job)
            return
        done = self.quiet.pop(job.key, None)
        if done is not None:
            ran, outcome = done
            self._adopt(ran, job)
            self.run.emit(_rebadge(outcome, job))
            return
        self.waiting[job.key] = job
        self.drained = False  # this run may just have recorded it
        self.recheck.add(job.key)  # it may have finished before the listener could say so
        self.recheck_unsent.add(job.key)
        self.wake.set()

    def may_send(self) -> bool:
        """Whether the dispatcher may start another send now; it then calls :meth:`spend`."""
        return self.budget != 0

    def spend(self) -> None:
        if self.budget:
            self.budget -= 1

    def _adopt(self, ran: RunJob, job: RunJob) -> None:
        """``ran``, claimed before the input reached it, is the input's ``job``: its charge
        now counts in the run's progress."""
        ran.index, ran.request = job.index, job.request
        self.run.count_charge(ran, None)

    async def reserve(self, job: RunJob, cap: SpendingCap) -> Verdict:
        """Decide whether ``job`` may be sent under the batch's cap, every worker's spend and
        reservations counted, and reserve its estimate in the journal if so (one transaction:
        no other worker decides in between). ``cap`` holds this run's limit and estimates.

        It waits (WAIT) while this worker has requests in flight or any worker of the batch
        is sending one (an answer may leave room); otherwise what does not fit is CAP."""
        verdict = Verdict.CAP

        def decide(spend: BatchSpend) -> int | None:
            nonlocal verdict
            cap.count_batch(spend)
            verdict, amount = cap.decide(
                job.request.kind, job.body, in_flight=self.run.in_flight + spend.sending
            )
            return amount if verdict is Verdict.SEND else None

        amount = await self.store.spending.reserve(job.key, decide)
        if amount is not None:
            cap.reserve(amount, job.request.kind, job.body)
            job.reserved = amount
            return Verdict.SEND
        if verdict is Verdict.WAIT:
            self.cap_waiting = True
        return verdict

    async def release(self, job: RunJob) -> None:
        """Drop ``job``'s reservation: not charged, or its cost is in the journal now."""
        await self.store.spending.release(job.key)

    async def mark_sending(self, job: RunJob, trace_id: str) -> bool:
        """Record the send if the account has room; False (nothing recorded) if not. The
        job's ``trace_id`` becomes the entry's (kept for life from its first send).

        Sends asked for while a statement runs go together in the next one (a group commit):
        one round trip, one lock of the account row and one durable commit for all of them.
        """
        marked: asyncio.Future[JournalEntry | None] = self.run.loop.create_future()
        self._to_mark.append((job.key, trace_id, marked))
        if not self._marking:
            self._marking = True
            self.run.spawn(self._mark_groups())
        entry = await marked
        if entry is not None and entry.trace_id is not None:
            job.trace_id = entry.trace_id
        return entry is not None

    async def _mark_groups(self) -> None:
        group: list[tuple[str, str, asyncio.Future[JournalEntry | None]]] = []
        try:
            while self._to_mark:
                group = self._to_mark[:_MARKS_AT_ONCE]
                del self._to_mark[:_MARKS_AT_ONCE]
                sends = [(key, trace_id) for key, trace_id, _ in group]
                frees = self._frees
                results = await self.store.try_mark_sending_many(sends)
                if any(result is None for result in results):  # full: wait for places
                    # A place freed while the statement ran may be one it did not see yet:
                    # one more try for each. Otherwise the next try waits for a change or a
                    # tick (the loop is not woken: a refused send is no change).
                    self.budget, self._freed = 0, self._frees - frees
                    self._refused_at = self.run.loop.time()
                    if self._freed:
                        self.wake.set()
                elif self.budget == 0:  # all went: there may be more room than was freed
                    self.budget = None
                for (_, _, marked), result in zip(group, results, strict=True):
                    if marked.done():  # its send was cancelled
                        continue
                    if isinstance(result, JournalError):
                        marked.set_exception(result)
                    else:
                        marked.set_result(result)
        except BaseException as exc:
            waiting = [marked for _, _, marked in group + self._to_mark if not marked.done()]
            self._to_mark.clear()
            for marked in waiting:
                if isinstance(exc, Exception):
                    marked.set_exception(exc)
                else:
                    marked.cancel()
            raise
        finally:
            self._marking = False

    def limit_answered(self) -> None:
        """The service said 500044: shrink the shared target (in the background)."""
        self.shrunk = True
        self.run.spawn(self._limit_answered())

    async def _limit_answered(self) -> None:
        limit = await self.store.limit_answered()
        self.shrunk = limit.target < limit.configured

    def submit_accepted(self) -> None:
        """A submit was accepted: grow the shared target back while it is shrunk."""
        if self.shrunk:
            self.run.spawn(self._submit_accepted())

    async def _submit_accepted(self) -> None:
        limit = await self.store.submit_accepted()
        self.shrunk = limit.target < limit.configured

    def outcome(self, outcome: Outcome) -> bool:
        """A job ended; False when it is not (yet) a request of the input."""
        ran = self.held.pop(outcome.key, None)
        self.wake.set()
        if outcome.state.value == "not_submitted":
            self.unsent.add(outcome.key)
            if ran is not None:  # held, so that no other worker sends it while this run lives
                self.run.spawn(self.store.spending.mark_unsent([outcome.key]))
        if outcome.index < 0:
            if ran is not None:
                self.quiet[outcome.key] = (ran, outcome)
            return False
        return True

    # -- the coordination loop

    async def loop(self) -> None:
        """Take over, claim, read what others finished; wake on notifications and ticks."""
        while True:
            if self.store.lease_lost:
                raise JournalLeaseError(
                    f"worker {self.store.worker_id} lost its lease on batch {self.store.batch!r}"
                    f" ({self.store.lease_lost_reason}): it stops; the others take over"
                )
            now = self.run.loop.time()
            if now - self._last_takeover >= self.tick:
                self._last_takeover = now
                if self.drained:
                    # A safety net under the notifications, once nothing is left to claim
                    # (what is waiting then is what others hold): what they finished is read
                    # again. Not before: reading every waiting request every tick costs O(N).
                    self.recheck.update(self.waiting)
                    self.recheck_unsent.update(self.waiting)
                self.drained = False  # released by a stopped worker or a take-over
                taken = await self.store.take_over()
                if self.own:  # their ends are this run's: it decided them
                    self._report({e.key: e for e in taken.unknown}, ours=True)
                await self._lease_wait()
                limit = await self.store.shared_limit()
                self.shrunk = limit is not None and limit.target < limit.configured
                await self._watch_orphans(now)
                await self._claim_submitted()
            await self._claim()
            await self._read_finished()
            if self.idle and self.run.intake_done:
                self.run.wake_dispatcher.set()
            self.wake.clear()
            timeout = self.tick
            if self.budget == 0:  # refused: the next try is due a tick after the refusal
                timeout = max(
                    0.0, min(timeout, self._refused_at + self.tick - self.run.loop.time())
                )
            changed = asyncio.ensure_future(self.store.wait_changed(timeout))
            woken = asyncio.ensure_future(self.wake.wait())
            try:
                await asyncio.wait((changed, woken), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for fut in (changed, woken):
                    fut.cancel()
                # Not ``await changed`` under suppress(CancelledError): that would also swallow
                # this loop's own cancellation (the run ending) and keep it going forever.
                await asyncio.wait((changed, woken))
            # True: a change was published (a place may be free); False: time is up. A
            # journal error (the listener cannot reconnect) ends the run.
            news = False if changed.cancelled() else changed.result()
            if self.budget is not None:  # full: what was freed, or one try after a change
                freed, self._freed = self._freed, 0
                if freed:
                    self.budget += freed
                elif not self.budget and (
                    news or self.run.loop.time() - self._refused_at >= self.tick
                ):
                    self.budget = 1
                if self.budget:
                    self.run.wake_dispatcher.set()
            if self.cap_waiting:  # something changed (or a tick passed): ask the cap again
                self.cap_waiting = False
                self.run.wake_dispatcher.set()

    async def _lease_wait(self) -> None:
        """Say in the progress how long until a silent worker's requests are taken over,
        while this run waits for some of them (its queue is empty)."""
        progress = self.run.progress
        waits = None
        if self.waiting and not self.run.queue:
            # Silent: half its lease left, so it missed its heartbeats (every third).
            waits = await self.store.claims.lease_wait(self.store.lease / 2)
        if waits != progress.lease_wait:
            progress.lease_wait = waits
            self.run.changed()

    async def _watch_orphans(self, now: float) -> None:
        """Poll the generations of other batches of the account that nobody watches: at once
        when first seen, then at the safety net's interval."""
        net = self.run.watch_net
        seen = await self.store.orphans(self.run.concurrency)
        self._orphans_due = {
            (o.batch, o.key): self._orphans_due.get((o.batch, o.key), now) for o in seen
        }
        for orphan in seen:
            ident = (orphan.batch, orphan.key)
            if self._orphans_due[ident] <= now:
                self._orphans_due[ident] = now + net.interval
                self.run.spawn(self._poll_orphan(orphan))

    async def _poll_orphan(self, orphan: Orphan) -> None:
        try:
            video, raw = await self.run.videos._status_raw(orphan.video_id)
        except PixVerseError as exc:  # not ours to end: polled again later
            level = logging.DEBUG if isinstance(exc, TRANSIENT_POLL_ERRORS) else logging.INFO
            logger.log(level, "status of video %s (batch %r) failed: %s",
                       orphan.video_id, orphan.batch, exc,
                       extra={"video_id": orphan.video_id,
                              "trace_id": getattr(exc, "trace_id", None)})  # fmt: skip
            return
        if not video.status.is_terminal:
            return
        try:
            raise_for_terminal(video)
        except PixVerseError as exc:
            args = {"error_type": type(exc).__name__, "error_message": str(exc)}
            recorded = await self.store.record_orphan_end(orphan, "failed", args)
        else:
            succeeded = succeeded_args(raw)
            recorded = await self.store.record_orphan_end(orphan, "succeeded", succeeded)
        if recorded:  # its place is free
            self._orphans_due.pop((orphan.batch, orphan.key), None)
            self._place_freed()
            self.wake.set()

    def _no_room(self) -> bool:
        """Whether the send queue is too full to claim more requests to send."""
        return self.run.concurrency - len(self.run.queue) < max(1, self.run.concurrency // 2)

    async def _claim_submitted(self) -> None:
        """Once a tick, while the send queue is too full to claim: claim the SUBMITTED
        requests no worker holds (a stopped or dead worker's), to poll them. They hold places
        of the account's limit: unclaimed, nobody would see them end, and a queue waiting for
        a place would wait for good."""
        room = self.run.concurrency - self.run.in_flight  # polled, they count in flight
        if self._no_room() and room > 0:
            claimed = await self.store.claim(room, submitted_only=True)
            if claimed:
                await self._take(claimed)

    async def _claim(self) -> None:
        room = self.run.concurrency - len(self.run.queue)
        if self.drained or self._no_room():
            return
        claimed = await self.store.claim(room)
        self.drained = len(claimed) < room
        await self._take(claimed)

    async def _take(self, claimed: list[JournalEntry]) -> None:
        """Hold what this worker claimed: queued to send, or polled."""
        for entry in claimed:
            if entry.key in self.held:
                continue
            if entry.key in self.unsent and entry.state is JournalState.PENDING:
                # Reported not submitted: kept (until this run ends), never sent by it.
                await self.store.spending.mark_unsent([entry.key])
                continue
            job = self.waiting.pop(entry.key, None) or self._foreign(entry)
            if job is None:
                await self.store.release([entry.key])
                continue
            self.held[entry.key] = job
            if entry.state is JournalState.SUBMITTED:
                self.run.resume_polling(job, entry)
            else:
                self.run.queue.append(job)
        self.run.wake_dispatcher.set()
        self.run.changed()

    def _foreign(self, entry: JournalEntry) -> RunJob | None:
        """A job for a claimed request this run has not read (yet): another worker's input."""

        try:
            request = build_request({"kind": entry.kind, **entry.body})
        except PixVerseError as exc:
            logger.error(
                "journal entry %s cannot be rebuilt as a request: %s",
                entry.key,
                exc,
                extra={"video_id": entry.video_id, "trace_id": entry.trace_id},
            )
            return None
        return RunJob(-1, entry.key, request, to_json(request))

    def _on_event(self, key: str | None, state: str | None) -> None:
        if key is None:  # the listener reconnected: events may have been missed
            self.recheck.update(self.waiting)
            self.recheck_unsent.update(self.waiting)
            self.drained = False
        elif state == _PENDING:  # sent back (not sent, requeued): claimable again; or ended
            self.drained = False  # not submitted by another worker's run (mark_unsent)
            self._place_freed()
            if key in self.waiting:
                self.recheck_unsent.add(key)
        elif state in _FINISHED:
            self._place_freed()
            if self.own and state != _UNKNOWN:  # another's end: no need to read it
                job = self.waiting.pop(key, None)
                if job is not None:
                    self.run.elsewhere(job)
            elif key in self.waiting:  # own: UNKNOWN may be this run's take-over, read later
                self.recheck.add(key)
        else:
            return
        self.wake.set()

    def _place_freed(self) -> None:
        self._freed += 1
        self._frees += 1

    async def _read_finished(self) -> None:
        """Report the waiting requests that another worker finished, or that another live
        worker's run ended not submitted (and holds)."""
        while self.recheck:
            keys = [self.recheck.pop() for _ in range(min(_READ_CHUNK, len(self.recheck)))]
            entries = await self.store.finished(keys)
            self._report(entries)
        if self.recheck_unsent:
            keys = [key for key in self.recheck_unsent if key in self.waiting]
            self.recheck_unsent.clear()
            for i in range(0, len(keys), _READ_CHUNK):
                self._report(await self.store.spending.unsent_elsewhere(keys[i : i + _READ_CHUNK]))
        self.run.changed()

    def _report(self, entries: Mapping[str, JournalEntry], *, ours: bool = False) -> None:
        for key, entry in entries.items():
            job = self.waiting.pop(key, None)
            if job is None:
                continue
            if ours or not self.own:
                self.run.emit_entry(job, entry)
            else:
                self.run.elsewhere(job)


def _rebadge(outcome: Outcome, job: RunJob) -> Outcome:
    import attrs

    return attrs.evolve(outcome, index=job.index, request=job.request)


def shared_store(journal: Any) -> PostgresStore | None:
    """The PostgreSQL store of a journal, or None (SQLite: the runner works alone)."""
    store = getattr(journal, "postgres", None)
    return store if isinstance(store, PostgresStore) else None
