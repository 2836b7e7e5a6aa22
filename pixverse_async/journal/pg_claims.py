"""Several workers on one PostgreSQL batch: claims, releases, take-overs, who holds what.

:class:`Claims` is a part of :class:`~.postgres.PostgresStore` (which answers its methods
under the same names): it hands a worker requests no live worker holds, gives them back, and
ends expired workers' leases, freeing what they held; a request such a worker was SENDING
becomes UNKNOWN (never resubmitted blindly).

Example::

    for entry in await journal.postgres.claim(10):
        print(entry.key, entry.state)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..logs import sdk_logger
from .entry import JournalEntry
from .errors import JournalError
from .pg_schema import COLS, E_COLS, SLOT_SECONDS, Retrying, Tables
from .states import RECOVER_ARGS, TRANSITIONS, JournalState
from .store import binder, set_clause

if TYPE_CHECKING:
    import asyncpg

__all__ = ["Claims", "Orphan", "Takeover", "WorkerInfo"]

logger = sdk_logger("pixverse_async")


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
class WorkerInfo:
    """A worker of the batch: ``alive`` while its lease runs; ``held`` counts by state."""

    id: str
    host: str
    pid: int
    alive: bool
    taken_over: bool
    held: Mapping[JournalState, int]


@attrs.frozen
class Orphan:
    """A generation of another batch of the account that nobody watches
    (:meth:`Claims.orphans`)."""

    batch: str
    key: str
    video_id: int


class Claims:
    """The claims of one worker (``worker``) of ``batch``."""

    def __init__(
        self,
        tables: Tables,
        batch: str,
        account: str,
        worker: str,
        name: str,
        retrying: Retrying,
    ) -> None:
        self._tables = tables
        self._entries, self._workers = tables.entries, tables.workers
        self.batch = batch
        self.account = account
        self.worker_id = worker
        self.name = name
        self._retrying = retrying

    async def claim(self, n: int, *, submitted_only: bool = False) -> list[JournalEntry]:
        """Hold up to ``n`` requests of the batch that no worker holds, for this worker.

        SUBMITTED requests come first (poll them), then PENDING ones (send them with
        ``mark_sending``), each in recording order; with ``submitted_only``, only SUBMITTED
        ones. Concurrent claimers, in any process, never get the same request. Returns []
        when the lease has ended.

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
        states = ["submitted"] if submitted_only else ["pending", "submitted"]

        async def op(conn: asyncpg.Connection) -> list[JournalEntry]:
            rows = await conn.fetch(
                f"WITH picked AS (SELECT key FROM {self._entries}"
                " WHERE batch = $1 AND worker IS NULL AND state = ANY($5::text[])"
                " ORDER BY state = 'pending', seq LIMIT $2 FOR UPDATE SKIP LOCKED)"
                f" UPDATE {self._entries} e SET worker = $3, op = $4 FROM picked"
                f" WHERE e.batch = $1 AND e.key = picked.key AND {self._tables.alive('$3')}"
                f" RETURNING {E_COLS}, e.seq",
                self.batch,
                n,
                self.worker_id,
                token,
                states,
            )
            return self._claimed(rows)

        async def after_loss(conn: asyncpg.Connection) -> list[JournalEntry] | None:
            rows = await conn.fetch(
                f"SELECT {COLS}, seq FROM {self._entries} WHERE op = $1 AND worker = $2",
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
                unknown = await self.interrupt(conn, dead, op=token)
                released = await conn.fetch(
                    f"UPDATE {self._entries} SET worker = NULL, op = $3"
                    " WHERE batch = $1 AND worker = ANY($2::text[])"
                    f" AND state IN ('pending', 'submitted') RETURNING {COLS}",
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
            rows = await conn.fetch(f"SELECT {COLS} FROM {self._entries} WHERE op = $1", token)
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

    async def lease_wait(self, silent_after: float) -> float | None:
        """Seconds until the first lease of a silent worker of the batch ends (another worker,
        holding unfinished requests, whose lease has less than ``silent_after`` seconds left:
        its heartbeat stopped); 0 when one has ended and awaits its take-over; None when no
        worker is silent.

        Example::

            left = await journal.postgres.claims.lease_wait(15.0)
            if left is not None:
                print(f"a worker died: its requests are taken over in {left:.0f} s")
        """

        async def op(conn: asyncpg.Connection) -> float | None:
            left = await conn.fetchval(
                "SELECT extract(epoch from min(w.expires_at) - clock_timestamp())"
                f" FROM {self._workers} w WHERE w.batch = $1 AND w.id <> $2"
                " AND w.taken_over_by IS NULL"
                " AND w.expires_at < clock_timestamp() + make_interval(secs => $3)"
                f" AND EXISTS (SELECT 1 FROM {self._entries} e WHERE e.worker = w.id"
                " AND e.batch = w.batch AND e.state IN ('pending', 'sending', 'submitted'))",
                self.batch,
                self.worker_id,
                silent_after,
            )
            return None if left is None else max(0.0, float(left))

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
                f" JOIN {self._tables.batches} b USING (batch)"
                " WHERE b.account = $1 AND e.batch <> $2 AND e.state = 'submitted'"
                " AND e.video_id IS NOT NULL"
                f" AND e.updated_at > extract(epoch from now()) - {SLOT_SECONDS}"
                f" AND NOT {self._tables.alive('e.worker')}"
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
                f" AND NOT {self._tables.alive('e.worker')} RETURNING 1",
                *params,
            )
            return row is not None

        return await self._retrying(op)

    async def interrupt(
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
            f" RETURNING {COLS}",
            *params,
        )
        return rows


def _takeover(dead: list[str], unknown: Sequence[Any], released: Sequence[Any]) -> Takeover:
    return Takeover(
        workers=tuple(dead),
        unknown=tuple(JournalEntry.from_row(r) for r in unknown),
        released=tuple(JournalEntry.from_row(r) for r in released),
    )
