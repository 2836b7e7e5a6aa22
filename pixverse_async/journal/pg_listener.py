"""``LISTEN``/``NOTIFY`` for the PostgreSQL store: one connection that wakes waiting coroutines.

A trigger on the entries table publishes every change to PENDING, SUCCEEDED, FAILED or UNKNOWN
on :data:`CHANNEL` as JSON ``{"schema", "batch", "key", "state"}``, whichever process made it.
A :class:`Listener` keeps one connection listening, reconnecting when it is lost; after a
reconnection it wakes every waiter, which then reads the database again, so an event sent
while it was away is never missed.

Example::

    listener = Listener(url, schema="public", batch="nightly", ...)
    await listener.start()
    fut = listener.watch(key)          # before reading the entry: no event slips between
    ...
    await listener.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .errors import JournalError

if TYPE_CHECKING:
    import asyncpg

__all__ = ["CHANNEL", "Listener"]

logger = logging.getLogger("pixverse_async")

CHANNEL: Final = "pixverse_journal"
"""The ``LISTEN``/``NOTIFY`` channel; payloads are JSON ``{schema, batch, key, state}``."""


class Listener:
    """One connection LISTENing on :data:`CHANNEL` for the events of ``schema``."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        schema: str,
        batch: str,
        application_name: str,
        connect_timeout: float,
        reconnect_timeout: float,
        retryable: tuple[type[Exception], ...],
    ) -> None:
        self.url = url
        self.name = name
        self.schema = schema
        self.batch = batch
        self.application_name = application_name
        self.connect_timeout = connect_timeout
        self.reconnect_timeout = reconnect_timeout
        self.retryable = retryable
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()  # set while LISTENing
        self._closing = False
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._changed: asyncio.Future[None] | None = None
        self._subscribers: list[Callable[[str | None, str | None], None]] = []

    async def start(self) -> None:
        """Return once LISTENing (starting the connection if needed)."""
        async with self._lock:
            if self._closing:
                raise JournalError("journal is closed")
            if self._task is None:
                self._task = asyncio.ensure_future(self._run())
            if self._ready.is_set():
                return
            ready = asyncio.ensure_future(self._ready.wait())
            try:
                await asyncio.wait(
                    (ready, self._task),
                    timeout=self.reconnect_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                ready.cancel()
            if self._ready.is_set():
                return
            if self._task.done():
                self._task.result()
            raise JournalError(f"journal {self.name}: cannot LISTEN for notifications")

    def watch(self, key: str) -> asyncio.Future[None]:
        """A future set at the next event for ``key`` of the batch (or a reconnection)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].add(fut)
        fut.add_done_callback(lambda f: self._forget(key, f))
        return fut

    def _forget(self, key: str, fut: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(fut)
            if not waiters:
                del self._waiters[key]

    def subscribe(self, callback: Callable[[str | None, str | None], None]) -> Callable[[], None]:
        """Call ``callback(key, state)`` at every event of the batch, and ``callback(None,
        None)`` after a reconnection (events may have been missed: read again). Returns the
        function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def changed(self) -> asyncio.Future[None]:
        """A future set at the next event of the schema (or a reconnection)."""
        if self._changed is None or self._changed.done():
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    async def close(self) -> None:
        """Stop listening; pending waiters get :class:`JournalError`."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._settle(JournalError("journal is closed"))

    def abandon(self) -> None:
        """Stop without waiting (an unclosed journal was collected)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
        if self._conn is not None:
            self._conn.terminate()

    async def _run(self) -> None:
        import asyncpg

        reconnecting = False
        while not self._closing:
            lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def on_lost(conn: Any, fut: asyncio.Future[None] = lost) -> None:
                if not fut.done():
                    fut.set_result(None)

            try:
                conn = await asyncpg.connect(
                    self.url,
                    timeout=self.connect_timeout,
                    server_settings={"application_name": self.application_name},
                )
            except self.retryable as exc:
                logger.warning("journal %s: listener cannot connect: %s", self.name, exc)
                await asyncio.sleep(0.2)
                continue
            try:
                self._conn = conn
                conn.add_termination_listener(on_lost)
                await conn.add_listener(CHANNEL, self._on_notify)
                self._ready.set()
                if reconnecting:
                    self._settle(None)  # events may have been missed: everyone reads again
                    for callback in list(self._subscribers):
                        callback(None, None)
                reconnecting = True
                await lost
            except self.retryable as exc:
                logger.warning("journal %s: listener lost: %s", self.name, exc)
            finally:
                self._ready.clear()
                self._conn = None
                if not conn.is_closed():
                    with contextlib.suppress(*self.retryable):
                        await asyncio.wait_for(conn.close(), self.connect_timeout)
                if not conn.is_closed():
                    conn.terminate()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if not isinstance(event, dict) or event.get("schema") != self.schema:
            return
        key = event.get("key")
        if event.get("batch") == self.batch and isinstance(key, str):
            for fut in list(self._waiters.get(key, ())):
                if not fut.done():
                    fut.set_result(None)
            state = event.get("state")
            for callback in list(self._subscribers):
                callback(key, state if isinstance(state, str) else None)
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    def _settle(self, error: JournalError | None) -> None:
        futures = [f for waiters in self._waiters.values() for f in waiters]
        if self._changed is not None:
            futures.append(self._changed)
        for fut in futures:
            if fut.done():
                continue
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)
                fut.exception()  # nobody may be waiting any more
