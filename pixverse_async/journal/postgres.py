"""The PostgreSQL journal store: one batch shared by several processes and machines.

``pip install 'pixverse-async[postgres]'`` (asyncpg; imported when a store opens, so the core
SDK does not need it). Open it through the journal with a URL::

    async with Journal("postgresql://user@db.internal/jobs", batch="nightly") as journal:
        ...

Tables live in ``schema`` (default ``public``), named ``pixverse_*``, and are created on first
open. Several batches share them; every entry belongs to one ``batch``, every batch to one
``account`` (the service account whose concurrency limit its workers share).

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
import contextlib
import logging
import math
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import backoff

from ..constants import Limits
from ..limit_rule import grown, shrunk
from ..pg_listen import connection_errors, redact
from .entry import COLUMNS, JournalEntry
from .errors import JournalError, JournalLeaseError, JournalStateError
from .pg_listener import CHANNEL, Listener
from .pg_spending import SharedSpending
from .states import RECOVER_ARGS, TRANSITIONS, JournalState
from .store import binder, conflict_error, set_clause

if TYPE_CHECKING:
    import asyncpg

__all__ = ["CHANNEL", "PostgresStore", "SharedLimit", "Takeover", "WorkerInfo"]

_T = TypeVar("_T")

logger = logging.getLogger("pixverse_async")

_SCHEMA_VERSION: Final = 1
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_FINISHED: Final = frozenset((JournalState.SUCCEEDED, JournalState.FAILED, JournalState.UNKNOWN))
_DURABLE: Final = "set_config('synchronous_commit', 'on', true) IS NOT NULL"
"""A condition added to the one statement of a crash-safety point (``durable`` in the table):
it turns ``synchronous_commit`` on for its own transaction, so the commit returns once the WAL
is flushed to disk, in one round trip. Every other write commits asynchronously, like SQLite's
``synchronous=NORMAL``: it survives the client's death at once and the server's within a
fraction of a second (``wal_writer_delay``), and losing it only ever moves an entry back to a
state that is handled more cautiously."""
_SLOT_SECONDS: Final = Limits.SLOT_RELEASE_SECONDS
_COLS: Final = ", ".join(COLUMNS)
_E_COLS: Final = ", ".join(f"e.{c}" for c in COLUMNS)


@attrs.frozen
class Takeover:
    """What :meth:`PostgresStore.take_over` did.

    ``workers``: the expired workers handled; ``unknown``: their SENDING requests, now
    UNKNOWN; ``released``: their claimed PENDING and their SUBMITTED requests, now free for
    :meth:`PostgresStore.claim`.
    """

    workers: tuple[str, ...] = ()
    unknown: tuple[JournalEntry, ...] = ()
    released: tuple[JournalEntry, ...] = ()


@attrs.frozen
class Orphan:
    """A generation of another batch of the account that nobody watches
    (:meth:`PostgresStore.orphans`)."""

    batch: str
    key: str
    video_id: int


@attrs.frozen
class SharedLimit:
    """An account's shared in-flight limit: ``configured`` by :meth:`PostgresStore.set_limit`,
    the adaptive ``target`` (``1 <= target <= configured``), and how many requests are
    ``in_flight`` (SENDING, or SUBMITTED in the last 10 minutes, held by a live worker)
    across the account's batches."""

    account: str
    configured: int
    target: float
    in_flight: int

    @property
    def room(self) -> int:
        """How many more may be sent now."""
        return max(0, max(1, math.floor(self.target)) - self.in_flight)


@attrs.frozen
class WorkerInfo:
    """A worker of the batch: ``alive`` while its lease runs; ``held`` counts by state."""

    id: str
    host: str
    pid: int
    alive: bool
    taken_over: bool
    held: Mapping[JournalState, int]


@attrs.frozen
class _Sql:
    """A column value that is an SQL expression, not a parameter (for :func:`set_clause`)."""

    text: str


