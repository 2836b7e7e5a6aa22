"""The PostgreSQL journal store: one batch shared by several processes and machines.

``pip install 'pixverse-async[postgres]'`` (asyncpg; imported when a store opens, so the core
SDK does not need it). Open it through the journal with a URL::

    async with Journal("postgresql://user@db.internal/jobs", batch="nightly") as journal:
        ...

Tables live in ``schema`` (default ``public``), named ``pixverse_*``, and are created on first
open. Several batches share them; every entry belongs to one ``batch``, every batch to one
``account`` (the service account whose concurrency limit its workers share).

The store is made of parts, one job each (the same split as :mod:`.sqlite`'s statements,
connection thread and store): :mod:`.pg_schema` (tables, SQL functions, the trigger),
:mod:`.pg_pool` (connections, operations retried after a loss), :mod:`.pg_lease` (the
heartbeat), :mod:`.pg_claims` (claims and take-overs), :mod:`.pg_limits` and :mod:`.pg_sends`
(the shared in-flight limit), :mod:`.pg_spending` (the shared cap), :mod:`.pg_listener`
(notifications); :class:`PostgresStore` holds them and answers for them.

Each open store is a **worker** of its batch, with a **lease** (``lease`` seconds) that a
heartbeat task renews every ``lease / 3`` seconds:

- :meth:`PostgresStore.claim` hands this worker up to ``n`` requests that no worker holds
  (row locks with ``FOR UPDATE SKIP LOCKED``, so concurrent claimers never get the same row):
  SUBMITTED ones to poll first, then PENDING ones to send, in recording order.
- ``mark_sending`` claims the request too, and is refused (:class:`JournalLeaseError`) when
  another live worker holds it or this worker's lease has ended: a worker that lost its lease
  sends nothing more.
- :meth:`PostgresStore.take_over` ends the leases that expired: a request such a worker was
  SENDING becomes UNKNOWN (never resubmitted blindly), its claimed PENDING and its SUBMITTED
  requests go back to the batch for :meth:`~PostgresStore.claim`. Opening the journal does it
  (``recover``).
- **A shared in-flight limit** per account (:meth:`~PostgresStore.set_limit`):
  :meth:`~PostgresStore.try_mark_sending` is ``mark_sending`` that records the send only while
  fewer than the limit are SENDING or SUBMITTED and held by a live worker across all the
  account's workers (the account row is locked while it counts). Not counted: what no live
  worker holds (left by a stopped or dead worker of any batch of the account: not known to be
  generating; if it is, the service's 500044 answer holds the send back), and a request
  SUBMITTED more than 10 minutes ago (PixVerse releases the slot of a generation running
  longer).
  :meth:`~PostgresStore.limit_answered` (the service said 500044) shrinks the shared target
  to what is in flight, :meth:`~PostgresStore.submit_accepted` grows it back by
  ``1 / target`` per accepted submit, up to the configured number.
- **A shared spending cap** per batch: :attr:`PostgresStore.spending`
  (:mod:`~pixverse_async.journal.pg_spending`) keeps the reservations of the batch's workers,
  so that one cap bounds what they spend together.
- **Notifications**: every change to UNKNOWN, PENDING, SUCCEEDED or FAILED is published with
  ``NOTIFY`` by a trigger, whichever process made it. :meth:`~PostgresStore.wait_finished`
  awaits a request's outcome recorded by any process; :meth:`~PostgresStore.wait_changed`
  wakes a worker waiting for room under the shared limit.

Durability: the crash-safety transitions (``mark_sending``, ``mark_submitted``) commit with
``synchronous_commit = on`` (the WAL is flushed before they return); every other write commits
asynchronously, the same split as the SQLite store's ``FULL`` and ``NORMAL``.

Connection loss: every operation runs on a pool connection; when the connection is lost
(``pg_terminate_backend``, a restarted server, a network cut) the operation is retried on a new
connection for up to ``reconnect_timeout`` seconds, then :class:`JournalError` is raised (a
clean stop). A write whose commit may have happened without an answer is recognised on retry
(the entry already shows it, or the claim token is on the rows), so nothing is lost or done
twice. The heartbeat and the listener reconnect the same way; a waiter re-reads its entry after
the listener reconnects, so no notification is missed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..logs import sdk_logger
from .entry import JournalEntry
from .errors import JournalError, JournalStateError
from .pg_claims import Claims, Orphan, Takeover, WorkerInfo
from .pg_lease import Lease
from .pg_limits import SharedLimit, SharedLimits
from .pg_listen import redact
from .pg_listener import CHANNEL, Listener
from .pg_pool import Pool
from .pg_schema import COLS, DURABLE, Tables, create_schema, ident
from .pg_sends import Sends
from .pg_spending import SharedSpending
from .states import TRANSITIONS, JournalState
from .store import binder, conflict_error, set_clause

if TYPE_CHECKING:
    import asyncpg

__all__ = ["CHANNEL", "PostgresStore", "SharedLimit", "Takeover", "WorkerInfo"]

_T = TypeVar("_T")

logger = sdk_logger("pixverse_async")

_FINISHED: Final = frozenset((JournalState.SUCCEEDED, JournalState.FAILED, JournalState.UNKNOWN))


class PostgresStore:
    """The journal in PostgreSQL: a worker of ``batch``, sharing ``account``'s limit.

    - ``url``: a ``postgresql://`` URL (libpq form; also ``PGPASSWORD`` and the like);
    - ``batch``: the name the cooperating workers share (default ``"default"``);
    - ``schema``: where the ``pixverse_*`` tables live (created if missing);
    - ``account``: whose concurrency limit the batch's workers share;
    - ``lease``: seconds a worker stays alive without a heartbeat (renewed every third);
    - ``worker``: this worker's id (default: ``host:pid:random``);
    - ``pool_size``: connections for operations (plus one for notifications when used);
    - ``connect_timeout``: for each connection attempt; ``reconnect_timeout``: how long an
      operation keeps retrying after losing its connection before :class:`JournalError`.

    Example::

        async with Journal(PostgresStore("postgresql://postgres@127.0.0.1/test",
                                         batch="nightly", lease=10)) as journal:
            store = journal.postgres
            for entry in await store.claim(8):
                ...
    """

    def __init__(
        self,
        url: str,
        *,
        batch: str = "default",
        schema: str = "public",
        account: str = "default",
        lease: float = 30.0,
        worker: str | None = None,
        pool_size: int = 10,
        connect_timeout: float = 5.0,
        reconnect_timeout: float = 30.0,
    ) -> None:
        if not batch or len(batch) > 200:
            raise JournalError(f"batch must be a name of 1 to 200 characters, got {batch!r}")
        if not lease > 0:
            raise JournalError(f"lease must be a number of seconds > 0, got {lease!r}")
        if pool_size < 1:
            raise JournalError(f"pool_size must be >= 1, got {pool_size!r}")
        self.url = url
        self.batch = batch
        self.schema = ident(schema, "schema")
        self.account = account
        self.lease = float(lease)
        self.worker_id = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.reconnect_timeout = reconnect_timeout
        self.application_name = f"pixverse-journal {self.worker_id}"[:63]
        self._tables = tables = Tables(self.schema)
        self._entries, self._workers = tables.entries, tables.workers
        self._batches = tables.batches
        self._conns = Pool(
            url,
            name=self.name,
            size=pool_size,
            connect_timeout=connect_timeout,
            reconnect_timeout=reconnect_timeout,
            application_name=self.application_name,
        )
        self._listener = Listener(
            url,
            schema=self.schema,
            batch=batch,
            application_name=self.application_name,
            connect_timeout=connect_timeout,
            reconnect_timeout=reconnect_timeout,
        )
        self._own_leftovers: list[JournalEntry] = []
        #: The batch's shared spending cap (:mod:`~pixverse_async.journal.pg_spending`).
        self.spending = SharedSpending(self.schema, batch, self.worker_id, self._conns.retrying)
        self._lease = Lease(tables, self.worker_id, self.lease, self.name, self._conns.retrying)
        self._sends = Sends(tables, batch, account, self._lease, self._conns.retrying)
        #: Claims and take-overs among the batch's workers (:mod:`.pg_claims`).
        self.claims = Claims(
            tables, batch, account, self.worker_id, self.name, self._conns.retrying
        )
        #: The account's shared in-flight limit (:mod:`.pg_limits`).
        self.limits = SharedLimits(tables, account, self._conns.retrying)

    @property
    def name(self) -> str:
        """The URL without its password."""
        return redact(self.url)

    @property
    def lease_lost(self) -> bool:
        """True once the heartbeat found this worker's lease ended (others may take over)."""
        return self._lease.lost

    @property
    def lease_lost_reason(self) -> str:
        """Why this worker's lease ended, as far as it can tell (:attr:`.pg_lease.Lease.reason`)."""
        return self._lease.reason

    def __repr__(self) -> str:
        return f"<PostgresStore {self.name!r} batch={self.batch!r} worker={self.worker_id!r}>"

    # -- connections

    async def open(self) -> None:
        await self._conns.open()
        try:
            await self._conns.retrying(self._setup)
            await self._conns.retrying(self._register)
        except BaseException:
            await self._conns.close()
            raise
        self._lease.start()

    async def _setup(self, conn: asyncpg.Connection) -> None:
        await create_schema(conn, self._tables, self.name, self.spending.setup)

    async def _register(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await conn.execute(
                f"INSERT INTO {self._batches} (batch, account) VALUES ($1, $2)"
                " ON CONFLICT (batch) DO NOTHING",
                self.batch,
                self.account,
            )
            account = await conn.fetchval(
                f"SELECT account FROM {self._batches} WHERE batch = $1", self.batch
            )
            if account != self.account:
                raise JournalError(
                    f"batch {self.batch!r} belongs to account {account!r}, not {self.account!r}"
                )
            await conn.execute(
                f"INSERT INTO {self._workers} (id, batch, host, pid, expires_at)"
                " VALUES ($1, $2, $3, $4, clock_timestamp() + make_interval(secs => $5))"
                " ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at,"
                " host = EXCLUDED.host, pid = EXCLUDED.pid, taken_over_by = NULL",
                self.worker_id,
                self.batch,
                socket.gethostname(),
                os.getpid(),
                self.lease,
            )
            # A worker id given again (a restarted process): what its previous life left
            # SENDING is ambiguous, exactly as if another worker had taken it over.
            rows = await self.claims.interrupt(conn, [self.worker_id], op=None)
            self._own_leftovers = [JournalEntry.from_row(row) for row in rows]

    async def close(self) -> None:
        await self._lease.stop()
        await self._listener.close()
        try:
            if self._conns.pool is not None:
                await self._conns.retrying(self._leave)
        except JournalError as exc:
            logger.warning("journal %s: could not end the lease cleanly: %s", self.name, exc)
        finally:
            await self._conns.close()

    async def _leave(self, conn: asyncpg.Connection) -> None:
        """Give back what was claimed and end the lease (a SENDING leftover goes UNKNOWN at the
        next take-over)."""
        async with conn.transaction():
            await conn.execute(
                f"UPDATE {self._entries} SET worker = NULL WHERE worker = $1"
                " AND batch = $2 AND state IN ('pending', 'submitted')",
                self.worker_id,
                self.batch,
            )
            await conn.execute(
                f"UPDATE {self._workers} SET expires_at = clock_timestamp() WHERE id = $1",
                self.worker_id,
            )

    def abandon(self) -> None:
        self._lease.abandon()
        self._listener.abandon()
        self._conns.terminate()

    # -- the heartbeat

    # -- reading

    async def get_many(self, keys: Sequence[str]) -> dict[str, JournalEntry]:
        return await self._get(keys, finished=False)

    async def finished(self, keys: Sequence[str]) -> dict[str, JournalEntry]:
        """The entries among ``keys`` that have their outcome (SUCCEEDED, FAILED, UNKNOWN).

        Example::

            for key, entry in (await store.finished(waiting)).items():
                print(key, entry.state)
        """
        return await self._get(keys, finished=True)

    async def _get(self, keys: Sequence[str], *, finished: bool) -> dict[str, JournalEntry]:
        where = " AND state IN ('succeeded', 'failed', 'unknown')" if finished else ""

        async def op(conn: asyncpg.Connection) -> dict[str, JournalEntry]:
            rows = await conn.fetch(
                f"SELECT {COLS} FROM {self._entries} WHERE batch = $1 AND key = ANY($2){where}",
                self.batch,
                list(keys),
            )
            return {row[0]: JournalEntry.from_row(row) for row in rows}

        return await self._conns.retrying(op)

    async def entries(self, state: JournalState | None) -> list[JournalEntry]:
        async def op(conn: asyncpg.Connection) -> list[JournalEntry]:
            where = "" if state is None else " AND state = $2"
            args = () if state is None else (state.value,)
            rows = await conn.fetch(
                f"SELECT {COLS} FROM {self._entries} WHERE batch = $1{where} ORDER BY seq",
                self.batch,
                *args,
            )
            return [JournalEntry.from_row(row) for row in rows]

        return await self._conns.retrying(op)

    async def summary(self, batch: str | None = None) -> dict[JournalState, int]:
        """How many entries of the batch (or of ``batch``, another one) are in each state."""

        async def op(conn: asyncpg.Connection) -> dict[JournalState, int]:
            counts = dict.fromkeys(JournalState, 0)
            for state, n in await conn.fetch(
                f"SELECT state, count(*) FROM {self._entries} WHERE batch = $1 GROUP BY state",
                self.batch if batch is None else batch,
            ):
                counts[JournalState(state)] = n
            return counts

        return await self._conns.retrying(op)

    # -- recording

    async def add_pending(self, rows: Sequence[tuple[str, str, str]], now: float) -> int:
        keys = [key for key, _, _ in rows]
        kinds = [kind for _, kind, _ in rows]
        bodies = [body for _, _, body in rows]

        async def op(conn: asyncpg.Connection) -> int:
            async with conn.transaction():
                inserted = await conn.fetchval(
                    f"WITH new AS (INSERT INTO {self._entries}"
                    " (batch, key, kind, body, state, created_at, updated_at)"
                    " SELECT $1, k, t, b, 'pending', $5, $5"
                    " FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY"
                    " AS r(k, t, b, i) ORDER BY i"
                    " ON CONFLICT (batch, key) DO NOTHING RETURNING 1) SELECT count(*) FROM new",
                    self.batch,
                    keys,
                    kinds,
                    bodies,
                    now,
                )
                if inserted < len(rows):
                    wanted = {key: (kind, body) for key, kind, body in rows}
                    for key, kind, body in await conn.fetch(
                        f"SELECT key, kind, body FROM {self._entries}"
                        " WHERE batch = $1 AND key = ANY($2)",
                        self.batch,
                        keys,
                    ):
                        if wanted[key] != (kind, body):
                            raise conflict_error(key, kind, body)
                return int(inserted)

        return await self._conns.retrying(op)

    async def transition(
        self, key: str, name: str, args: Mapping[str, Any], now: float
    ) -> JournalEntry:
        async def op(conn: asyncpg.Connection) -> JournalEntry:
            return await self._apply(conn, key, name, args, now)

        async def after_loss(conn: asyncpg.Connection) -> JournalEntry | None:
            return await self._already_done(conn, key, name, args)

        return await self._conns.retrying(op, after_loss=after_loss)

    async def _apply(
        self,
        conn: asyncpg.Connection,
        key: str,
        name: str,
        args: Mapping[str, Any],
        now: float,
    ) -> JournalEntry:
        """Apply transition ``name`` to ``key`` in one statement (one round trip, durable if
        the transition is)."""
        transition = TRANSITIONS[name]
        params: list[Any] = [self.batch, key, [s.value for s in transition.sources], now]
        bind = binder(params, lambda n: f"${n}")
        assignments = set_clause(transition, args, bind)
        guard = f" AND {DURABLE}" if transition.durable else ""
        if name.startswith("requeue"):  # to send again: any worker may claim it
            assignments += ", worker = NULL"
        me = bind(self.worker_id)
        if name == "sending":
            assignments += f", worker = {me}"
            guard += f" AND (worker IS NULL OR worker = {me}) AND {self._tables.alive(me)}"
        else:  # a worker whose lease ended writes nothing more to what it holds (a take-over
            # may have reported it already: its SENDING requests are UNKNOWN)
            guard += f" AND (worker IS DISTINCT FROM {me} OR {self._tables.alive(me)})"
        row = await conn.fetchrow(
            f"UPDATE {self._entries} SET {assignments}, updated_at = $4"
            f" WHERE batch = $1 AND key = $2 AND state = ANY($3::text[]){guard}"
            f" RETURNING {COLS}",
            *params,
        )
        if row is not None:
            return JournalEntry.from_row(row)
        current = await conn.fetchrow(
            f"SELECT {COLS}, worker FROM {self._entries} WHERE batch = $1 AND key = $2",
            self.batch,
            key,
        )
        if current is None:
            raise JournalStateError(key, None, transition.target)
        state = JournalState(current["state"])
        same = transition.repeat_if_same
        if same and transition.is_done(state, current, args, same):
            return JournalEntry.from_row(current)
        if name == "sending" and state in transition.sources:
            raise self._lease.not_sendable(key, current["worker"]) or self._lease.ended(key)
        if current["worker"] == self.worker_id and not await self._lease.alive(conn):
            video = args.get("video_id")
            made = f" (video {video} was created for it)" if video is not None else ""
            raise self._lease.ended(key, f"record {key} as {name}{made}", state)
        raise JournalStateError(key, state, transition.target)

    async def _already_done(
        self, conn: asyncpg.Connection, key: str, name: str, args: Mapping[str, Any]
    ) -> JournalEntry | None:
        transition = TRANSITIONS[name]
        row = await conn.fetchrow(
            f"SELECT {COLS}, worker FROM {self._entries} WHERE batch = $1 AND key = $2",
            self.batch,
            key,
        )
        if row is None:
            return None
        if transition.is_done(JournalState(row["state"]), row, args, transition.arg_columns):
            return JournalEntry.from_row(row)
        return None

    async def recover(self) -> list[JournalEntry]:
        """The SENDING requests of expired workers, moved to UNKNOWN (see :meth:`take_over`),
        and, once, those a previous process with this ``worker`` id left SENDING."""
        leftovers, self._own_leftovers = self._own_leftovers, []
        return leftovers + list((await self.take_over()).unknown)

    # -- several workers (pg_claims)

    async def claim(self, n: int, *, submitted_only: bool = False) -> list[JournalEntry]:
        """Hold up to ``n`` requests no worker holds (:meth:`.pg_claims.Claims.claim`)."""
        return await self.claims.claim(n, submitted_only=submitted_only)

    async def release(self, keys: Sequence[str]) -> int:
        """Give back requests this worker holds (:meth:`.pg_claims.Claims.release`)."""
        return await self.claims.release(keys)

    async def orphans(self, limit: int) -> list[Orphan]:
        """Other batches' generations nobody watches (:meth:`.pg_claims.Claims.orphans`)."""
        return await self.claims.orphans(limit)

    async def record_orphan_end(
        self, orphan: Orphan, name: str, args: Mapping[str, Any], now: float | None = None
    ) -> bool:
        """Record an orphan's end in its batch (:meth:`.pg_claims.Claims.record_orphan_end`)."""
        return await self.claims.record_orphan_end(orphan, name, args, now)

    async def take_over(self) -> Takeover:
        """End expired workers' leases (:meth:`.pg_claims.Claims.take_over`)."""
        return await self.claims.take_over()

    async def workers(self, batch: str | None = None) -> list[WorkerInfo]:
        """The batch's workers and what each holds (:meth:`.pg_claims.Claims.workers`)."""
        return await self.claims.workers(batch)

    # -- the shared in-flight limit (pg_limits)

    async def set_limit(self, concurrency: int) -> SharedLimit:
        """Set the account's shared limit (:meth:`.pg_limits.SharedLimits.set_limit`)."""
        return await self.limits.set_limit(concurrency)

    async def shared_limit(self) -> SharedLimit | None:
        """The account's shared limit now (:meth:`.pg_limits.SharedLimits.shared_limit`)."""
        return await self.limits.shared_limit()

    async def limit_answered(self) -> SharedLimit:
        """The service said 500044 (:meth:`.pg_limits.SharedLimits.limit_answered`)."""
        return await self.limits.limit_answered()

    async def submit_accepted(self) -> SharedLimit:
        """A submit was accepted (:meth:`.pg_limits.SharedLimits.submit_accepted`)."""
        return await self.limits.submit_accepted()

    async def try_mark_sending(
        self, key: str, trace_id: str, now: float | None = None
    ) -> JournalEntry | None:
        """``mark_sending`` if the account has room under its shared limit, else None
        (:meth:`.pg_sends.Sends.try_mark_sending`)."""
        return await self._sends.try_mark_sending(key, trace_id, now)

    async def try_mark_sending_many(
        self, sends: Sequence[tuple[str, str]], now: float | None = None
    ) -> list[JournalEntry | JournalError | None]:
        """:meth:`try_mark_sending` for each ``(key, trace_id)``, in order
        (:meth:`.pg_sends.Sends.try_mark_sending_many`)."""
        return await self._sends.try_mark_sending_many(sends, now)

    # -- notifications

    async def wait_finished(self, key: str, timeout: float | None = None) -> JournalEntry:
        """Wait until ``key`` is SUCCEEDED, FAILED or UNKNOWN, by this or any other process.

        Woken by ``NOTIFY``, it reads the entry from the database: no status request is sent
        to the service. Raises :class:`JournalError` if the key is not in the batch and
        ``asyncio.TimeoutError`` after ``timeout`` seconds.

        Example::

            entry = await journal.postgres.wait_finished(key, timeout=600)
            if entry.state is JournalState.SUCCEEDED:
                print(entry.url)
        """
        await self._listener.start()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            woken = self._listener.watch(key)  # before reading: no event slips between
            try:
                entry = (await self.get_many([key])).get(key)
                if entry is None:
                    raise JournalError(f"{key} is not in batch {self.batch!r}")
                if entry.state in _FINISHED:
                    return entry
                left = None if deadline is None else deadline - loop.time()
                if left is not None and left <= 0:
                    raise asyncio.TimeoutError(f"{key} is still {entry.state.value}")
                await asyncio.wait_for(woken, left)
            finally:
                woken.cancel()

    async def subscribe(
        self, callback: Callable[[str | None, str | None], None]
    ) -> Callable[[], None]:
        """Call ``callback(key, state)`` (state a :class:`JournalState` value) at every
        published change of the batch (to PENDING, SUCCEEDED, FAILED or UNKNOWN), by any
        process, and ``callback(None, None)`` after the listener reconnected (changes may have
        been missed: read again). Returns once listening; call the returned function to stop.

        Example::

            finished: set[str] = set()
            stop = await store.subscribe(lambda key, state: finished.add(key or "*"))
            ...
            stop()
        """
        unsubscribe = self._listener.subscribe(callback)
        try:
            await self._listener.start()
        except BaseException:
            unsubscribe()
            raise
        return unsubscribe

    async def batches(self) -> list[str]:
        """The names of every batch in this schema, sorted.

        Example::

            for name in await journal.postgres.batches():
                print(name)
        """

        async def op(conn: asyncpg.Connection) -> list[str]:
            rows = await conn.fetch(f"SELECT batch FROM {self._batches} ORDER BY batch")
            return [r[0] for r in rows]

        return await self._conns.retrying(op)

    async def wait_changed(self, timeout: float | None = None) -> bool:
        """Wait for the next state change published in this schema (e.g. a request of the
        account finished, freeing room under the shared limit); False after ``timeout``.

        Example::

            while (entry := await store.try_mark_sending(key, trace)) is None:
                await store.wait_changed(timeout=1.0)
        """
        await self._listener.start()
        try:
            await asyncio.wait_for(asyncio.shield(self._listener.changed()), timeout)
        except asyncio.TimeoutError:
            return False
        return True
