"""The token store in PostgreSQL: any replica's webhook route completes any activity.

``pip install 'pixverse-async[temporal,postgres]'``. One table of its own,
``<schema>.pixverse_temporal_tokens`` (created on open), keyed by video id: the waiting
activity's task token and trace id, when the safety net next looks at the video, and an end
that arrived before its token. Every operation is one statement, so replicas never
interleave within one: a token and an end recorded concurrently always meet, whichever
comes second sees the first; the safety net's claim of overdue videos skips rows another
replica holds (``FOR UPDATE SKIP LOCKED``). An operation that loses its connection is retried
on a new one for up to ``reconnect_timeout`` seconds (each is safe to repeat).

A task token completes its activity for whoever also has access to the Temporal namespace:
keep the table as private as the namespace (the store never logs a token, nor shows one in a
repr).

Example::

    from pixverse_async.temporal import PostgresTokenStore

    async with PostgresTokenStore("postgresql://postgres@127.0.0.1/app") as store:
        activities = GenerationActivities(client, store=store, webhook_id="1234")
        ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import backoff

from ..pg_listen import connection_errors, redact
from .store import End, PendingActivity

if TYPE_CHECKING:
    import asyncpg

_T = TypeVar("_T")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PENDING = "video_id, task_token, trace_id, credits"


class PostgresTokenStore:
    """A :class:`~.store.TokenStore` in PostgreSQL (see the module docstring).

    ``url``: a ``postgresql://`` URL; ``schema``: where the table lives (created if
    missing); ``pool_size``: connections; ``reconnect_timeout``: how long an operation
    retries after losing its connection. Open it with ``async with`` (or :meth:`open` and
    :meth:`close`).
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "public",
        pool_size: int = 5,
        connect_timeout: float = 5.0,
        reconnect_timeout: float = 30.0,
    ) -> None:
        if not _NAME.fullmatch(schema):
            raise ValueError(
                f"schema must be a plain SQL name (letters, digits, _), got {schema!r}"
            )
        self.url = url
        self.schema = schema
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.reconnect_timeout = reconnect_timeout
        self.table = f'"{schema}".pixverse_temporal_tokens'
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresTokenStore({redact(self.url)!r}, schema={self.schema!r})"

    async def open(self) -> None:
        """Connect and create the table if it is missing."""
        import asyncpg

        self._pool = await asyncpg.create_pool(
            self.url,
            min_size=1,
            max_size=self.pool_size,
            timeout=self.connect_timeout,
            server_settings={"application_name": "pixverse-temporal-tokens"},
        )
        await self._run(self._setup)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def __aenter__(self) -> PostgresTokenStore:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _setup(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            # Concurrent first opens must not race on CREATE: one at a time per schema.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.table)
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await conn.execute(f"""
                CREATE TABLE IF NOT EXISTS {self.table} (
                    video_id   bigint PRIMARY KEY,
                    task_token bytea,
                    trace_id   text,
                    credits    integer,
                    check_at   double precision,
                    ended      jsonb,
                    ended_at   double precision
                );
                CREATE INDEX IF NOT EXISTS pixverse_temporal_tokens_due
                    ON {self.table} (check_at) WHERE task_token IS NOT NULL;
            """)

    async def _run(self, op: Callable[[asyncpg.Connection], Awaitable[_T]]) -> _T:
        if self._pool is None:
            raise RuntimeError("the token store is not open: use `async with store:`")
        pool = self._pool

        @backoff.on_exception(
            backoff.expo, connection_errors(), max_time=self.reconnect_timeout, max_value=2
        )
        async def attempt() -> _T:
            async with pool.acquire() as conn:
                return await op(conn)

        return await attempt()

    async def record(self, pending: PendingActivity, *, check_at: float) -> End | None:
        async def op(conn: asyncpg.Connection) -> Any:
            return await conn.fetchval(
                f"INSERT INTO {self.table} ({_PENDING}, check_at) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (video_id) DO UPDATE SET task_token = EXCLUDED.task_token,"
                " trace_id = EXCLUDED.trace_id, credits = EXCLUDED.credits,"
                " check_at = EXCLUDED.check_at RETURNING ended",
                pending.video_id,
                pending.task_token,
                pending.trace_id,
                pending.credits,
                check_at,
            )

        ended = await self._run(op)
        return None if ended is None else dict(json.loads(ended))

    async def ended(self, video_id: int, end: End, *, now: float) -> PendingActivity | None:
        async def op(conn: asyncpg.Connection) -> Any:
            return await conn.fetchrow(
                f"INSERT INTO {self.table} (video_id, ended, ended_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (video_id) DO UPDATE SET ended = EXCLUDED.ended,"
                f" ended_at = EXCLUDED.ended_at RETURNING {_PENDING}",
                video_id,
                json.dumps(dict(end)),
                now,
            )

        row = await self._run(op)
        return _pending(row) if row is not None and row["task_token"] is not None else None

    async def forget(self, video_id: int, task_token: bytes) -> None:
        async def op(conn: asyncpg.Connection) -> Any:
            return await conn.execute(
                f"DELETE FROM {self.table} WHERE video_id = $1 AND task_token = $2",
                video_id,
                task_token,
            )

        await self._run(op)

    async def due(self, *, now: float, check_at: float, limit: int = 100) -> list[PendingActivity]:
        async def op(conn: asyncpg.Connection) -> list[Any]:
            return list(
                await conn.fetch(
                    f"UPDATE {self.table} SET check_at = $2 WHERE video_id IN ("
                    f" SELECT video_id FROM {self.table}"
                    "  WHERE task_token IS NOT NULL AND check_at <= $1"
                    "  ORDER BY check_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
                    f" RETURNING {_PENDING}",
                    now,
                    check_at,
                    limit,
                )
            )

        return [_pending(row) for row in await self._run(op)]

    async def purge(self, *, before: float) -> int:
        async def op(conn: asyncpg.Connection) -> str:
            return str(
                await conn.execute(
                    f"DELETE FROM {self.table} WHERE task_token IS NULL AND ended_at < $1",
                    before,
                )
            )

        status = await self._run(op)
        return int(status.rsplit(" ", 1)[-1])

    async def waiting(self) -> int:
        """How many activities wait for their video."""

        async def op(conn: asyncpg.Connection) -> Any:
            return await conn.fetchval(
                f"SELECT count(*) FROM {self.table} WHERE task_token IS NOT NULL"
            )

        return int(await self._run(op))


def _pending(row: Any) -> PendingActivity:
    return PendingActivity(
        video_id=row["video_id"],
        task_token=bytes(row["task_token"]),
        trace_id=row["trace_id"],
        credits=row["credits"],
    )