def _sql_or(value: Any, bind: Callable[[Any], str]) -> str:
    return value.text if isinstance(value, _Sql) else bind(value)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to undo. The store leaves no session state (its
    settings and locks end with their transaction; it LISTENs on a connection of its own), so
    asyncpg's default reset query would be a wasted round trip per operation; asyncpg still
    rolls back a transaction left open."""


def _ident(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        raise JournalError(
            f"{what} must be a plain SQL name (letters, digits, _; at most 63), got {value!r}"
        )
    return value


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
        self.schema = _ident(schema, "schema")
        self.account = account
        self.lease = float(lease)
        self.worker_id = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.reconnect_timeout = reconnect_timeout
        self.application_name = f"pixverse-journal {self.worker_id}"[:63]
        s = self.schema
        self._entries = f'"{s}".pixverse_entries'
        self._workers = f'"{s}".pixverse_workers'
        self._batches = f'"{s}".pixverse_batches'
        self._accounts = f'"{s}".pixverse_accounts'
        self._pool: asyncpg.Pool | None = None
        self._retryable: tuple[type[Exception], ...] = ()
        self._heartbeat: asyncio.Task[None] | None = None
        self._lease_lost = False
        self._renewed_at = time.monotonic()  # the last renewal that found the lease alive
        self._unreachable = False  # the last renewal could not reach the database in time
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
        self.spending = SharedSpending(self.schema, batch, self.worker_id, self._retrying)

    @property
    def name(self) -> str:
        """The URL without its password."""
        return redact(self.url)

    @property
    def lease_lost(self) -> bool:
        """True once the heartbeat found this worker's lease ended (others may take over)."""
        return self._lease_lost

    @property
    def lease_lost_reason(self) -> str:
        """Why this worker's lease ended, as far as it can tell: the database was unreachable,
        or the process did not run (its event loop was blocked, the machine paused) for
        longer than the lease, or another worker ended it."""
        silent = time.monotonic() - self._renewed_at
        if self._unreachable:
            return (
                f"the database was unreachable: the lease of {self.lease:g} s was not renewed"
                f" for {silent:.1f} s"
            )
        if silent > self.lease:
            return (
                f"its lease of {self.lease:g} s expired while it was not running (no heartbeat"
                f" for {silent:.1f} s: its event loop was blocked, or the process paused)"
            )
        return "another worker ended its lease"

    def __repr__(self) -> str:
        return f"<PostgresStore {self.name!r} batch={self.batch!r} worker={self.worker_id!r}>"

    # -- connections

    async def open(self) -> None:
        try:
            import asyncpg
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise JournalError(
                "a postgresql:// journal needs asyncpg: pip install 'pixverse-async[postgres]'"
            ) from exc
        self._retryable = connection_errors()
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                timeout=self.connect_timeout,
                reset=_keep_session,
                server_settings={
                    "application_name": self.application_name,
                    "synchronous_commit": "off",  # _DURABLE turns it on where it matters
                },
            )
        except (*self._retryable, asyncpg.PostgresError, ValueError) as exc:
            raise JournalError(f"cannot connect to the journal at {self.name}: {exc}") from exc
        try:
            await self._retrying(self._setup)
            await self._retrying(self._register)
        except BaseException:
            await self._close_pool()
            raise
        self._renewed_at = time.monotonic()
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def _setup(self, conn: asyncpg.Connection) -> None:
        e, s = self._entries, self.schema
        async with conn.transaction():
            # Concurrent first opens must not race on CREATE: one at a time per schema.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"pixverse:{s}")
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{s}"')
            await conn.execute(f"""
                CREATE TABLE IF NOT EXISTS "{s}".pixverse_meta (version integer NOT NULL);
                CREATE TABLE IF NOT EXISTS {self._batches} (
                    batch      text PRIMARY KEY,
                    account    text NOT NULL
                );
                CREATE TABLE IF NOT EXISTS {e} (
                    batch         text NOT NULL,
                    seq           bigint GENERATED ALWAYS AS IDENTITY,
                    key           text NOT NULL,
                    kind          text NOT NULL,
                    body          text NOT NULL,
                    state         text NOT NULL CHECK (state IN ('pending', 'sending',
                                    'submitted', 'succeeded', 'failed', 'unknown')),
                    attempts      integer NOT NULL DEFAULT 0,
                    trace_id      text,
                    video_id      bigint,
                    credits       integer,
                    url           text,
                    result        text,
                    error_type    text,
                    error_message text,
                    created_at    double precision NOT NULL,
                    updated_at    double precision NOT NULL,
                    worker        text,     -- the worker holding it
                    op            text,     -- token of the claim or takeover that moved it
                    resends       integer NOT NULL DEFAULT 0,
                    PRIMARY KEY (batch, key)
                );
                -- journals made before resends were counted
                ALTER TABLE {e} ADD COLUMN IF NOT EXISTS resends integer NOT NULL DEFAULT 0;
                CREATE INDEX IF NOT EXISTS pixverse_entries_seq ON {e} (batch, seq);
                CREATE INDEX IF NOT EXISTS pixverse_entries_state ON {e} (batch, state);
                CREATE INDEX IF NOT EXISTS pixverse_entries_worker ON {e} (worker)
                    WHERE state IN ('pending', 'sending', 'submitted');
                CREATE INDEX IF NOT EXISTS pixverse_entries_op ON {e} (op);
                CREATE TABLE IF NOT EXISTS {self._workers} (
                    id             text PRIMARY KEY,
                    batch          text NOT NULL,
                    host           text NOT NULL,
                    pid            integer NOT NULL,
                    started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
                    expires_at     timestamptz NOT NULL,
                    taken_over_by  text
                );
                CREATE TABLE IF NOT EXISTS {self._accounts} (
                    account     text PRIMARY KEY,
                    configured  integer NOT NULL CHECK (configured > 0),
                    target      double precision NOT NULL
                );
                CREATE OR REPLACE FUNCTION "{s}".pixverse_notify() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('{CHANNEL}', json_build_object('schema', TG_TABLE_SCHEMA,
                        'batch', NEW.batch, 'key', NEW.key, 'state', NEW.state)::text);
                    RETURN NULL;
                END $$;
                -- In flight: what may be generating on the service, whoever holds it. Being
                -- sent by a live worker; or SUBMITTED (or SENDING, its sender gone) for less
                -- time than PixVerse counts a generation against the account's limit. A dead
                -- or stopped worker's generations count until their end is recorded (its
                -- batch's take-over, or any run of the account watching them) or that time
                -- passes.
                CREATE OR REPLACE FUNCTION "{s}".pixverse_in_flight(p_account text)
                RETURNS bigint LANGUAGE sql VOLATILE AS $$
                    SELECT count(*) FROM {e} e JOIN {self._batches} b USING (batch)
                    WHERE b.account = p_account AND e.state IN ('sending', 'submitted')
                        AND (e.updated_at > extract(epoch from now()) - {_SLOT_SECONDS}
                            OR e.state = 'sending' AND {self._alive("e.worker")})
                $$;
                CREATE OR REPLACE FUNCTION "{s}".pixverse_send_room(p_account text)
                RETURNS integer
                LANGUAGE plpgsql VOLATILE AS $$
                DECLARE
                    allowed integer;
                    busy bigint;
                BEGIN
                    -- The account row's lock, held to the commit, makes the workers' checks
                    -- take turns; the count after it (a new snapshot) sees every send before.
                    SELECT greatest(1, floor(target))::integer INTO allowed
                        FROM {self._accounts} WHERE account = p_account FOR UPDATE;
                    IF allowed IS NULL THEN
                        RAISE EXCEPTION 'account % has no shared limit (set_limit first)',
                            p_account;
                    END IF;
                    busy := "{s}".pixverse_in_flight(p_account);
                    RETURN greatest(0, allowed - busy);
                END $$;
                CREATE OR REPLACE TRIGGER pixverse_entries_notify AFTER UPDATE OF state ON {e}
                    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                        AND NEW.state IN ('pending', 'succeeded', 'failed', 'unknown'))
                    EXECUTE FUNCTION "{s}".pixverse_notify();
            """)
            await self.spending.setup(conn)
            version = await conn.fetchval(f'SELECT max(version) FROM "{s}".pixverse_meta')
            if version is None:
                await conn.execute(f'INSERT INTO "{s}".pixverse_meta VALUES ($1)', _SCHEMA_VERSION)
            elif version > _SCHEMA_VERSION:
                raise JournalError(
                    f"journal {self.name} (schema {s}) has version {version}; this version"
                    f" of pixverse_async reads up to {_SCHEMA_VERSION}"
                )

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
            rows = await self._interrupt(conn, [self.worker_id], op=None)
            self._own_leftovers = [JournalEntry.from_row(row) for row in rows]

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self._listener.close()
        try:
            if self._pool is not None:
                await self._retrying(self._leave)
        except JournalError as exc:
            logger.warning("journal %s: could not end the lease cleanly: %s", self.name, exc)
        finally:
            await self._close_pool()

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

    async def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.connect_timeout)
            except self._retryable:  # includes TimeoutError
                pool.terminate()

    def abandon(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        self._listener.abandon()
        if self._pool is not None:
            self._pool.terminate()

    async def _retrying(
        self,
        op: Callable[[asyncpg.Connection], Awaitable[_T]],
        *,
        after_loss: Callable[[asyncpg.Connection], Awaitable[_T | None]] | None = None,
    ) -> _T:
        """Run ``op`` on a pool connection, again on a new one when the connection is lost.

        ``after_loss``, tried before each retry, recognises an ``op`` that committed although
        its answer was lost, and returns its result (None: it did not happen, run it again).
        """
        lost = False

        def note(details: Any) -> None:
            nonlocal lost
            lost = True
            logger.warning(
                "journal %s: lost the database connection (%s); retrying",
                self.name,
                details.get("exception"),
            )

        @backoff.on_exception(
            backoff.expo,
            self._retryable,
            max_time=self.reconnect_timeout,
            on_backoff=note,
            factor=0.05,
            max_value=1.0,
            logger=None,
        )
        async def attempt() -> _T:
            pool = self._pool
            if pool is None:
                raise JournalError("journal is closed")
            conn = await pool.acquire(timeout=self.connect_timeout)
            try:
                if lost and after_loss is not None:
                    done = await after_loss(conn)
                    if done is not None:
                        return done
                return await op(conn)
            finally:
                # The work is done (or failed) by now: a connection lost while being reset
                # for the pool must not turn a finished operation into a failed one.
                with contextlib.suppress(*self._retryable):
                    await pool.release(conn)

        try:
            return await attempt()
        except self._retryable as exc:
            raise JournalError(
                f"journal {self.name}: lost the database connection and could not reconnect"
                f" within {self.reconnect_timeout:g} s: {exc}"
            ) from exc
        except JournalError:
            raise
        except Exception as exc:
            import asyncpg

            if isinstance(exc, asyncpg.PostgresError):
                raise JournalError(f"journal {self.name}: {exc}") from exc
            raise

    # -- the heartbeat

    async def _beat(self) -> None:
        every = self.lease / 3
        while not self._lease_lost:
            await asyncio.sleep(every)
            started = time.monotonic()
            try:
                alive = await self._retrying(self._renew)
            except JournalError as exc:
                self._unreachable = True
                logger.warning("journal %s: heartbeat failed: %s", self.name, exc)
                continue
            self._unreachable = time.monotonic() - started > every  # it had to reconnect
            if alive:
                self._renewed_at = started
                continue
            self._lease_lost = True
            logger.error(
                "journal %s: worker %s lost its lease (%s); it sends nothing more",
                self.name,
                self.worker_id,
                self.lease_lost_reason,
            )

    async def _renew(self, conn: asyncpg.Connection) -> bool:
        row = await conn.fetchval(
            f"UPDATE {self._workers} SET expires_at = clock_timestamp()"
            " + make_interval(secs => $2) WHERE id = $1 AND expires_at > clock_timestamp()"
            " AND taken_over_by IS NULL RETURNING 1",
            self.worker_id,
            self.lease,
        )
        return row is not None

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
                f"SELECT {_COLS} FROM {self._entries} WHERE batch = $1 AND key = ANY($2){where}",
                self.batch,
                list(keys),
            )
            return {row[0]: JournalEntry.from_row(row) for row in rows}

        return await self._retrying(op)

    async def entries(self, state: JournalState | None) -> list[JournalEntry]:
        async def op(conn: asyncpg.Connection) -> list[JournalEntry]:
            where = "" if state is None else " AND state = $2"
            args = () if state is None else (state.value,)
            rows = await conn.fetch(
                f"SELECT {_COLS} FROM {self._entries} WHERE batch = $1{where} ORDER BY seq",
                self.batch,
                *args,
            )
            return [JournalEntry.from_row(row) for row in rows]

        return await self._retrying(op)

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

        return await self._retrying(op)

    async def workers(self, batch: str | None = None) -> list[WorkerInfo]:
        """The batch's (or ``batch``'s) workers, oldest first, with what each holds.

        Example::

            for w in await journal.postgres.workers():
                print(w.id, "alive" if w.alive else "gone", dict(w.held))
        """

        async def op(conn: asyncpg.Connection) -> list[WorkerInfo]:
            rows = await conn.fetch(
                f"SELECT w.id, w.host, w.pid, w.expires_at > clock_timestamp(),"
                f" w.taken_over_by IS NOT NULL, e.state, count(e.key)"
                f" FROM {self._workers} w LEFT JOIN {self._entries} e"
                f" ON e.worker = w.id AND e.batch = w.batch"
                f" WHERE w.batch = $1 GROUP BY w.id, e.state ORDER BY min(w.started_at), w.id",
                self.batch if batch is None else batch,
            )
            found: dict[str, WorkerInfo] = {}
            for wid, host, pid, alive, taken, state, n in rows:
                info = found.get(wid) or WorkerInfo(wid, host, pid, alive, taken, {})
                held = dict(info.held)
                if state is not None:
                    held[JournalState(state)] = n
                found[wid] = attrs.evolve(info, held=held)
            return list(found.values())

        return await self._retrying(op)

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

        return await self._retrying(op)

    async def transition(
        self, key: str, name: str, args: Mapping[str, Any], now: float
    ) -> JournalEntry:
        async def op(conn: asyncpg.Connection) -> JournalEntry:
            return await self._apply(conn, key, name, args, now)

        async def after_loss(conn: asyncpg.Connection) -> JournalEntry | None:
            return await self._already_done(conn, key, name, args)

        return await self._retrying(op, after_loss=after_loss)

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
        guard = f" AND {_DURABLE}" if transition.durable else ""
        if name.startswith("requeue"):  # to send again: any worker may claim it
            assignments += ", worker = NULL"
        me = bind(self.worker_id)
        if name == "sending":
            assignments += f", worker = {me}"
            guard += f" AND (worker IS NULL OR worker = {me}) AND {self._alive(me)}"
        else:  # a worker whose lease ended writes nothing more to what it holds (a take-over
            # may have reported it already: its SENDING requests are UNKNOWN)
            guard += f" AND (worker IS DISTINCT FROM {me} OR {self._alive(me)})"
        row = await conn.fetchrow(
            f"UPDATE {self._entries} SET {assignments}, updated_at = $4"
            f" WHERE batch = $1 AND key = $2 AND state = ANY($3::text[]){guard}"
            f" RETURNING {_COLS}",
            *params,
        )
        if row is not None:
            return JournalEntry.from_row(row)
        current = await conn.fetchrow(
            f"SELECT {_COLS}, worker FROM {self._entries} WHERE batch = $1 AND key = $2",
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
            raise self._not_sendable(key, current["worker"]) or self._lease_ended(key)
        if current["worker"] == self.worker_id and not await self._lease_alive(conn):
            video = args.get("video_id")
            made = f" (video {video} was created for it)" if video is not None else ""
            raise self._lease_ended(key, f"record {key} as {name}{made}", state)
        raise JournalStateError(key, state, transition.target)

    def _not_sendable(self, key: str, holder: str | None) -> JournalLeaseError | None:
        if holder in (None, self.worker_id):
            return None
        return JournalLeaseError(
            f"cannot send {key}: worker {holder} holds it (claim() requests first)"
        )

    def _lease_ended(
        self, key: str, doing: str | None = None, state: JournalState | None = None
    ) -> JournalLeaseError:
        self._lease_lost = True
        left = "" if state is None else f"; it stays {state.value}, as the take-over left it"
        return JournalLeaseError(
            f"cannot {doing or f'send {key}'}: the lease of worker {self.worker_id} has ended"
            f" ({self.lease_lost_reason}){left}"
        )

    async def _already_done(
        self, conn: asyncpg.Connection, key: str, name: str, args: Mapping[str, Any]
    ) -> JournalEntry | None:
        transition = TRANSITIONS[name]
        row = await conn.fetchrow(
            f"SELECT {_COLS}, worker FROM {self._entries} WHERE batch = $1 AND key = $2",
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

    async def _interrupt(
        self, conn: asyncpg.Connection, workers: list[str], op: str | None
    ) -> list[Any]:
        """Apply ``recover`` (SENDING → UNKNOWN) to the SENDING entries ``workers`` hold."""
        params: list[Any] = [self.batch, workers, op]
        assignments = set_clause(
            TRANSITIONS["recover"], RECOVER_ARGS, binder(params, lambda n: f"${n}")
        )
        rows: list[Any] = await conn.fetch(
            f"UPDATE {self._entries} SET {assignments}, op = coalesce($3, op),"
            " updated_at = extract(epoch from clock_timestamp())"
            " WHERE batch = $1 AND worker = ANY($2::text[]) AND state = 'sending'"
            f" RETURNING {_COLS}",
            *params,
        )
        return rows

    # -- several workers

    async def claim(self, n: int) -> list[JournalEntry]:
        """Hold up to ``n`` requests of the batch that no worker holds, for this worker.

        SUBMITTED requests come first (poll them), then PENDING ones (send them with
        ``mark_sending``), each in recording order. Concurrent claimers, in any process, never
        get the same request. Returns [] when the lease has ended.

        Example::

            for entry in await journal.postgres.claim(10):
                if entry.state is JournalState.SUBMITTED:
                    poll(entry.video_id)
                else:
                    await send(entry)
        """
        if n < 1:
            raise JournalError(f"claim needs n >= 1, got {n!r}")
        token = uuid.uuid4().hex

        async def op(conn: asyncpg.Connection) -> list[JournalEntry]:
            rows = await conn.fetch(
                f"WITH picked AS (SELECT key FROM {self._entries}"
                " WHERE batch = $1 AND worker IS NULL AND state IN ('pending', 'submitted')"
                " ORDER BY state = 'pending', seq LIMIT $2 FOR UPDATE SKIP LOCKED)"
                f" UPDATE {self._entries} e SET worker = $3, op = $4 FROM picked"
                f" WHERE e.batch = $1 AND e.key = picked.key AND {self._alive('$3')}"
                f" RETURNING {_E_COLS}, e.seq",
                self.batch,
                n,
                self.worker_id,
                token,
            )
            return self._claimed(rows)

        async def after_loss(conn: asyncpg.Connection) -> list[JournalEntry] | None:
            rows = await conn.fetch(
                f"SELECT {_COLS}, seq FROM {self._entries} WHERE op = $1 AND worker = $2",
                token,
                self.worker_id,
            )
            return self._claimed(rows) if rows else None

        return await self._retrying(op, after_loss=after_loss)

    @staticmethod
    def _claimed(rows: Sequence[Any]) -> list[JournalEntry]:
        ordered = sorted(rows, key=lambda r: (r["state"] == "pending", r["seq"]))
        return [JournalEntry.from_row(row) for row in ordered]

    async def release(self, keys: Sequence[str]) -> int:
        """Give back PENDING or SUBMITTED requests this worker holds; return how many.

        Example::

            await journal.postgres.release([entry.key for entry in not_started])
        """

        async def op(conn: asyncpg.Connection) -> int:
            done = await conn.fetch(
                f"UPDATE {self._entries} SET worker = NULL WHERE batch = $1 AND key = ANY($2)"
                " AND worker = $3 AND state IN ('pending', 'submitted') RETURNING 1",
                self.batch,
                list(keys),
                self.worker_id,
            )
            return len(done)

        return await self._retrying(op)

    async def orphans(self, limit: int) -> list[Orphan]:
        """Up to ``limit`` generations of *other* batches of this account that nobody watches:
        SUBMITTED, held by no live worker (their run stopped, their worker died and no worker
        of their batch took over), and recent enough to count against the account's limit.
        A run of the account polls them (:meth:`record_orphan_end`), so that a stopped batch
        does not hold the account's places until it is run again.

        Example::

            for orphan in await journal.postgres.orphans(16):
                print(orphan.batch, orphan.key, orphan.video_id)
        """

        async def op(conn: asyncpg.Connection) -> list[Orphan]:
            rows = await conn.fetch(
                f"SELECT e.batch, e.key, e.video_id FROM {self._entries} e"
                f" JOIN {self._batches} b USING (batch)"
                " WHERE b.account = $1 AND e.batch <> $2 AND e.state = 'submitted'"
                " AND e.video_id IS NOT NULL"
                f" AND e.updated_at > extract(epoch from now()) - {_SLOT_SECONDS}"
                f" AND NOT {self._alive('e.worker')}"
                " ORDER BY e.updated_at LIMIT $3",
                self.account,
                self.batch,
                limit,
            )
            return [Orphan(row["batch"], row["key"], row["video_id"]) for row in rows]

        return await self._retrying(op)

    async def record_orphan_end(
        self, orphan: Orphan, name: str, args: Mapping[str, Any], now: float | None = None
    ) -> bool:
        """Record the end a poll found for ``orphan`` (transition ``name``: ``succeeded`` or
        ``failed``, with its ``args``) in its own batch, if it is still SUBMITTED and nobody
        holds it; True when recorded (its batch's workers are notified as for any end)."""
        transition = TRANSITIONS[name]
        when = time.time() if now is None else now

        async def op(conn: asyncpg.Connection) -> bool:
            params: list[Any] = [orphan.batch, orphan.key, when]
            assignments = set_clause(transition, args, binder(params, lambda n: f"${n}"))
            row = await conn.fetchrow(
                f"UPDATE {self._entries} e SET {assignments}, updated_at = $3"
                " WHERE batch = $1 AND key = $2 AND state = 'submitted'"
                f" AND NOT {self._alive('e.worker')} RETURNING 1",
                *params,
            )
            return row is not None

        return await self._retrying(op)

    async def take_over(self) -> Takeover:
        """End the expired leases of the batch's workers and free what they held.

        A request such a worker was SENDING becomes UNKNOWN (``error_type`` "Interrupted"):
        it may have been created, so it is never resubmitted blindly. Its claimed PENDING
        requests and its SUBMITTED ones (to poll) go back to the batch for :meth:`claim`.
        Concurrent callers split the work (``SKIP LOCKED``); each expired worker is handled
        once, and again only if it wrote after that.

        Example::

            taken = await journal.postgres.take_over()
            for entry in taken.unknown:
                print("may have been paid for:", entry.key, entry.trace_id)
        """
        token = uuid.uuid4().hex

        async def op(conn: asyncpg.Connection) -> Takeover:
            async with conn.transaction():
                dead = [
                    r[0]
                    for r in await conn.fetch(
                        f"SELECT id FROM {self._workers} w WHERE batch = $1"
                        " AND expires_at <= clock_timestamp() AND id <> $2 AND EXISTS (SELECT 1"
                        f" FROM {self._entries} e WHERE e.worker = w.id AND e.batch = w.batch"
                        " AND e.state IN ('pending', 'sending', 'submitted'))"
                        " FOR UPDATE SKIP LOCKED",
                        self.batch,
                        self.worker_id,
                    )
                ]
                if not dead:
                    return Takeover()
                unknown = await self._interrupt(conn, dead, op=token)
                released = await conn.fetch(
                    f"UPDATE {self._entries} SET worker = NULL, op = $3"
                    " WHERE batch = $1 AND worker = ANY($2::text[])"
                    f" AND state IN ('pending', 'submitted') RETURNING {_COLS}",
                    self.batch,
                    dead,
                    token,
                )
                await conn.execute(
                    f"UPDATE {self._workers} SET taken_over_by = $2 WHERE id = ANY($1::text[])",
                    dead,
                    token,
                )
            return _takeover(dead, unknown, released)

        async def after_loss(conn: asyncpg.Connection) -> Takeover | None:
            dead = [
                r[0]
                for r in await conn.fetch(
                    f"SELECT id FROM {self._workers} WHERE taken_over_by = $1", token
                )
            ]
            if not dead:
                return None
            rows = await conn.fetch(f"SELECT {_COLS} FROM {self._entries} WHERE op = $1", token)
            unknown = [r for r in rows if r["state"] == "unknown"]
            return _takeover(dead, unknown, [r for r in rows if r["state"] != "unknown"])

        taken = await self._retrying(op, after_loss=after_loss)
        if taken.workers:
            logger.warning(
                "journal %s: took over %d expired worker(s): %d request(s) unknown, %d freed",
                self.name,
                len(taken.workers),
                len(taken.unknown),
                len(taken.released),
            )
        return taken

    # -- the shared in-flight limit

    async def set_limit(self, concurrency: int) -> SharedLimit:
        """Set the account's shared limit: at most ``concurrency`` in flight for all workers.

        The adaptive target keeps its value if lower. Example::

            await journal.postgres.set_limit(30)
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise JournalError(f"concurrency must be an int >= 1, got {concurrency!r}")

        async def op(conn: asyncpg.Connection) -> SharedLimit:
            await conn.execute(
                f"INSERT INTO {self._accounts} (account, configured, target)"
                " VALUES ($1, $2::integer, $2::integer)"
                " ON CONFLICT (account) DO UPDATE SET configured = $2::integer,"
                f" target = least({self._accounts}.target, $2::integer)",
                self.account,
                concurrency,
            )
            return await self._limit(conn)

        return await self._retrying(op)

    async def shared_limit(self) -> SharedLimit | None:
        """The account's shared limit now, or None if :meth:`set_limit` was never called."""

        async def op(conn: asyncpg.Connection) -> SharedLimit | None:
            return await self._limit_or_none(conn)

        return await self._retrying(op)

    async def _limit(self, conn: asyncpg.Connection, *, lock: bool = False) -> SharedLimit:
        found = await self._limit_or_none(conn, lock=lock)
        if found is None:
            raise JournalError(f"account {self.account!r} has no shared limit (set_limit first)")
        return found

    async def _limit_or_none(
        self, conn: asyncpg.Connection, *, lock: bool = False
    ) -> SharedLimit | None:
        row = await conn.fetchrow(
            f"SELECT configured, target FROM {self._accounts} WHERE account = $1"
            + (" FOR UPDATE" if lock else ""),
            self.account,
        )
        if row is None:
            return None
        in_flight = await conn.fetchval(
            f'SELECT "{self.schema}".pixverse_in_flight($1)', self.account
        )
        return SharedLimit(self.account, row["configured"], row["target"], int(in_flight))

    async def try_mark_sending(
        self, key: str, trace_id: str, now: float | None = None
    ) -> JournalEntry | None:
        """``mark_sending`` if the account has room under its shared limit, else None.

        The check and the transition are one statement (one round trip) that holds the
        account row's lock to its commit, so the workers together never exceed the limit. On
        None, wait (:meth:`wait_changed`) and try again. Example::

            entry = await store.try_mark_sending(key, trace_id)
            if entry is None:
                await store.wait_changed(timeout=1.0)
        """
        (result,) = await self.try_mark_sending_many([(key, trace_id)], now)
        if isinstance(result, JournalError):
            raise result
        return result

    async def try_mark_sending_many(
        self, sends: Sequence[tuple[str, str]], now: float | None = None
    ) -> list[JournalEntry | JournalError | None]:
        """:meth:`try_mark_sending` for each ``(key, trace_id)``, in order, as many as the
        account has room for: one statement, one lock of the account row, one durable commit.

        Per item: its SENDING entry; None when the shared limit had no room left for it (try
        again later); or the :class:`JournalError` that ``mark_sending`` raises for it (another
        worker holds it, this worker's lease ended, it is not PENDING). Example::

            results = await store.try_mark_sending_many([(key1, "trace-1"), (key2, "trace-2")])
            sent = [r for r in results if isinstance(r, JournalEntry)]
        """
        keys = [key for key, _ in sends]
        traces = [trace for _, trace in sends]
        when = time.time() if now is None else now
        transition = TRANSITIONS["sending"]

        async def op(conn: asyncpg.Connection) -> list[JournalEntry | JournalError | None]:
            params: list[Any] = [self.batch, keys, traces, when, self.worker_id, self.account]
            bind = binder(params, lambda n: f"${n}")
            args = {"trace_id": _Sql("picked.trace")}
            assignments = set_clause(transition, args, lambda v: _sql_or(v, bind))
            sendable = "e.state = 'pending' AND (e.worker IS NULL OR e.worker = $5)"
            rows = await conn.fetch(
                f"WITH picked AS (SELECT u.key, u.trace FROM unnest($2::text[], $3::text[])"
                f" WITH ORDINALITY AS u(key, trace, ord) JOIN {self._entries} e"
                f" ON e.batch = $1 AND e.key = u.key AND {sendable}"
                f' ORDER BY u.ord LIMIT "{self.schema}".pixverse_send_room($6))'
                f" UPDATE {self._entries} e SET {assignments}, worker = $5, updated_at = $4"
                f" FROM picked WHERE e.batch = $1 AND e.key = picked.key AND {sendable}"
                f" AND {self._alive('$5')} AND {_DURABLE}"
                f" RETURNING {_E_COLS}",
                *params,
            )
            sent = {row["key"]: JournalEntry.from_row(row) for row in rows}
            rest = [key for key in keys if key not in sent]
            why = await self._why_not_sent(conn, rest) if rest else {}
            return [sent.get(key) or why.get(key) for key in keys]

        async def after_loss(
            conn: asyncpg.Connection,
        ) -> list[JournalEntry | JournalError | None] | None:
            rows = await conn.fetch(
                f"SELECT {_COLS}, worker FROM {self._entries} WHERE batch = $1 AND key = ANY($2)",
                self.batch,
                keys,
            )
            mine = {
                row["key"]: JournalEntry.from_row(row)
                for row in rows
                if row["state"] == "sending" and row["worker"] == self.worker_id
            }
            done: list[JournalEntry | JournalError | None] = [
                mine[k] if k in mine and mine[k].trace_id == t else None for k, t in sends
            ]
            return done if any(done) else None

        return await self._retrying(op, after_loss=after_loss)

    def _alive(self, worker: str) -> str:
        """SQL: the worker ``worker`` (a placeholder or a column) holds its lease: not
        expired, not taken over. What every claim and send of a worker is conditioned on, and
        what the account's in-flight count counts."""
        return (
            f"EXISTS (SELECT 1 FROM {self._workers} WHERE id = {worker}"
            " AND expires_at > clock_timestamp() AND taken_over_by IS NULL)"
        )

    async def _lease_alive(self, conn: asyncpg.Connection) -> bool:
        return bool(await conn.fetchval(f"SELECT {self._alive('$1')}", self.worker_id))

    async def _why_not_sent(
        self, conn: asyncpg.Connection, keys: Sequence[str]
    ) -> dict[str, JournalError | None]:
        """Why ``keys`` were not marked SENDING: an error, or None (no room: try later)."""
        rows = await conn.fetch(
            f"SELECT key, state, worker FROM {self._entries} WHERE batch = $1 AND key = ANY($2)",
            self.batch,
            list(keys),
        )
        found = {row["key"]: row for row in rows}
        alive: bool | None = None
        why: dict[str, JournalError | None] = {}
        for key in keys:
            row = found.get(key)
            if row is None or row["state"] != JournalState.PENDING.value:
                state = None if row is None else JournalState(row["state"])
                why[key] = JournalStateError(key, state, JournalState.SENDING)
                continue
            held = self._not_sendable(key, row["worker"])
            if held is not None:
                why[key] = held
                continue
            if alive is None:
                alive = await self._lease_alive(conn)
            why[key] = None if alive else self._lease_ended(key)
        return why

    async def limit_answered(self) -> SharedLimit:
        """The service answered "too many at once" (500044): aim the shared target at what is
        in flight now (at least 1). Call it after ``mark_not_sent`` for that request."""

        async def op(conn: asyncpg.Connection) -> SharedLimit:
            async with conn.transaction():
                limit = await self._limit(conn, lock=True)
                target = shrunk(limit.in_flight)
                await conn.execute(
                    f"UPDATE {self._accounts} SET target = $2 WHERE account = $1",
                    self.account,
                    target,
                )
                return attrs.evolve(limit, target=target)

        return await self._retrying(op)

    async def submit_accepted(self) -> SharedLimit:
        """A submit was accepted: grow the shared target by ``1 / target``, up to the
        configured limit (the runner's rule, applied to the shared target)."""

        async def op(conn: asyncpg.Connection) -> SharedLimit:
            async with conn.transaction():
                limit = await self._limit(conn, lock=True)
                if limit.target >= limit.configured:
                    return limit
                target = grown(limit.target, limit.configured)
                await conn.execute(
                    f"UPDATE {self._accounts} SET target = $2 WHERE account = $1",
                    self.account,
                    target,
                )
                return attrs.evolve(limit, target=target)

        return await self._retrying(op)

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

        return await self._retrying(op)

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


def _takeover(dead: list[str], unknown: Sequence[Any], released: Sequence[Any]) -> Takeover:
    return Takeover(
        workers=tuple(dead),
        unknown=tuple(JournalEntry.from_row(r) for r in unknown),
        released=tuple(JournalEntry.from_row(r) for r in released),
    )
