"""The PostgreSQL journal's connections: a pool, and operations retried when one is lost.

Every operation of the store runs on a pool connection through :meth:`Pool.retrying`; when
the connection is lost (``pg_terminate_backend``, a restarted server, a network cut) it runs
again on a new one for up to ``reconnect_timeout`` seconds, then :class:`JournalError` is
raised (a clean stop). A write whose commit may have happened without an answer is recognised
on retry by its ``after_loss`` (the entry already shows it, or the claim token is on the
rows), so nothing is lost or done twice. The PostgreSQL side of what :mod:`.sqlite` does with
its connection thread.

Example::

    pool = Pool("postgresql://postgres@127.0.0.1/test", name="test")
    await pool.open()
    count = await pool.retrying(lambda conn: conn.fetchval("SELECT 1"))
    await pool.close()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import backoff

from ..logs import sdk_logger
from .errors import JournalError
from .pg_listen import connection_errors

if TYPE_CHECKING:
    import asyncpg

__all__ = ["Pool"]

_T = TypeVar("_T")

logger = sdk_logger("pixverse_async")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to undo. The store leaves no session state (its
    settings and locks end with their transaction; it LISTENs on a connection of its own), so
    asyncpg's default reset query would be a wasted round trip per operation; asyncpg still
    rolls back a transaction left open."""


class Pool:
    """Up to ``size`` connections to ``url`` (``name``: the URL without its password)."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        size: int = 10,
        connect_timeout: float = 5.0,
        reconnect_timeout: float = 30.0,
        application_name: str = "pixverse-journal",
    ) -> None:
        self.url = url
        self.name = name
        self.size = size
        self.connect_timeout = connect_timeout
        self.reconnect_timeout = reconnect_timeout
        self.application_name = application_name
        self.pool: asyncpg.Pool | None = None
        self._retryable: tuple[type[Exception], ...] = ()

    async def open(self) -> None:
        """Connect (asyncpg is imported here: the core SDK does not need it)."""
        try:
            import asyncpg
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise JournalError(
                "a postgresql:// journal needs asyncpg: pip install 'pixverse-async[postgres]'"
            ) from exc
        self._retryable = connection_errors()
        try:
            self.pool = await asyncpg.create_pool(
                self.url,
                min_size=1,
                max_size=self.size,
                timeout=self.connect_timeout,
                reset=_keep_session,
                server_settings={
                    "application_name": self.application_name,
                    "synchronous_commit": "off",  # DURABLE turns it on where it matters
                },
            )
        except (*self._retryable, asyncpg.PostgresError, ValueError) as exc:
            raise JournalError(f"cannot connect to the journal at {self.name}: {exc}") from exc

    async def close(self) -> None:
        """Close the connections (terminate them if that takes longer than a connect)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.connect_timeout)
            except self._retryable:  # includes TimeoutError
                pool.terminate()

    def terminate(self) -> None:
        """Drop the connections at once (the loop may be gone)."""
        if self.pool is not None:
            self.pool.terminate()

    async def retrying(
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
            pool = self.pool
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
