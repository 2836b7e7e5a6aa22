"""A durable journal of paid submissions: a crash must never pay for the same video twice.

A job runner records every request here *before* it spends money, and records what it learned
as soon as it learns it. After a crash (even ``SIGKILL``) the runner reopens the journal and
knows, for every request, whether it may submit it, must resume polling it, or must leave it
alone.

States and transitions (:class:`JournalState`)::

    (absent) ──mark_pending──► PENDING ──mark_sending──► SENDING ──mark_submitted──► SUBMITTED
                                  ▲                        │  │  │                    │  │
                                  └─────mark_not_sent──────┘  │  │ mark_unknown       │  │
                                   (nothing was created)      │  ▼ / recover()        │  │
                                                              │ UNKNOWN ─mark_submitted┘  │
                                                              │                           │
                              mark_failed (from any non-terminal state) ──► FAILED        │
                                                                SUCCEEDED ◄─mark_succeeded┘
    requeue(): UNKNOWN or FAILED ──► PENDING   (an explicit operator decision, never automatic)

What a runner does with each state when it resumes:

============  ==================================================================
PENDING       nothing was ever sent: safe to submit (``mark_sending`` first)
SENDING       only exists while the writing process lives; at :meth:`Journal.open`
              leftovers are moved to UNKNOWN (see :meth:`Journal.recover`)
SUBMITTED     a video id is known: resume polling it, never submit again
SUCCEEDED     done: report the stored result
FAILED        done: report the stored error
UNKNOWN       the request may or may not have been created: report it, never resubmit
============  ==================================================================

Durability: the database is SQLite in WAL mode. ``mark_sending`` and ``mark_submitted`` are the
crash-safety points: they commit with ``synchronous=FULL`` (the WAL is fsynced), so once they
return the transition survives a killed process and a power cut. Every other write commits with
``synchronous=NORMAL`` (survives a killed process; after a power cut it may be lost, which only
ever moves an entry back to a state that is handled more cautiously). Writes from concurrent
coroutines are grouped into one transaction and one fsync (group commit).

One process at a time: the connection holds an exclusive lock for as long as the journal is
open; a second :class:`Journal` on the same file, in this or another process, waits ``timeout``
seconds and then raises :class:`JournalLockedError`. The lock dies with the process.

All database work runs on one dedicated thread that owns the ``sqlite3`` connection; the event
loop only waits on futures.

Example::

    async with Journal("jobs.sqlite") as journal:
        key = request_key("text_to_video", body)
        entry = await journal.mark_pending(key, "text_to_video", body)
        if entry.state is JournalState.PENDING:
            await journal.mark_sending(key, trace_id)      # on disk before the HTTP call
            video_id = await submit(body, trace_id)
            await journal.mark_submitted(key, video_id, credits=None)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from .errors import PixVerseError

__all__ = [
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalLockedError",
    "JournalState",
    "JournalStateError",
    "request_key",
]

_T = TypeVar("_T")

logger = logging.getLogger("pixverse_async")

MEMORY: Final = ":memory:"
_SCHEMA_VERSION: Final = 1
_MAX_BATCH: Final = 1024  # operations grouped into one transaction
_CHUNK: Final = 500  # keys per "IN (...)" query, below every SQLite variable limit
_KEY_DOMAIN: Final = "pixverse-async/journal/v1"


# ----------------------------------------------------------------------------------------------
# Public values


class JournalState(str, enum.Enum):
    """Where a request stands. See the module docstring for the transitions."""

    PENDING = "pending"
    """Recorded, nothing sent yet: safe to submit."""
    SENDING = "sending"
    """About to be sent or being sent. Found after a crash, it is ambiguous (see ``recover``)."""
    SUBMITTED = "submitted"
    """The service accepted it and gave a video id: poll, never submit again."""
    SUCCEEDED = "succeeded"
    """Terminal: the video is ready; ``result`` holds the final status JSON."""
    FAILED = "failed"
    """Terminal: rejected or failed (moderation, validation, generation failure)."""
    UNKNOWN = "unknown"
    """Sent, but whether a video was created is unknown: never resubmitted automatically."""

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED and FAILED."""
        return self in (JournalState.SUCCEEDED, JournalState.FAILED)

    @property
    def is_ambiguous(self) -> bool:
        """True for SENDING and UNKNOWN: a request that may have been paid for, with no id."""
        return self in (JournalState.SENDING, JournalState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled request, as stored. Times are seconds since the epoch."""

    key: str
    kind: str
    body: dict[str, Any] = field(hash=False)
    state: JournalState
    attempts: int
    """How many times ``mark_sending`` was recorded for it."""
    trace_id: str | None
    video_id: int | None
    credits: int | None
    url: str | None
    result: dict[str, Any] | None = field(hash=False)
    error_type: str | None
    error_message: str | None
    created_at: float
    updated_at: float

    @property
    def is_terminal(self) -> bool:
        """True when the request is finished (SUCCEEDED or FAILED)."""
        return self.state.is_terminal

    @property
    def needs_attention(self) -> bool:
        """True when a person must decide (SENDING or UNKNOWN): it may have been paid for."""
        return self.state.is_ambiguous


class JournalError(PixVerseError):
    """The journal could not do what was asked (database error, closed journal, bad data)."""


class JournalLockedError(JournalError):
    """Another :class:`Journal` (in this or another process) has the file open."""


class JournalStateError(JournalError):
    """A transition that the state machine forbids, e.g. ``mark_sending`` on a SUBMITTED entry.

    ``state`` is the entry's current state, or None when the key is not in the journal.
    """

    def __init__(self, key: str, state: JournalState | None, target: JournalState) -> None:
        self.key = key
        self.state = state
        self.target = target
        where = "it is not in the journal" if state is None else f"it is {state.value}"
        super().__init__(f"cannot mark {key} as {target.value}: {where}")


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
    payload = _canonical([_KEY_DOMAIN, kind, dict(body), occurrence])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


# ----------------------------------------------------------------------------------------------
# SQL

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
    updated_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_state ON entries (state);
"""

_COLUMNS: Final = (
    "key, kind, body, state, attempts, trace_id, video_id, credits, url, result,"
    " error_type, error_message, created_at, updated_at"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM entries"

_S = JournalState
_NOT_TERMINAL: Final = (_S.PENDING, _S.SENDING, _S.SUBMITTED, _S.UNKNOWN)


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    result = row[9]
    return JournalEntry(
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
    )


def _select_one(conn: sqlite3.Connection, key: str) -> JournalEntry | None:
    row = conn.execute(f"{_SELECT} WHERE key = ?", (key,)).fetchone()
    return None if row is None else _entry(row)


def _update(
    conn: sqlite3.Connection,
    key: str,
    target: JournalState,
    allowed: tuple[JournalState, ...],
    assignments: str,
    params: tuple[Any, ...],
    *,
    same: Callable[[JournalEntry], bool] | None = None,
) -> JournalEntry:
    """Move ``key`` to ``target`` if it is in an ``allowed`` state, atomically.

    ``same`` recognises a repeat of a transition that already happened (idempotent calls).
    """
    marks = ", ".join("?" * len(allowed))
    cur = conn.execute(
        f"UPDATE entries SET state = ?, updated_at = ?{assignments}"
        f" WHERE key = ? AND state IN ({marks})",
        (target.value, time.time(), *params, key, *(s.value for s in allowed)),
    )
    entry = _select_one(conn, key)
    if cur.rowcount == 1 and entry is not None:
        return entry
    if entry is not None and same is not None and same(entry):
        return entry
    raise JournalStateError(key, None if entry is None else entry.state, target)


# ----------------------------------------------------------------------------------------------
# The worker thread


@dataclass(slots=True)
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


async def _wait_through_cancellation(fut: asyncio.Future[_T]) -> _T:
    """Await ``fut``; if cancelled, still wait for it, then re-raise the cancellation.

    A journal write that was queued is never abandoned half-way: when a ``mark_*`` call
    returns *or* raises ``CancelledError``, the operation has finished (written or failed).
    """
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        while not fut.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait((fut,))
        if not fut.cancelled():
            fut.exception()  # retrieved: no "exception was never retrieved" noise
        raise


# ----------------------------------------------------------------------------------------------
# The journal


class Journal:
    """A durable record of requests and what became of them, in one SQLite file.

    Open it with ``async with Journal(path) as journal`` or ``journal = await
    Journal.open(path)`` (then ``await journal.close()``). ``Journal.memory()`` keeps
    everything in memory (no durability, same API). Only one ``Journal`` may have a file
    open at a time (:class:`JournalLockedError` otherwise; ``timeout`` is how long to wait).

    Opening a file runs :meth:`recover` unless ``recover=False``: entries left in SENDING by a
    process that died become UNKNOWN; they are kept in :attr:`recovered`.

    Every ``mark_*`` method checks the transition against the state machine (see the module
    docstring) and raises :class:`JournalStateError` when it is not allowed, so a bug cannot
    turn a SUBMITTED request back into one that gets sent again; such a refused call writes
    nothing. (After a disk I/O error a failed write may still reappear after a restart: that
    only ever moves an entry towards the more cautious state.) Cancelling a call waits for its
    write to finish, then propagates the cancellation.

    Example::

        async with Journal("batch.sqlite") as journal:
            await journal.mark_pending_many([(key, "text_to_video", body) for key, body in todo])
            entries = await journal.get_many(key for key, _ in todo)
            print(await journal.summary())
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 5.0, recover: bool = True
    ) -> None:
        self._path = os.fspath(path)
        self._timeout = timeout
        self._recover_on_open = recover
        self._worker: _Worker | None = None
        self._closed = False
        self._close_future: asyncio.Future[None] | None = None
        #: Entries that :meth:`recover` moved from SENDING to UNKNOWN when the journal opened.
        self.recovered: tuple[JournalEntry, ...] = ()

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, timeout: float = 5.0, recover: bool = True
    ) -> Journal:
        """Open (creating if needed) the journal at ``path``; ``":memory:"`` for none.

        Example::

            journal = await Journal.open("jobs.sqlite")
            try:
                ...
            finally:
                await journal.close()
        """
        journal = cls(path, timeout=timeout, recover=recover)
        await journal._start()
        return journal

    @classmethod
    def memory(cls) -> Journal:
        """An unopened in-memory journal: ``async with Journal.memory() as journal: ...``."""
        return cls(MEMORY)

    @property
    def path(self) -> str:
        """The database file, or ``":memory:"``."""
        return self._path

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._worker else "unopened"
        return f"<Journal {self._path!r} {state}>"

    async def __aenter__(self) -> Journal:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _start(self) -> None:
        if self._closed:
            raise JournalError("journal is closed")
        if self._worker is not None:
            raise JournalError("journal is already open")
        worker = _Worker(self._path, self._timeout)
        self._worker = worker
        worker.thread.start()
        try:
            await self._call_alone(worker.connect)
            if self._recover_on_open and not worker.memory:
                self.recovered = tuple(await self.recover())
                if self.recovered:
                    logger.warning(
                        "journal %s: %d request(s) were being sent when the last process"
                        " stopped; marked unknown, not resubmitted",
                        self._path,
                        len(self.recovered),
                    )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the database and stop the worker thread. Safe to call more than once."""
        if self._close_future is not None:
            await asyncio.shield(self._close_future)
            return
        self._closed = True
        worker = self._worker
        if worker is None:
            return
        loop = asyncio.get_running_loop()
        self._close_future = fut = loop.create_future()
        if worker.dead:
            fut.set_result(None)
        else:
            worker.submit(_Op(None, loop, fut, alone=worker.close))
        try:
            await _wait_through_cancellation(fut)
        finally:
            worker.thread.join()  # it exits right after delivering the close

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        worker = getattr(self, "_worker", None)
        if worker is not None and not self._closed:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=1)
            self._closed = True
            worker.stop_nowait()

    def _submit(self, op_of: Callable[[asyncio.Future[Any]], _Op]) -> asyncio.Future[Any]:
        worker = self._worker
        if worker is None:
            raise JournalError("journal is not open (use 'async with' or Journal.open)")
        if self._closed or worker.dead:
            raise JournalError("journal is closed")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.submit(op_of(fut))
        return fut

    async def _call(self, fn: Callable[[sqlite3.Connection], _T], *, durable: bool = False) -> _T:
        loop = asyncio.get_running_loop()
        fut = self._submit(lambda f: _Op(fn, loop, f, durable=durable))
        result: _T = await _wait_through_cancellation(fut)
        return result

    async def _call_alone(self, fn: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        fut = self._submit(lambda f: _Op(None, loop, f, alone=fn))
        result: _T = await _wait_through_cancellation(fut)
        return result

    # -- reading

    async def get(self, key: str) -> JournalEntry | None:
        """The entry for ``key``, or None.

        Example::

            entry = await journal.get(key)
            if entry is not None and entry.state is JournalState.SUBMITTED:
                resume_polling(entry.video_id)
        """
        return await self._call(lambda conn: _select_one(conn, key))

    async def get_many(self, keys: Iterable[str]) -> dict[str, JournalEntry]:
        """The entries of the given keys that exist, by key, in a few batched queries.

        Example::

            known = await journal.get_many(all_keys)
            todo = [k for k in all_keys if k not in known or known[k].state is JournalState.PENDING]
        """
        wanted = list(dict.fromkeys(keys))

        def fn(conn: sqlite3.Connection) -> dict[str, JournalEntry]:
            found: dict[str, JournalEntry] = {}
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for row in conn.execute(f"{_SELECT} WHERE key IN ({marks})", chunk):
                    found[row[0]] = _entry(row)
            return found

        return await self._call(fn)

    async def entries(self, state: JournalState | str | None = None) -> list[JournalEntry]:
        """All entries in the order they were first recorded, optionally only one state.

        Example::

            for entry in await journal.entries(JournalState.UNKNOWN):
                print("check by hand:", entry.key, entry.trace_id, entry.error_message)
        """
        if state is None:
            return await self._call(
                lambda conn: [_entry(r) for r in conn.execute(f"{_SELECT} ORDER BY seq")]
            )
        value = JournalState(state).value
        return await self._call(
            lambda conn: [
                _entry(r) for r in conn.execute(f"{_SELECT} WHERE state = ? ORDER BY seq", (value,))
            ]
        )

    async def summary(self) -> dict[JournalState, int]:
        """How many entries are in each state (every state present, zeros included).

        Example::

            counts = await journal.summary()
            print(counts[JournalState.SUCCEEDED], "done")
        """

        def fn(conn: sqlite3.Connection) -> dict[JournalState, int]:
            counts = dict.fromkeys(JournalState, 0)
            for state, n in conn.execute("SELECT state, count(*) FROM entries GROUP BY state"):
                counts[JournalState(state)] = n
            return counts

        return await self._call(fn)

    # -- recording

    async def mark_pending(self, key: str, kind: str, body: Mapping[str, Any]) -> JournalEntry:
        """Record a request as PENDING if ``key`` is new; return the stored entry either way.

        An existing entry keeps its state (that is how a rerun finds its progress). If it was
        recorded with a different ``kind`` or ``body``, :class:`JournalError` is raised.

        Example::

            entry = await journal.mark_pending(key, "text_to_video", body)
            if entry.state is JournalState.PENDING:
                ...  # safe to submit
        """
        body_json = _canonical(dict(body))

        def fn(conn: sqlite3.Connection) -> JournalEntry:
            _insert_pending(conn, [(key, kind, body_json)], time.time())
            entry = _select_one(conn, key)
            assert entry is not None
            return entry

        return await self._call(fn)

    async def mark_pending_many(self, items: Iterable[tuple[str, str, Mapping[str, Any]]]) -> int:
        """:meth:`mark_pending` for many ``(key, kind, body)`` in one transaction.

        Returns how many keys were new. All or nothing: a conflicting item raises
        :class:`JournalError` and records none of them.

        Example::

            new = await journal.mark_pending_many(
                (request_key("text_to_video", b), "text_to_video", b) for b in bodies)
        """
        rows = [(key, kind, dict(body)) for key, kind, body in items]

        def fn(conn: sqlite3.Connection) -> int:
            encoded = [(key, kind, _canonical(body)) for key, kind, body in rows]
            return _insert_pending(conn, encoded, time.time())

        return await self._call(fn)

    async def mark_sending(self, key: str, trace_id: str) -> JournalEntry:
        """PENDING → SENDING, on disk before it returns. Call it right before the HTTP submit.

        If it raises, do not send. Once it returns, a crash before :meth:`mark_submitted` (or
        :meth:`mark_not_sent`, :meth:`mark_failed`, :meth:`mark_unknown`) leaves the request
        SENDING, which the next :meth:`open` turns into UNKNOWN: never sent twice.

        Example::

            await journal.mark_sending(key, trace_id)
            resp = await client.videos.text_to_video(..., trace_id=trace_id)
        """
        return await self._call(
            lambda conn: _update(
                conn,
                key,
                _S.SENDING,
                (_S.PENDING,),
                ", trace_id = ?, attempts = attempts + 1, error_type = NULL, error_message = NULL",
                (trace_id,),
            ),
            durable=True,
        )

    async def mark_submitted(
        self, key: str, video_id: int, credits: int | None = None
    ) -> JournalEntry:
        """SENDING (or UNKNOWN, if the id was found later) → SUBMITTED, on disk before it returns.

        Repeating it with the same ``video_id`` is a no-op.

        Example::

            await journal.mark_submitted(key, resp.video_id, credits=resp.credits)
        """
        return await self._call(
            lambda conn: _update(
                conn,
                key,
                _S.SUBMITTED,
                (_S.SENDING, _S.UNKNOWN),
                ", video_id = ?, credits = ?, error_type = NULL, error_message = NULL",
                (video_id, credits),
                same=lambda e: e.state is _S.SUBMITTED and e.video_id == video_id,
            ),
            durable=True,
        )

    async def mark_not_sent(
        self, key: str, error_type: str | None = None, message: str | None = None
    ) -> JournalEntry:
        """SENDING → PENDING: the service answered that nothing was created.

        Use it only for a definite answer that no video exists, e.g. a concurrency-limit or
        rate-limit error, or a connection that failed before any byte was sent. The reason is
        kept in ``error_type``/``error_message`` until the next attempt.

        Example::

            except ConcurrencyLimitError as exc:
                await journal.mark_not_sent(key, type(exc).__name__, str(exc))
        """
        return await self._call(
            lambda conn: _update(
                conn,
                key,
                _S.PENDING,
                (_S.SENDING,),
                ", error_type = ?, error_message = ?",
                (error_type, message),
            )
        )

    async def mark_succeeded(
        self, key: str, video_json: Mapping[str, Any], url: str | None = None
    ) -> JournalEntry:
        """SUBMITTED → SUCCEEDED with the final status JSON; ``url`` defaults to its ``"url"``.

        Example::

            await journal.mark_succeeded(key, {"id": video_id, "status": 1, "url": url})
        """
        result_json = _canonical(dict(video_json))
        if url is None:
            found = video_json.get("url")
            url = found if isinstance(found, str) else None
        return await self._call(
            lambda conn: _update(
                conn,
                key,
                _S.SUCCEEDED,
                (_S.SUBMITTED, _S.SUCCEEDED),
                ", result = ?, url = ?, error_type = NULL, error_message = NULL",
                (result_json, url),
            )
        )

    async def mark_failed(self, key: str, error_type: str, message: str) -> JournalEntry:
        """Any non-terminal state (or FAILED again) → FAILED: terminal, never retried.

        For definite failures: validation or moderation rejections, a generation that ended
        failed or moderated. ``error_type`` is usually the exception class name.

        Example::

            except ContentModerationError as exc:
                await journal.mark_failed(key, type(exc).__name__, str(exc))
        """
        return await self._call(
            lambda conn: _update(
                conn,
                key,
                _S.FAILED,
                (*_NOT_TERMINAL, _S.FAILED),
                ", error_type = ?, error_message = ?",
                (error_type, message),
            )
        )

    async def mark_unknown(
        self,
        key: str,
        trace_id: str | None,
        message: str,
        error_type: str = "SubmissionUnknownError",
    ) -> JournalEntry:
        """SENDING → UNKNOWN: the submit may have created a video but no id came back.

        The entry is never resubmitted automatically; a person checks (by ``trace_id``) and
        then calls :meth:`mark_submitted` with the id found, or :meth:`requeue`. A ``None``
        ``trace_id`` keeps the one recorded by :meth:`mark_sending`.

        Example::

            except SubmissionUnknownError as exc:
                await journal.mark_unknown(key, exc.trace_id, str(exc))
        """
        return await self._call(
            lambda conn: _update(
                conn,
                key,
                _S.UNKNOWN,
                (_S.SENDING, _S.UNKNOWN),
                ", trace_id = coalesce(?, trace_id), error_type = ?, error_message = ?",
                (trace_id, error_type, message),
            )
        )

    async def requeue(self, key: str) -> JournalEntry:
        """UNKNOWN or FAILED → PENDING, clearing the outcome: an explicit decision to pay again.

        Never called by the SDK itself. Use it after checking that an UNKNOWN request created
        no video, or to retry a FAILED one.

        Example::

            await journal.requeue(key)   # the next run submits it again
        """
        return await self._call(
            lambda conn: _update(
                conn,
                key,
                _S.PENDING,
                (_S.UNKNOWN, _S.FAILED),
                ", trace_id = NULL, video_id = NULL, credits = NULL, url = NULL,"
                " result = NULL, error_type = NULL, error_message = NULL",
                (),
            )
        )

    async def recover(self) -> list[JournalEntry]:
        """Move every SENDING entry to UNKNOWN and return them (after the move).

        A SENDING entry seen when no process is using the journal means the writer died
        between sending a submit and recording its answer: the video may exist. :meth:`open`
        calls this for you (the exclusive lock guarantees no live writer), so a runner never
        sees SENDING at startup. Call it yourself after opening with ``recover=False``, and
        only while nothing is being sent through this journal.

        Example::

            journal = await Journal.open("jobs.sqlite", recover=False)
            for entry in await journal.recover():
                print("may have been paid for:", entry.key, entry.trace_id)
        """

        def fn(conn: sqlite3.Connection) -> list[JournalEntry]:
            keys = [k for (k,) in conn.execute("SELECT key FROM entries WHERE state = 'sending'")]
            recovered = []
            for key in keys:
                recovered.append(
                    _update(
                        conn,
                        key,
                        _S.UNKNOWN,
                        (_S.SENDING,),
                        ", error_type = ?, error_message = ?",
                        (
                            "Interrupted",
                            "the process stopped after mark_sending and before the answer was"
                            " recorded: the request may have been created (see trace_id)",
                        ),
                    )
                )
            return recovered

        return await self._call(fn)


def _insert_pending(conn: sqlite3.Connection, rows: list[tuple[str, str, str]], now: float) -> int:
    """Insert new keys as PENDING; check that existing ones hold the same request."""
    wanted: dict[str, tuple[str, str]] = {}
    for key, kind, body in rows:
        if wanted.setdefault(key, (kind, body)) != (kind, body):
            raise JournalError(f"key {key} is given twice with different requests")
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
                    raise JournalError(
                        f"key {key} is already recorded for a different request"
                        f" ({kind} {body[:80]})"
                    )
    return inserted
