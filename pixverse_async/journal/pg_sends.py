"""Sending under an account's shared limit: the check and the SENDING mark in one statement.

:class:`Sends` is a part of :class:`~.postgres.PostgresStore` (which answers its methods under
the same names). The statement holds the account row's lock to its commit, so the workers of
all the account's batches together never have more than the limit in flight.

Example::

    entry = await store.try_mark_sending(key, trace_id)
    if entry is None:
        await store.wait_changed(timeout=1.0)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .entry import JournalEntry
from .errors import JournalError, JournalStateError
from .pg_lease import Lease
from .pg_schema import COLS, DURABLE, E_COLS, Retrying, Tables
from .states import TRANSITIONS, JournalState
from .store import binder, set_clause

if TYPE_CHECKING:
    import asyncpg

__all__ = ["Sends"]


@attrs.frozen
class _Sql:
    """A column value that is an SQL expression, not a parameter (for :func:`set_clause`)."""

    text: str


def _sql_or(value: Any, bind: Any) -> str:
    return value.text if isinstance(value, _Sql) else str(bind(value))


class Sends:
    """The sends of worker ``lease.worker_id`` of ``batch``, under ``account``'s limit."""

    def __init__(
        self, tables: Tables, batch: str, account: str, lease: Lease, retrying: Retrying
    ) -> None:
        self._tables = tables
        self._entries = tables.entries
        self.batch = batch
        self.account = account
        self.worker_id = lease.worker_id
        self._lease = lease
        self._retrying = retrying

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
                f' ORDER BY u.ord LIMIT "{self._tables.schema}".pixverse_send_room($6))'
                f" UPDATE {self._entries} e SET {assignments}, worker = $5, updated_at = $4"
                f" FROM picked WHERE e.batch = $1 AND e.key = picked.key AND {sendable}"
                f" AND {self._tables.alive('$5')} AND {DURABLE}"
                f" RETURNING {E_COLS}",
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
                f"SELECT {COLS}, worker FROM {self._entries} WHERE batch = $1 AND key = ANY($2)",
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
            held = self._lease.not_sendable(key, row["worker"])
            if held is not None:
                why[key] = held
                continue
            if alive is None:
                alive = await self._lease.alive(conn)
            why[key] = None if alive else self._lease.ended(key)
        return why
