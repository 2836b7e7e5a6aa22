"""The SQLite journal store: one file, one process, the embedded default.

Durability: the database is SQLite in WAL mode. The crash-safety transitions (``mark_sending``
and ``mark_submitted``, ``durable`` in the table) commit with ``synchronous=FULL`` (the WAL is
fsynced), so once they return the transition survives a killed process and a power cut. Every
other write commits with ``synchronous=NORMAL`` (survives a killed process; after a power cut it
may be lost, which only ever moves an entry back to a state that is handled more cautiously).
Writes from concurrent coroutines are grouped into one transaction and one fsync (group commit).

One process at a time: the connection holds an exclusive lock for as long as the journal is
open; a second store on the same file, in this or another process, waits ``timeout`` seconds
and then raises :class:`JournalLockedError`. The lock dies with the process, so a SENDING entry
found at open was left by a writer that is gone (:meth:`SqliteStore.recover`).

All database work runs on one dedicated thread that owns the ``sqlite3`` connection; the event
loop only waits on futures.

Example::

    async with Journal(SqliteStore("jobs.sqlite")) as journal:   # what Journal("jobs.sqlite") does
        print(await journal.summary())
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs

from .entry import COLUMNS, JournalEntry
from .errors import JournalError, JournalLockedError, JournalStateError
from .states import RECOVER_ARGS, TRANSITIONS, JournalState
from .store import binder, conflict_error, set_clause

__all__ = ["MEMORY", "SqliteStore"]

_T = TypeVar("_T")

MEMORY: Final = ":memory:"
_SCHEMA_VERSION: Final = 2  # 2: entries.resends
_MAX_BATCH: Final = 1024  # operations grouped into one transaction
_CHUNK: Final = 500  # keys per "IN (...)" query, below every SQLite variable limit

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS entries (
    seq           INTEGER PRIMARY KEY,          -- insertion order, for reports
    key           TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    body          TEXT NOT NULL,                -- canonical JSON
    state         TEXT NOT NULL CHECK (state IN
                    ('pending', 'sending', 'submitted', 'succeeded', 'failed', 'unknown')),
    attempts      INTEGER NOT NULL DEFAULT 0,   -- times mark_sending was recorded
    trace_id      TEXT,
    video_id      INTEGER,
    credits       INTEGER,
    url           TEXT,
    result        TEXT,                         -- JSON of the final status
    error_type    TEXT,
    error_message TEXT,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    resends       INTEGER NOT NULL DEFAULT 0    -- sends under a trace id already used
);
CREATE INDEX IF NOT EXISTS entries_state ON entries (state);
"""

_SELECT: Final = f"SELECT {', '.join(COLUMNS)} FROM entries"


def _select_one(conn: sqlite3.Connection, key: str) -> JournalEntry | None:
    row = conn.execute(f"{_SELECT} WHERE key = ?", (key,)).fetchone()
    return None if row is None else JournalEntry.from_row(row)


def _apply(
    conn: sqlite3.Connection, key: str, name: str, args: Mapping[str, Any], now: float
) -> JournalEntry:
    """Apply ``TRANSITIONS[name]`` to ``key`` if it is in an allowed state, atomically."""
    transition = TRANSITIONS[name]
    params: list[Any] = []
    assignments = set_clause(transition, args, binder(params, lambda n: "?"))
    sources = sorted(s.value for s in transition.sources)
    cur = conn.execute(
        f"UPDATE entries SET {assignments}, updated_at = ?"
        f" WHERE key = ? AND state IN ({', '.join('?' * len(sources))})",
        (*params, now, key, *sources),
    )
    row = conn.execute(f"{_SELECT} WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise JournalStateError(key, None, transition.target)
    entry = JournalEntry.from_row(row)
    if cur.rowcount == 1:
        return entry
    same = transition.repeat_if_same
    if same and transition.is_done(entry.state, dict(zip(COLUMNS, row, strict=True)), args, same):
        return entry
    raise JournalStateError(key, entry.state, transition.target)


def _insert_pending(
    conn: sqlite3.Connection, rows: Sequence[tuple[str, str, str]], now: float
) -> int:
    """Insert new keys as PENDING; check that existing ones hold the same request."""
    wanted = {key: (kind, body) for key, kind, body in rows}
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO entries (key, kind, body, state, created_at, updated_at)"
        " VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING",
        [(key, kind, body, now, now) for key, (kind, body) in wanted.items()],
    )
    inserted = conn.total_changes - before
    if inserted < len(wanted):
        keys = list(wanted)
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT key, kind, body FROM entries WHERE key IN ({marks})"
            for key, kind, body in conn.execute(query, chunk):
                if wanted[key] != (kind, body):
                    raise conflict_error(key, kind, body)
    return inserted


