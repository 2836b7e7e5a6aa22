"""The journal: a durable record of paid submissions, so a crash never pays for a video twice.

A job runner records every request here *before* it spends money, and records what it learned
as soon as it learns it. After a crash (even ``SIGKILL``) the runner reopens the journal and
knows, for every request, whether it may submit it, must resume polling it, or must leave it
alone. The states and transitions are in :mod:`pixverse_async.journal.states`.

What a runner does with each state when it resumes:

============  ==================================================================
PENDING       nothing was ever sent: safe to submit (``mark_sending`` first)
SENDING       only exists while its writer lives; when the journal opens,
              leftovers of writers that are gone become UNKNOWN (:meth:`Journal.recover`)
SUBMITTED     a video id is known: resume polling it, never submit again
SUCCEEDED     done: report the stored result
FAILED        done: report the stored error
UNKNOWN       the request may or may not have been created: report it, never resubmit
============  ==================================================================

:class:`Journal` is the same for every store; :func:`store_for` picks the store: a path is a
SQLite file (:mod:`~pixverse_async.journal.sqlite`), a ``postgresql://`` URL a PostgreSQL
database (:mod:`~pixverse_async.journal.postgres`, ``pip install 'pixverse-async[postgres]'``).

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
import inspect
import logging
import os
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

from .entry import JournalEntry, canonical
from .errors import JournalError, JournalStateError
from .postgres import PostgresStore
from .sqlite import MEMORY, SqliteStore
from .states import JournalState
from .store import JournalStore

__all__ = ["Journal", "is_postgres_url", "store_for"]

_T = TypeVar("_T")
_R = TypeVar("_R")
_P = ParamSpec("_P")

logger = logging.getLogger("pixverse_async")

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target: object) -> bool:
    """True if ``target`` is a ``postgresql://`` (or ``postgres://``) URL.

    Example::

        >>> is_postgres_url("postgresql://db.internal/jobs"), is_postgres_url("jobs.sqlite")
        (True, False)
    """
    return isinstance(target, str) and target.lower().startswith(_POSTGRES_SCHEMES)


def store_for(
    target: str | os.PathLike[str] | JournalStore,
    *,
    timeout: float = 5.0,
    batch: str | None = None,
    schema: str | None = None,
    account: str | None = None,
    lease: float | None = None,
) -> JournalStore:
    """The store for ``target``: a store as it is, a ``postgresql://`` URL, or a SQLite path.

    ``batch``, ``schema``, ``account`` and ``lease`` are PostgreSQL options (see
    :class:`~pixverse_async.journal.postgres.PostgresStore`); giving one with a path raises
    :class:`JournalError`. ``timeout`` is how long to wait for the SQLite lock or for a
    PostgreSQL connection.

    Example::

        >>> store_for("jobs.sqlite")
        <SqliteStore 'jobs.sqlite'>
        >>> store_for("postgresql://postgres@127.0.0.1/test", batch="nightly").batch
        'nightly'
    """
    postgres_options = {"batch": batch, "schema": schema, "account": account, "lease": lease}
    if not isinstance(target, (str, os.PathLike)):
        given = [name for name, value in postgres_options.items() if value is not None]
        if given:
            raise JournalError(f"{given[0]}= applies to a URL or path, not to a store object")
        return target
    if is_postgres_url(target):
        options = {k: v for k, v in postgres_options.items() if v is not None}
        return PostgresStore(str(target), connect_timeout=timeout, **options)  # type: ignore[arg-type]
    for name, value in postgres_options.items():
        if value is not None:
            raise JournalError(
                f"{name}= needs a PostgreSQL journal (a postgresql:// URL), not the SQLite"
                f" file {os.fspath(target)!r}"
            )
    return SqliteStore(target, timeout=timeout)


async def _wait_through_cancellation(fut: asyncio.Future[_T]) -> _T:
    """Await ``fut``; if cancelled, still wait for it, then re-raise the cancellation.

    A journal write that was started is never abandoned half-way: when a ``mark_*`` call
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


