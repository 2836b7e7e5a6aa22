"""An account's shared in-flight limit, kept in PostgreSQL for all the workers of its batches.

:class:`SharedLimits` is a part of :class:`~.postgres.PostgresStore` (which answers its
methods under the same names): the configured limit, and the adaptive target that a 500044
answer shrinks to what is in flight and each accepted submit grows back (the runner's rule,
:mod:`pixverse_async.batch.limit_rule`, applied to the shared target).

Example::

    limit = await journal.postgres.set_limit(30)
    print(limit.target, limit.in_flight, limit.room)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs

from ..batch.limit_rule import grown, shrunk
from .errors import JournalError
from .pg_schema import Retrying, Tables

if TYPE_CHECKING:
    import asyncpg

__all__ = ["SharedLimit", "SharedLimits"]


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


class SharedLimits:
    """The shared limit of ``account``."""

    def __init__(self, tables: Tables, account: str, retrying: Retrying) -> None:
        self._tables = tables
        self.account = account
        self._retrying = retrying

    async def set_limit(self, concurrency: int) -> SharedLimit:
        """Set the account's shared limit: at most ``concurrency`` in flight for all workers.

        The adaptive target keeps its value if lower. Example::

            await journal.postgres.set_limit(30)
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise JournalError(f"concurrency must be an int >= 1, got {concurrency!r}")

        async def op(conn: asyncpg.Connection) -> SharedLimit:
            await conn.execute(
                f"INSERT INTO {self._tables.accounts} (account, configured, target)"
                " VALUES ($1, $2::integer, $2::integer)"
                " ON CONFLICT (account) DO UPDATE SET configured = $2::integer,"
                f" target = least({self._tables.accounts}.target, $2::integer)",
                self.account,
                concurrency,
            )
            return await self.limit(conn)

        return await self._retrying(op)

    async def shared_limit(self) -> SharedLimit | None:
        """The account's shared limit now, or None if :meth:`set_limit` was never called."""

        async def op(conn: asyncpg.Connection) -> SharedLimit | None:
            return await self.limit_or_none(conn)

        return await self._retrying(op)

    async def limit(self, conn: asyncpg.Connection, *, lock: bool = False) -> SharedLimit:
        found = await self.limit_or_none(conn, lock=lock)
        if found is None:
            raise JournalError(f"account {self.account!r} has no shared limit (set_limit first)")
        return found

    async def limit_or_none(
        self, conn: asyncpg.Connection, *, lock: bool = False
    ) -> SharedLimit | None:
        row = await conn.fetchrow(
            f"SELECT configured, target FROM {self._tables.accounts} WHERE account = $1"
            + (" FOR UPDATE" if lock else ""),
            self.account,
        )
        if row is None:
            return None
        in_flight = await conn.fetchval(
            f'SELECT "{self._tables.schema}".pixverse_in_flight($1)', self.account
        )
        return SharedLimit(self.account, row["configured"], row["target"], int(in_flight))

    async def limit_answered(self) -> SharedLimit:
        """The service answered "too many at once" (500044): aim the shared target at what is
        in flight now (at least 1). Call it after ``mark_not_sent`` for that request."""

        async def op(conn: asyncpg.Connection) -> SharedLimit:
            async with conn.transaction():
                limit = await self.limit(conn, lock=True)
                target = shrunk(limit.in_flight)
                await conn.execute(
                    f"UPDATE {self._tables.accounts} SET target = $2 WHERE account = $1",
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
                limit = await self.limit(conn, lock=True)
                if limit.target >= limit.configured:
                    return limit
                target = grown(limit.target, limit.configured)
                await conn.execute(
                    f"UPDATE {self._tables.accounts} SET target = $2 WHERE account = $1",
                    self.account,
                    target,
                )
                return attrs.evolve(limit, target=target)

        return await self._retrying(op)
