"""A worker's lease on its PostgreSQL batch: the heartbeat that renews it, and its end.

Each open store is a worker with a lease (``seconds``) that :class:`Lease`'s heartbeat renews
every third of it. A worker whose lease ended (the database unreachable, the process paused,
or another worker took it over) sends and records nothing more: every write of the store is
conditioned on :meth:`~.pg_schema.Tables.alive`, and :meth:`Lease.ended` is the error it
then raises.

Example::

    if store.lease_lost:
        print("taken over:", store.lease_lost_reason)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from ..logs import sdk_logger
from .errors import JournalError, JournalLeaseError
from .pg_schema import Retrying, Tables
from .states import JournalState

if TYPE_CHECKING:
    import asyncpg

__all__ = ["Lease"]

logger = sdk_logger("pixverse_async")


class Lease:
    """The lease of worker ``worker_id`` (``name``: the journal, for logs)."""

    def __init__(
        self, tables: Tables, worker_id: str, seconds: float, name: str, retrying: Retrying
    ) -> None:
        self._tables = tables
        self.worker_id = worker_id
        self.seconds = seconds
        self.name = name
        self._retrying = retrying
        self._heartbeat: asyncio.Task[None] | None = None
        self.lost = False
        self.renewed_at = time.monotonic()  # the last renewal that found the lease alive
        self.unreachable = False  # the last renewal could not reach the database in time

    def start(self) -> None:
        """Start the heartbeat (the lease was just taken)."""
        self.renewed_at = time.monotonic()
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def stop(self) -> None:
        """Stop the heartbeat and wait for it."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat

    def abandon(self) -> None:
        """Stop the heartbeat without waiting (the loop may be gone)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()

    @property
    def reason(self) -> str:
        """Why this worker's lease ended, as far as it can tell: the database was unreachable,
        or the process did not run (its event loop was blocked, the machine paused) for
        longer than the lease, or another worker ended it."""
        silent = time.monotonic() - self.renewed_at
        if self.unreachable:
            return (
                f"the database was unreachable: the lease of {self.seconds:g} s was not renewed"
                f" for {silent:.1f} s"
            )
        if silent > self.seconds:
            return (
                f"its lease of {self.seconds:g} s expired while it was not running (no heartbeat"
                f" for {silent:.1f} s: its event loop was blocked, or the process paused)"
            )
        return "another worker ended its lease"

    async def _beat(self) -> None:
        every = self.seconds / 3
        while not self.lost:
            await asyncio.sleep(every)
            started = time.monotonic()
            try:
                alive = await self._retrying(self._renew)
            except JournalError as exc:
                self.unreachable = True
                logger.warning("journal %s: heartbeat failed: %s", self.name, exc)
                continue
            self.unreachable = time.monotonic() - started > every  # it had to reconnect
            if alive:
                self.renewed_at = started
                continue
            self.lost = True
            logger.error(
                "journal %s: worker %s lost its lease (%s); it sends nothing more",
                self.name,
                self.worker_id,
                self.reason,
            )

    async def _renew(self, conn: asyncpg.Connection) -> bool:
        row = await conn.fetchval(
            f"UPDATE {self._tables.workers} SET expires_at = clock_timestamp()"
            " + make_interval(secs => $2) WHERE id = $1 AND expires_at > clock_timestamp()"
            " AND taken_over_by IS NULL RETURNING 1",
            self.worker_id,
            self.seconds,
        )
        return row is not None

    async def alive(self, conn: asyncpg.Connection) -> bool:
        return bool(await conn.fetchval(f"SELECT {self._tables.alive('$1')}", self.worker_id))

    def not_sendable(self, key: str, holder: str | None) -> JournalLeaseError | None:
        if holder in (None, self.worker_id):
            return None
        return JournalLeaseError(
            f"cannot send {key}: worker {holder} holds it (claim() requests first)"
        )

    def ended(
        self, key: str, doing: str | None = None, state: JournalState | None = None
    ) -> JournalLeaseError:
        self.lost = True
        left = "" if state is None else f"; it stays {state.value}, as the take-over left it"
        return JournalLeaseError(
            f"cannot {doing or f'send {key}'}: the lease of worker {self.worker_id} has ended"
            f" ({self.reason}){left}"
        )