def _takes_arguments_of(
    init: Callable[Concatenate[Any, _P], None],
) -> Callable[[Callable[..., _R]], Callable[Concatenate[Any, _P], _R]]:
    """Give a method that passes its arguments on to ``cls(...)`` the parameters of ``init``,
    for type checkers and for ``help()`` / :func:`inspect.signature`: one list of parameters
    serves both ``Journal(...)`` and ``Journal.open(...)``."""

    def decorate(method: Callable[..., _R]) -> Callable[Concatenate[Any, _P], _R]:
        returns = inspect.signature(method).return_annotation
        method.__signature__ = inspect.signature(init).replace(  # type: ignore[attr-defined]
            return_annotation=returns
        )
        return method

    return decorate


def succeeded_args(video_json: Mapping[str, Any], url: str | None = None) -> dict[str, Any]:
    """The columns ``succeeded`` sets: the final status JSON, and ``url`` (by default its
    ``"url"``)."""
    if url is None:
        found = video_json.get("url")
        url = found if isinstance(found, str) else None
    return {"result": canonical(dict(video_json)), "url": url}


class Journal:
    """A durable record of requests and what became of them, in a SQLite file or PostgreSQL.

    Open it with ``async with Journal(target) as journal`` or ``journal = await
    Journal.open(target)`` (then ``await journal.close()``). ``target`` is a SQLite path,
    ``":memory:"`` (nothing kept, same API; also ``Journal.memory()``), a ``postgresql://`` URL
    or a store (see :func:`store_for`). Only one ``Journal`` may have a SQLite file open at a
    time (:class:`JournalLockedError` otherwise; ``timeout`` is how long to wait); any number
    of processes may share a PostgreSQL database.

    Opening runs :meth:`recover` unless ``recover=False``: entries left in SENDING by a writer
    that is gone become UNKNOWN; they are kept in :attr:`recovered`.

    Every ``mark_*`` method checks the transition against the state machine and raises
    :class:`JournalStateError` when it is not allowed, so a bug cannot turn a SUBMITTED request
    back into one that gets sent again; such a refused call writes nothing. (After a disk I/O
    error a failed write may still reappear after a restart: that only ever moves an entry
    towards the more cautious state.) Cancelling a call waits for its write to finish, then
    propagates the cancellation; :meth:`close` waits for the calls under way.

    Example::

        async with Journal("batch.sqlite") as journal:
            await journal.mark_pending_many([(key, "text_to_video", body) for key, body in todo])
            entries = await journal.get_many(key for key, _ in todo)
            print(await journal.summary())
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | JournalStore,
        *,
        timeout: float = 5.0,
        recover: bool = True,
        batch: str | None = None,
        schema: str | None = None,
        account: str | None = None,
        lease: float | None = None,
    ) -> None:
        self._store = store_for(
            target, timeout=timeout, batch=batch, schema=schema, account=account, lease=lease
        )
        self._recover_on_open = recover
        self._state = "unopened"
        self._calls: set[asyncio.Future[Any]] = set()
        self._close_future: asyncio.Future[None] | None = None
        #: Entries that :meth:`recover` moved from SENDING to UNKNOWN when the journal opened.
        self.recovered: tuple[JournalEntry, ...] = ()

    @classmethod
    @_takes_arguments_of(__init__)
    async def open(cls, *args: Any, **kwargs: Any) -> Journal:
        """Open (creating if needed) the journal at ``target``; ``":memory:"`` for none.

        Takes the arguments of ``Journal(...)``, typed as they are there.

        Example::

            journal = await Journal.open("jobs.sqlite")
            try:
                ...
            finally:
                await journal.close()
        """
        journal = cls(*args, **kwargs)
        await journal._start()
        return journal

    @classmethod
    def memory(cls) -> Journal:
        """An unopened in-memory journal: ``async with Journal.memory() as journal: ...``."""
        return cls(MEMORY)

    @property
    def store(self) -> JournalStore:
        """The store underneath (:class:`SqliteStore` or :class:`PostgresStore`)."""
        return self._store

    @property
    def postgres(self) -> PostgresStore | None:
        """The PostgreSQL store with its multi-worker API, or None on SQLite.

        Example::

            if journal.postgres is not None:
                claimed = await journal.postgres.claim(10)
        """
        return self._store if isinstance(self._store, PostgresStore) else None

    @property
    def path(self) -> str:
        """The database file, ``":memory:"``, or the PostgreSQL URL without its password."""
        return self._store.name

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._state == "closed"

    def __repr__(self) -> str:
        return f"<Journal {self.path!r} {self._state}>"

    async def __aenter__(self) -> Journal:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _start(self) -> None:
        if self._state == "closed":
            raise JournalError("journal is closed")
        if self._state != "unopened":
            raise JournalError("journal is already open")
        self._state = "opening"
        try:
            await self._store.open()
            self._state = "open"
            if self._recover_on_open and self.path != MEMORY:
                self.recovered = tuple(await self.recover())
                if self.recovered:
                    logger.warning(
                        "journal %s: %d request(s) were being sent when their writer stopped;"
                        " marked unknown, not resubmitted",
                        self.path,
                        len(self.recovered),
                    )
        except BaseException:
            self._state = "closed"
            self._close_future = asyncio.get_running_loop().create_future()
            self._close_future.set_result(None)
            with contextlib.suppress(Exception):
                await self._store.close()
            raise

    async def close(self) -> None:
        """Wait for the calls under way, then close the store. Safe to call more than once."""
        if self._close_future is not None:
            await asyncio.shield(self._close_future)
            return
        opened = self._state in ("open", "opening")
        self._state = "closed"
        loop = asyncio.get_running_loop()
        self._close_future = fut = loop.create_future()

        async def finish() -> None:
            try:
                if self._calls:
                    await asyncio.wait(self._calls)
                if opened:
                    await self._store.close()
            finally:
                fut.set_result(None)

        await _wait_through_cancellation(asyncio.ensure_future(finish()))

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_state", None) == "open":
            _warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=1)
            self._state = "closed"
            self._store.abandon()

    async def _run(self, call: Callable[[], Awaitable[_T]]) -> _T:
        if self._state == "closed":
            raise JournalError("journal is closed")
        if self._state == "unopened":
            raise JournalError("journal is not open (use 'async with' or Journal.open)")
        task: asyncio.Future[_T] = asyncio.ensure_future(call())
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return await _wait_through_cancellation(task)

    # -- reading

    async def get(self, key: str) -> JournalEntry | None:
        """The entry for ``key``, or None.

        Example::

            entry = await journal.get(key)
            if entry is not None and entry.state is JournalState.SUBMITTED:
                resume_polling(entry.video_id)
        """
        found = await self._run(lambda: self._store.get_many([key]))
        return found.get(key)

    async def get_many(self, keys: Iterable[str]) -> dict[str, JournalEntry]:
        """The entries of the given keys that exist, by key, in a few batched queries.

        Example::

            known = await journal.get_many(all_keys)
            todo = [k for k in all_keys if k not in known or known[k].state is JournalState.PENDING]
        """
        wanted = list(dict.fromkeys(keys))
        return await self._run(lambda: self._store.get_many(wanted))

    async def entries(self, state: JournalState | str | None = None) -> list[JournalEntry]:
        """All entries in the order they were first recorded, optionally only one state.

        Example::

            for entry in await journal.entries(JournalState.UNKNOWN):
                print("check by hand:", entry.key, entry.trace_id, entry.error_message)
        """
        wanted = None if state is None else JournalState(state)
        return await self._run(lambda: self._store.entries(wanted))

    async def summary(self) -> dict[JournalState, int]:
        """How many entries are in each state (every state present, zeros included).

        Example::

            counts = await journal.summary()
            print(counts[JournalState.SUCCEEDED], "done")
        """
        return await self._run(self._store.summary)

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
        rows = [(key, kind, canonical(dict(body)))]

        async def call() -> JournalEntry:
            await self._store.add_pending(rows, time.time())
            found = await self._store.get_many([key])
            return found[key]

        return await self._run(call)

    async def mark_pending_many(self, items: Iterable[tuple[str, str, Mapping[str, Any]]]) -> int:
        """:meth:`mark_pending` for many ``(key, kind, body)`` in one transaction.

        Returns how many keys were new. All or nothing: a conflicting item raises
        :class:`JournalError` and records none of them.

        Example::

            new = await journal.mark_pending_many(
                (request_key("text_to_video", b), "text_to_video", b) for b in bodies)
        """
        wanted: dict[str, tuple[str, str]] = {}
        for key, kind, body in items:
            encoded = (kind, canonical(dict(body)))
            if wanted.setdefault(key, encoded) != encoded:
                raise JournalError(f"key {key} is given twice with different requests")
        rows = [(key, kind, body) for key, (kind, body) in wanted.items()]
        return await self._run(lambda: self._store.add_pending(rows, time.time()))

    async def _transition(self, key: str, name: str, **args: Any) -> JournalEntry:
        return await self._run(lambda: self._store.transition(key, name, args, time.time()))

    async def mark_sending(self, key: str, trace_id: str) -> JournalEntry:
        """PENDING → SENDING, on disk before it returns. Call it right before the HTTP submit,
        under the returned entry's ``trace_id``: ``trace_id`` is recorded at the entry's first
        send and kept for life (a later send is a resend under it, counted in ``resends``).

        If it raises, do not send. Once it returns, a crash before :meth:`mark_submitted` (or
        :meth:`mark_not_sent`, :meth:`mark_failed`, :meth:`mark_unknown`) leaves the request
        SENDING, which the next :meth:`open` turns into UNKNOWN: never sent twice. On
        PostgreSQL it also claims the request for this worker and raises
        :class:`JournalLeaseError` if another live worker holds it or this worker's lease
        has ended.

        Example::

            entry = await journal.mark_sending(key, str(uuid.uuid4()))
            resp = await client.videos.text_to_video(..., trace_id=entry.trace_id)
        """
        return await self._transition(key, "sending", trace_id=trace_id)

    async def mark_resent(self, key: str) -> JournalEntry:
        """SENDING → SENDING, one more resend under the entry's trace id (the SDK resends a
        submit whose outcome is unknown; the runner records each).

        Example::

            await journal.mark_resent(key)
        """
        return await self._transition(key, "resent")

    async def mark_submitted(
        self, key: str, video_id: int, credits: int | None = None
    ) -> JournalEntry:
        """SENDING (or UNKNOWN, if the id was found later) → SUBMITTED, on disk before it returns.

        Repeating it with the same ``video_id`` is a no-op.

        Example::

            await journal.mark_submitted(key, resp.video_id, credits=resp.credits)
        """
        return await self._transition(key, "submitted", video_id=video_id, credits=credits)

    async def mark_not_sent(
        self, key: str, error_type: str | None = None, message: str | None = None
    ) -> JournalEntry:
        """SENDING → PENDING: the service answered that nothing was created.

        Use it only for a definite answer that no video exists
        (:func:`pixverse_async.errors.nothing_generated`: e.g. a concurrency-limit or
        rate-limit error, an invalid key or request, no balance, or a connection that failed
        before any byte was sent). The reason is kept in ``error_type``/``error_message``
        until the next attempt.

        Example::

            except ConcurrencyLimitError as exc:
                await journal.mark_not_sent(key, type(exc).__name__, str(exc))
        """
        return await self._transition(key, "not_sent", error_type=error_type, error_message=message)

    async def mark_held(self, key: str, error_type: str, message: str) -> JournalEntry:
        """PENDING → PENDING with the reason it was not sent (a spending cap was reached, the
        balance ran out). It stays safe to submit: a later run sends it.

        Example::

            await journal.mark_held(key, "SpendingCapError", "not submitted: ...")
        """
        return await self._transition(key, "held", error_type=error_type, error_message=message)

    async def mark_succeeded(
        self, key: str, video_json: Mapping[str, Any], url: str | None = None
    ) -> JournalEntry:
        """SUBMITTED → SUCCEEDED with the final status JSON; ``url`` defaults to its ``"url"``.

        Example::

            await journal.mark_succeeded(key, {"id": video_id, "status": 1, "url": url})
        """
        return await self._transition(key, "succeeded", **succeeded_args(video_json, url))

    async def mark_failed(self, key: str, error_type: str, message: str) -> JournalEntry:
        """Any non-terminal state (or FAILED again) → FAILED: terminal, never retried.

        For definite failures: a moderation rejection, a generation that ended failed or
        moderated. ``error_type`` is usually the exception class name.

        Example::

            except ContentModerationError as exc:
                await journal.mark_failed(key, type(exc).__name__, str(exc))
        """
        return await self._transition(key, "failed", error_type=error_type, error_message=message)

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
        return await self._transition(
            key, "unknown", trace_id=trace_id, error_type=error_type, error_message=message
        )

    async def requeue(self, key: str) -> JournalEntry:
        """UNKNOWN or FAILED → PENDING, clearing the outcome: the next run sends it again.

        Never called by the SDK itself. An UNKNOWN entry keeps its ``trace_id``: the next
        send is a resend under it, which PixVerse answers with the first submit's video if
        there was one (nothing is generated or paid twice). A FAILED entry gets a new trace
        id at its next send: an explicit decision to pay for a new generation.

        Example::

            await journal.requeue(key)   # the next run submits it again
        """
        try:
            return await self._transition(key, "requeue")
        except JournalStateError as exc:
            if exc.state is not JournalState.FAILED:
                raise
            return await self._transition(key, "requeue_failed")

    async def wait_finished(self, key: str, timeout: float | None = None) -> JournalEntry:
        """Wait until ``key`` is SUCCEEDED, FAILED or UNKNOWN, recorded by any process.

        On PostgreSQL the wait is woken by ``NOTIFY`` (another process's runner, poll or
        webhook handler recorded the outcome) and reads only the database: this process sends
        no status request to the service. On SQLite (one process) it raises
        :class:`JournalError`: wait for the job itself (``job.wait()``). Raises
        ``asyncio.TimeoutError`` after ``timeout`` seconds.

        Example::

            entry = await journal.wait_finished(key, timeout=600)
            if entry.state is JournalState.SUCCEEDED:
                print(entry.url)
        """
        store = self.postgres
        if store is None:
            raise JournalError(
                "wait_finished needs a PostgreSQL journal (a postgresql:// URL): with SQLite"
                " only one process writes, so wait for the job itself"
            )
        return await self._run(lambda: store.wait_finished(key, timeout))

    async def recover(self) -> list[JournalEntry]:
        """Move the SENDING entries whose writer is gone to UNKNOWN; return them (moved).

        A SENDING entry whose writer is gone means it died between sending a submit and
        recording its answer: the video may exist. :meth:`open` calls this for you, so a
        runner never sees such leftovers at startup. On SQLite the exclusive lock means no
        writer is alive, so every SENDING entry moves (call it yourself after opening with
        ``recover=False``, only while nothing is being sent through this journal); on
        PostgreSQL only those of workers whose lease has expired move.

        Example::

            journal = await Journal.open("jobs.sqlite", recover=False)
            for entry in await journal.recover():
                print("may have been paid for:", entry.key, entry.trace_id)
        """
        return await self._run(self._store.recover)