@attrs.define
class _Op:
    fn: Callable[[sqlite3.Connection], Any] | None  # runs inside a (grouped) transaction
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    durable: bool = False  # its transaction commits with synchronous=FULL
    alone: Callable[[], Any] | None = None  # or: runs by itself, outside any transaction


def _deliver(op: _Op, ok: bool, value: Any) -> None:
    def settle() -> None:
        if op.future.done():
            return
        if ok:
            op.future.set_result(value)
        else:
            op.future.set_exception(value)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
        op.loop.call_soon_threadsafe(settle)


def _wrap(exc: BaseException, path: str) -> BaseException:
    """A fresh exception for one caller: sqlite errors become JournalError."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        err: JournalError = JournalLockedError(
            f"journal {path} is in use by another process or Journal (one at a time): {exc}"
        )
    elif isinstance(exc, sqlite3.Error):
        err = JournalError(f"journal {path}: {exc}")
    else:
        return exc
    err.__cause__ = exc
    return err


class _Worker:
    """Owns the sqlite3 connection on one thread and runs operations in group commits.

    Holds no reference to the :class:`Journal`, so an unclosed journal can be collected.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.memory = path == MEMORY
        self.queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self.conn: sqlite3.Connection | None = None
        self._sync: str | None = None
        self._stop = False
        self.dead = False  # the thread has ended (or is ending)
        name = "pixverse-journal:" + (path if self.memory else os.path.basename(path))
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- called from the event loop

    def submit(self, op: _Op) -> None:
        self.queue.put(op)

    def stop_nowait(self) -> None:
        self.queue.put(None)

    # -- operations that run on the thread without a transaction

    def connect(self) -> None:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            if not self.memory:
                # Exclusive before WAL: no shared-memory index, and no second opener.
                conn.execute("PRAGMA locking_mode = EXCLUSIVE")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise JournalError(f"journal {self.path}: cannot use WAL (got {mode})")
                # macOS: fsync() does not reach the platter without F_FULLFSYNC.
                conn.execute("PRAGMA fullfsync = ON")
                conn.execute("PRAGMA checkpoint_fullfsync = ON")
            self.conn = conn
            self._set_sync(durable=True)
            conn.execute("BEGIN IMMEDIATE")  # takes the lock now, not at the first write
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > _SCHEMA_VERSION:
                    raise JournalError(
                        f"journal {self.path} has schema version {version}; this version of"
                        f" pixverse_async reads up to {_SCHEMA_VERSION}"
                    )
                for statement in _SCHEMA.split(";"):  # not executescript: it would COMMIT
                    if statement.strip():
                        conn.execute(statement)
                if version == 1:  # a journal written before resends were counted
                    conn.execute(
                        "ALTER TABLE entries ADD COLUMN resends INTEGER NOT NULL DEFAULT 0"
                    )
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except BaseException:
            self.conn = None
            conn.close()
            raise

    def close(self) -> None:
        self._stop = True
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()  # the last connection checkpoints the WAL and removes it

    # -- the thread

    def _run(self) -> None:
        carry: _Op | None = None
        try:
            while not self._stop:
                op = carry if carry is not None else self.queue.get()
                carry = None
                if op is None:
                    break
                if op.alone is not None:
                    self._run_alone(op, op.alone)
                    continue
                batch = [op]
                while len(batch) < _MAX_BATCH:
                    try:
                        nxt = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        self._stop = True
                        break
                    if nxt.alone is not None:
                        carry = nxt
                        break
                    batch.append(nxt)
                self._run_batch(batch)
        finally:
            self.dead = True
            with contextlib.suppress(sqlite3.Error):
                self.close()
            leftovers = [carry] if carry is not None else []
            while True:
                try:
                    left = self.queue.get_nowait()
                except queue.Empty:
                    break
                if left is not None:
                    leftovers.append(left)
            for left in leftovers:
                _deliver(left, False, JournalError("journal is closed"))

    def _set_sync(self, durable: bool) -> None:
        want = "FULL" if durable else "NORMAL"
        if self.conn is not None and not self.memory and want != self._sync:
            self.conn.execute(f"PRAGMA synchronous = {want}")
            self._sync = want

    def _run_alone(self, op: _Op, fn: Callable[[], Any]) -> None:
        try:
            value = fn()
        except Exception as exc:
            _deliver(op, False, _wrap(exc, self.path))
        else:
            _deliver(op, True, value)

    def _run_batch(self, batch: list[_Op]) -> None:
        conn = self.conn
        if conn is None:
            for op in batch:
                _deliver(op, False, JournalError("journal is not open"))
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            self._set_sync(any(op.durable for op in batch))
            conn.execute("BEGIN IMMEDIATE")
            try:
                for op in batch:
                    assert op.fn is not None
                    conn.execute("SAVEPOINT op")
                    try:
                        value = op.fn(conn)
                    except Exception as exc:
                        if not conn.in_transaction:  # SQLite gave up the whole transaction
                            raise
                        # Undo this operation only; a failing ROLLBACK TO fails the batch.
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        outcomes.append((False, exc))
                    else:
                        conn.execute("RELEASE op")
                        outcomes.append((True, value))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except Exception as exc:
            for op in batch:
                _deliver(op, False, _wrap(exc, self.path))
            return
        for op, (ok, value) in zip(batch, outcomes, strict=True):
            _deliver(op, ok, value if ok else _wrap(value, self.path))


