"""``LISTEN``/``NOTIFY`` for the PostgreSQL store: one connection that wakes waiting coroutines.

A trigger on the entries table publishes every change to PENDING, SUCCEEDED, FAILED or UNKNOWN
on :data:`CHANNEL` as JSON ``{"schema", "batch", "key", "state"}``, whichever process made it.
A :class:`Listener` keeps one connection listening (a
:class:`.pg_listen.ListeningConnection`, reconnecting when it is lost); after a
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
from collections import defaultdict
from collections.abc import Callable
from typing import Final

from .errors import JournalError
from .pg_listen import ListeningConnection

__all__ = ["CHANNEL", "Listener"]

CHANNEL: Final = "pixverse_journal"
"""The ``LISTEN``/``NOTIFY`` channel; payloads are JSON ``{schema, batch, key, state}``."""


class Listener:
    """The journal's waiters on one :class:`.pg_listen.ListeningConnection`
    to :data:`CHANNEL`, for the events of ``schema`` and ``batch``."""

    def __init__(
        self,
        url: str,
        *,
        schema: str,
        batch: str,
        application_name: str,
        connect_timeout: float,
        reconnect_timeout: float,
    ) -> None:
        self.schema = schema
        self.batch = batch
        self._connection = ListeningConnection(
            url,
            channel=CHANNEL,
            what="journal",
            on_notify=self._on_notify,
            on_reconnect=self._reconnected,
            error=JournalError,
            application_name=application_name,
            connect_timeout=connect_timeout,
            reconnect_timeout=reconnect_timeout,
        )
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._changed: asyncio.Future[None] | None = None
        self._subscribers: list[Callable[[str | None, str | None], None]] = []

    async def start(self) -> None:
        """Return once LISTENing (starting the connection if needed)."""
        await self._connection.start()

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
        await self._connection.close()
        self._settle(JournalError("journal is closed"))

    def abandon(self) -> None:
        """Stop without waiting (an unclosed journal was collected)."""
        self._connection.abandon()

    def _reconnected(self) -> None:
        self._settle(None)  # events may have been missed: everyone reads again
        for callback in list(self._subscribers):
            callback(None, None)

    def _on_notify(self, payload: str) -> None:
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
