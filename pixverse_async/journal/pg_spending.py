"""The spending cap of a PostgreSQL batch, shared by all its workers: the record in the database.

Every worker of a batch decides its sends against the same numbers, read from the database
while the batch's row is locked (:meth:`SharedSpending.reserve`), so that the workers together
never commit more than the cap (the rule itself is :mod:`pixverse_async.batch.spending`'s):

- **charged** and **refunded**: the costs the journal recorded (``credits`` of every entry
  that is not PENDING; refunded: those of FAILED entries whose error the service refunds,
  :data:`~pixverse_async.batch.costs.REFUNDED_ERROR_TYPES`);
- **reserved**: the estimate a worker holds for a request it is sending whose cost the
  journal does not have yet. It is dropped (:meth:`SharedSpending.release`) once the cost is
  recorded or the request was not sent, and kept as the request's charge when the answer
  never said (UNKNOWN, or a submit answered without a cost). A reservation on a PENDING
  entry counts only while its worker holds the entry and its lease runs (a dead worker
  never sent it);
- **unpriced**: SENDING and UNKNOWN entries with neither a cost nor a reservation (sent by a
  worker without a cap): the deciding worker counts them at its estimate;
- **sending**: the reservations of sends under way (PENDING or SENDING, live worker): an
  answer still to come may leave room, so a request that does not fit waits for it.

The same table marks the requests a worker's run ended **not submitted** (the cap, or no
balance left) while it still holds them (:meth:`SharedSpending.mark_unsent`): another run
waiting for such a request reports the same (:meth:`SharedSpending.unsent_elsewhere`) instead
of waiting for it. The marks go when that run ends (:meth:`SharedSpending.drop_unsent`), and
the requests go back to the batch, so a later run (with a higher cap) decides them again.

Table: ``pixverse_reservations`` in the store's schema, created when the store opens.
A decision sums the batch's entries, so it costs more as the batch grows (on this project's
test machine about 3 ms with 1,000 entries, 6 ms with 10,000, 23 ms with 50,000); the
batch's workers take their decisions one at a time. Generations last tens of seconds and an
account runs few at once, so that is far from being what limits a batch.

Example::

    spending = journal.postgres.spending
    amount = await spending.reserve(key, lambda spend: 30 if spend.spent + 30 <= 500 else None)
    if amount is not None:
        ...  # send it; once its cost is in the journal:
        await spending.release(key)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from ..batch.costs import REFUNDED_ERROR_TYPES
from .entry import COLUMNS, JournalEntry
from .pg_listener import CHANNEL
from .pg_schema import Retrying

if TYPE_CHECKING:
    import asyncpg

__all__ = ["BatchSpend", "SharedSpending"]

_T = TypeVar("_T")
_E_COLS: Final = ", ".join(f"e.{c}" for c in COLUMNS)


@attrs.frozen
class BatchSpend:
    """What a batch's workers together spent and hold (see the module docstring).

    >>> BatchSpend(charged=300, refunded=60, reserved=40).spent
    240
    """

    charged: int = 0
    refunded: int = 0
    reserved: int = 0
    sending: int = 0
    unpriced: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    """``(kind, body)`` of the entries that may have been charged without a known cost."""

    @property
    def spent(self) -> int:
        """Credits charged minus credits refunded."""
        return self.charged - self.refunded


class SharedSpending:
    """The spending record of one batch, for one worker (``store.spending``)."""

    def __init__(self, schema: str, batch: str, worker: str, retrying: Retrying) -> None:
        self.batch = batch
        self.worker = worker
        self._retrying = retrying
        self._schema = schema
        self._table = f'"{schema}".pixverse_reservations'
        self._entries = f'"{schema}".pixverse_entries'
        self._workers = f'"{schema}".pixverse_workers'
        self._batches = f'"{schema}".pixverse_batches'
        alive = "(w.expires_at > clock_timestamp() AND w.taken_over_by IS NULL)"
        holds = f"({alive} AND e.worker = r.worker)"  # a live worker holds the PENDING entry
        self._read = (
            "WITH known AS (SELECT coalesce(sum(credits), 0) AS charged, coalesce(sum(credits)"
            " FILTER (WHERE state = 'failed' AND error_type = ANY($2::text[])), 0) AS refunded"
            f" FROM {self._entries} WHERE batch = $1 AND state <> 'pending'"
            " AND credits IS NOT NULL),"
            f" held AS (SELECT coalesce(sum(r.credits) FILTER (WHERE e.state <> 'pending'"
            f" OR {holds}), 0) AS reserved, count(*) FILTER (WHERE e.state IN"
            f" ('pending', 'sending') AND {holds}) AS sending"
            f" FROM {self._table} r JOIN {self._entries} e ON e.batch = r.batch AND e.key = r.key"
            f" LEFT JOIN {self._workers} w ON w.id = r.worker"
            " WHERE r.batch = $1 AND NOT r.unsent AND e.credits IS NULL AND r.key <> $3)"
            " SELECT charged, refunded, reserved, sending FROM known, held"
        )
        self._unpriced = (
            f"SELECT e.kind, e.body FROM {self._entries} e WHERE e.batch = $1"
            " AND e.state IN ('sending', 'unknown') AND e.credits IS NULL AND NOT EXISTS"
            f" (SELECT 1 FROM {self._table} r WHERE r.batch = e.batch AND r.key = e.key"
            " AND NOT r.unsent)"
        )
        self._alive = alive

    async def setup(self, conn: asyncpg.Connection) -> None:
        """Create the table (in the store's setup transaction)."""
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} ("
            " batch text NOT NULL, key text NOT NULL, worker text NOT NULL,"
            " credits integer NOT NULL DEFAULT 0, unsent boolean NOT NULL DEFAULT false,"
            " PRIMARY KEY (batch, key))"
        )

    async def _spend(self, conn: asyncpg.Connection, excluding: str = "") -> BatchSpend:
        row = await conn.fetchrow(self._read, self.batch, sorted(REFUNDED_ERROR_TYPES), excluding)
        unpriced = await conn.fetch(self._unpriced, self.batch)
        return BatchSpend(
            charged=int(row["charged"]),
            refunded=int(row["refunded"]),
            reserved=int(row["reserved"]),
            sending=int(row["sending"]),
            unpriced=tuple((r["kind"], json.loads(r["body"])) for r in unpriced),
        )

    async def spend(self) -> BatchSpend:
        """The batch's spend and reservations now.

        Example::

            spend = await journal.postgres.spending.spend()
            print(spend.spent, "spent,", spend.reserved, "reserved")
        """
        return await self._retrying(self._spend)

    async def reserve(self, key: str, decide: Callable[[BatchSpend], int | None]) -> int | None:
        """Reserve what ``decide`` returns for request ``key`` (None: nothing, not sent now).

        ``decide`` sees the batch's spend without ``key``'s own reservation (a reservation
        replaces the request's earlier one); it runs while the batch's row is locked, so no
        other worker decides between its reading and the reservation.
        """

        async def op(conn: asyncpg.Connection) -> int | None:
            async with conn.transaction():
                await conn.execute(
                    f"SELECT 1 FROM {self._batches} WHERE batch = $1 FOR UPDATE", self.batch
                )
                amount = decide(await self._spend(conn, excluding=key))
                if amount is not None:
                    await conn.execute(
                        f"INSERT INTO {self._table} (batch, key, worker, credits)"
                        " VALUES ($1, $2, $3, $4) ON CONFLICT (batch, key) DO UPDATE SET"
                        " worker = EXCLUDED.worker, credits = EXCLUDED.credits, unsent = false",
                        self.batch,
                        key,
                        self.worker,
                        amount,
                    )
                return amount

        async def after_loss(conn: asyncpg.Connection) -> int | None:
            held: int | None = await conn.fetchval(
                f"SELECT credits FROM {self._table} WHERE batch = $1 AND key = $2"
                " AND worker = $3 AND NOT unsent",
                self.batch,
                key,
                self.worker,
            )
            return held

        return await self._retrying(op, after_loss=after_loss)

    async def release(self, key: str) -> None:
        """Drop this worker's reservation for ``key``: its cost is in the journal now, or it
        was not charged."""

        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute(
                f"DELETE FROM {self._table} WHERE batch = $1 AND key = $2 AND worker = $3"
                " AND NOT unsent",
                self.batch,
                key,
                self.worker,
            )

        await self._retrying(op)

    async def mark_unsent(self, keys: Sequence[str]) -> None:
        """Mark requests this worker holds that its run ended not submitted, and tell the
        batch's listeners (a PENDING event for each: the runs waiting for them read them)."""

        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute(
                f"INSERT INTO {self._table} (batch, key, worker, credits, unsent)"
                " SELECT $1, k, $3, 0, true FROM unnest($2::text[]) AS k"
                " ON CONFLICT (batch, key) DO UPDATE SET worker = EXCLUDED.worker,"
                " credits = 0, unsent = true",
                self.batch,
                list(keys),
                self.worker,
            )
            await conn.execute(
                "SELECT pg_notify($1, json_build_object('schema', $2::text, 'batch', $3::text,"
                " 'key', k, 'state', 'pending')::text) FROM unnest($4::text[]) AS k",
                CHANNEL,
                self._schema,
                self.batch,
                list(keys),
            )

        await self._retrying(op)

    async def unsent_elsewhere(self, keys: Sequence[str]) -> dict[str, JournalEntry]:
        """The entries of ``keys`` that another live worker's run ended not submitted (and
        holds: PENDING, with the reason it recorded)."""

        async def op(conn: asyncpg.Connection) -> dict[str, JournalEntry]:
            rows = await conn.fetch(
                f"SELECT {_E_COLS} FROM {self._table} r JOIN {self._entries} e"
                " ON e.batch = r.batch AND e.key = r.key JOIN"
                f" {self._workers} w ON w.id = r.worker WHERE r.batch = $1"
                " AND r.key = ANY($2::text[]) AND r.unsent AND r.worker <> $3"
                f" AND e.state = 'pending' AND {self._alive}",
                self.batch,
                list(keys),
                self.worker,
            )
            return {row[0]: JournalEntry.from_row(row) for row in rows}

        return await self._retrying(op)

    async def drop_unsent(self) -> None:
        """Remove this worker's not-submitted marks (its run ends)."""

        async def op(conn: asyncpg.Connection) -> None:
            await conn.execute(
                f"DELETE FROM {self._table} WHERE batch = $1 AND worker = $2 AND unsent",
                self.batch,
                self.worker,
            )

        await self._retrying(op)