class SqliteStore:
    """The journal in one SQLite file (or ``":memory:"``), used by one process at a time.

    Example::

        async with Journal(SqliteStore("jobs.sqlite", timeout=1.0)) as journal:
            ...
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._worker: _Worker | None = None

    @property
    def name(self) -> str:
        """The database file, or ``":memory:"``."""
        return self.path

    @property
    def memory(self) -> bool:
        """True for an in-memory journal (nothing is kept after close)."""
        return self.path == MEMORY

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path!r}>"

    async def open(self) -> None:
        worker = _Worker(self.path, self.timeout)
        self._worker = worker
        worker.thread.start()
        try:
            await self._call_alone(worker.connect)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        worker = self._worker
        if worker is None:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        if worker.dead:
            fut.set_result(None)
        else:
            worker.submit(_Op(None, loop, fut, alone=worker.close))
        try:
            await fut
        finally:
            worker.thread.join()  # it exits right after delivering the close

    def abandon(self) -> None:
        if self._worker is not None:
            self._worker.stop_nowait()

    def _submit(self, op_of: Callable[[asyncio.Future[Any]], _Op]) -> asyncio.Future[Any]:
        worker = self._worker
        if worker is None or worker.dead:
            raise JournalError("journal is closed")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.submit(op_of(fut))
        return fut

    async def _call(self, fn: Callable[[sqlite3.Connection], _T], *, durable: bool = False) -> _T:
        loop = asyncio.get_running_loop()
        result: _T = await self._submit(lambda f: _Op(fn, loop, f, durable=durable))
        return result

    async def _call_alone(self, fn: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        result: _T = await self._submit(lambda f: _Op(None, loop, f, alone=fn))
        return result

    async def get_many(self, keys: Sequence[str]) -> dict[str, JournalEntry]:
        def fn(conn: sqlite3.Connection) -> dict[str, JournalEntry]:
            found: dict[str, JournalEntry] = {}
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for row in conn.execute(f"{_SELECT} WHERE key IN ({marks})", chunk):
                    found[row[0]] = JournalEntry.from_row(row)
            return found

        return await self._call(fn)

    async def entries(self, state: JournalState | None) -> list[JournalEntry]:
        params: tuple[str, ...] = ()
        if state is None:
            query = f"{_SELECT} ORDER BY seq"
        else:
            query, params = f"{_SELECT} WHERE state = ? ORDER BY seq", (state.value,)
        return await self._call(
            lambda conn: [JournalEntry.from_row(r) for r in conn.execute(query, params)]
        )

    async def summary(self) -> dict[JournalState, int]:
        def fn(conn: sqlite3.Connection) -> dict[JournalState, int]:
            counts = dict.fromkeys(JournalState, 0)
            for state, n in conn.execute("SELECT state, count(*) FROM entries GROUP BY state"):
                counts[JournalState(state)] = n
            return counts

        return await self._call(fn)

    async def add_pending(self, rows: Sequence[tuple[str, str, str]], now: float) -> int:
        return await self._call(lambda conn: _insert_pending(conn, rows, now))

    async def transition(
        self, key: str, name: str, args: Mapping[str, Any], now: float
    ) -> JournalEntry:
        return await self._call(
            lambda conn: _apply(conn, key, name, args, now), durable=TRANSITIONS[name].durable
        )

    async def recover(self) -> list[JournalEntry]:
        """Move every SENDING entry to UNKNOWN: with the file locked, no writer is alive."""

        def fn(conn: sqlite3.Connection) -> list[JournalEntry]:
            now = time.time()
            keys = [k for (k,) in conn.execute("SELECT key FROM entries WHERE state = 'sending'")]
            return [_apply(conn, key, "recover", RECOVER_ARGS, now) for key in keys]

        return await self._call(fn)
