"""One PostgreSQL connection that ``LISTEN``s on a channel and reconnects when it is lost.

The mechanism under the journal's notifications (:mod:`pixverse_async.journal.pg_listener`)
and the webhook hub's relay (:mod:`pixverse_async.webhooks.relay`); asyncpg (the
``[postgres]`` extra) is imported when a connection starts, so the core SDK does not need it.

- :class:`ListeningConnection` keeps one connection LISTENing on one channel and hands each
  payload to ``on_notify(payload)``. When the connection is lost (``pg_terminate_backend``,
  a restarted server, a network cut) it connects again, every 0.2 s until it can, and calls
  ``on_reconnect()`` once it listens again: notifications sent while it was away are lost,
  so the owner re-reads what it watches (the journal) or relies on its own fallback (the
  webhook hub's safety-net poll).
- :meth:`ListeningConnection.execute` runs a statement on that same connection (``SELECT
  pg_notify(...)``), so publishing needs no second connection.
- :func:`connection_errors` is what counts as a lost connection, for both.

Example::

    conn = ListeningConnection(url, channel="news", what="relay", on_notify=print,
                               on_reconnect=lambda: None, error=RuntimeError)
    await conn.start()                                   # returns once LISTENing
    await conn.execute("SELECT pg_notify($1, $2)", "news", "hello", timeout=5)  # prints hello
    await conn.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..logs import sdk_logger

if TYPE_CHECKING:
    import asyncpg

__all__ = ["ListeningConnection", "connection_errors", "redact"]

logger = sdk_logger("pixverse_async")

#: Seconds between two attempts to connect again.
RECONNECT_PAUSE = 0.2


def connection_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean "the connection was lost or could not be made; try again".

    Imports asyncpg (raises ImportError without the ``[postgres]`` extra).
    """
    import asyncpg

    return (
        OSError,
        asyncio.TimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,
        asyncpg.exceptions.DeadlockDetectedError,
        asyncpg.exceptions.TooManyConnectionsError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,  # a protocol cut off mid-message
    )


def redact(url: str) -> str:
    """``url`` without its password.

    Example::

        >>> redact("postgresql://app:s3cret@db:5432/jobs")
        'postgresql://app@db:5432/jobs'
    """
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class ListeningConnection:
    """One connection to ``url`` LISTENing on ``channel``, reconnecting when lost.

    ``what`` names the owner in errors and logs (``"journal"``: "journal is closed",
    "journal postgresql://db/jobs: cannot LISTEN ..."), always with the URL's password
    removed; ``error`` is the exception class raised. ``on_notify(payload)`` and
    ``on_reconnect()`` run in the event loop and must not block.
    """

    def __init__(
        self,
        url: str,
        *,
        channel: str,
        what: str,
        on_notify: Callable[[str], None],
        on_reconnect: Callable[[], None],
        error: Callable[[str], Exception],
        application_name: str = "pixverse-async",
        connect_timeout: float = 5.0,
        reconnect_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.what = what
        self.name = redact(url)
        self.application_name = application_name[:63]
        self.connect_timeout = connect_timeout
        self.reconnect_timeout = reconnect_timeout
        self._on_notify = on_notify
        self._on_reconnect = on_reconnect
        self._error = error
        self._retryable: tuple[type[Exception], ...] = ()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._using = asyncio.Lock()  # one statement at a time on the connection
        self._ready = asyncio.Event()  # set while LISTENing
        self._closing = False
        #: How many times the connection was lost and made again (listening again).
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"<ListeningConnection {self.name!r} channel={self.channel!r}>"

    @property
    def listening(self) -> bool:
        """Whether the connection LISTENs now (False while it reconnects)."""
        return self._ready.is_set()

    async def start(self) -> None:
        """Return once LISTENing (starting the connection if needed); raise ``error`` when
        that takes over ``reconnect_timeout`` seconds or the server refuses for good."""
        self._launch()
        await self._until_ready(self.reconnect_timeout, "cannot LISTEN for notifications")

    async def execute(self, query: str, *args: Any, timeout: float) -> None:
        """Run ``query`` on the listening connection, within ``timeout`` seconds in all.

        Waits while the connection (re)connects; a statement that failed because the
        connection was lost runs again on the next one (so it may have run twice: fit for
        ``NOTIFY``, whose listeners recognise repeats). Raises ``error`` when time is up.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._launch()
        while True:
            await self._until_ready(
                max(0.0, deadline - loop.time()), f"no connection within {timeout:g} s"
            )
            async with self._using:
                conn = self._conn
                if conn is None or not self._ready.is_set():
                    continue  # lost while this waited for its turn
                try:
                    await conn.execute(query, *args, timeout=max(0.001, deadline - loop.time()))
                    return
                except self._retryable as exc:
                    failure = exc
                    unnoticed = self._conn is conn
                    if unnoticed:  # its loss may not be noticed yet: make it so
                        self._ready.clear()
                        conn.terminate()
            if self._closing or loop.time() >= deadline:
                raise self._error(
                    f"{self.what} {self.name}: connection lost: {failure!r}"
                ) from failure

    async def close(self) -> None:
        """Stop listening and close the connection (idempotent)."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def abandon(self) -> None:
        """Stop without waiting: the connection is cut at once (its owner was not closed)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
        if self._conn is not None:
            self._conn.terminate()

    def _launch(self) -> None:
        if self._closing:
            raise self._error(f"{self.what} is closed")
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _until_ready(self, timeout: float, failure: str) -> None:
        task = self._task
        if self._ready.is_set():
            return
        if task is None or self._closing:
            raise self._error(f"{self.what} is closed")
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait((ready, task), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._ready.is_set():
            return
        if task.done() and not task.cancelled():
            task.result()  # the server refused for good: its error
        raise self._error(f"{self.what} {self.name}: {failure}")

    async def _run(self) -> None:
        import asyncpg

        self._retryable = connection_errors()
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
            except self._retryable as exc:
                logger.warning("%s %s: listener cannot connect: %s", self.what, self.name, exc)
                await asyncio.sleep(RECONNECT_PAUSE)
                continue
            try:
                self._conn = conn
                conn.add_termination_listener(on_lost)
                await conn.add_listener(self.channel, self._notified)
                self._ready.set()
                if reconnecting:
                    self.reconnects += 1
                    self._on_reconnect()
                reconnecting = True
                await lost
            except self._retryable as exc:
                logger.warning("%s %s: listener lost: %s", self.what, self.name, exc)
            finally:
                self._ready.clear()
                self._conn = None
                if not conn.is_closed():
                    with contextlib.suppress(*self._retryable):
                        await asyncio.wait_for(conn.close(), self.connect_timeout)
                if not conn.is_closed():
                    conn.terminate()

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._on_notify(payload)
