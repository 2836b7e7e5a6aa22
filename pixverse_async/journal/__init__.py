"""The durable journal of paid submissions, on SQLite (default) or PostgreSQL.

- :mod:`.states`: the states and the table of legal transitions, shared by both stores;
- :mod:`.journal`: :class:`Journal`, the public face, and :func:`store_for`;
- :mod:`.store`: the :class:`JournalStore` interface;
- :mod:`.sqlite`: :class:`SqliteStore`, one file, one process;
- :mod:`.postgres`: :class:`PostgresStore`, many processes and machines (asyncpg, imported
  only when such a store opens).

Example::

    async with Journal("jobs.sqlite") as journal:            # or "postgresql://host/db"
        await journal.mark_pending(request_key("text_to_video", body), "text_to_video", body)

May import: the foundation and the batch's price and limit rules (the PostgreSQL store
applies them in its transactions); nothing of the session, the endpoints or the runner.
"""

from __future__ import annotations

from .entry import JournalEntry, request_key
from .errors import JournalError, JournalLeaseError, JournalLockedError, JournalStateError
from .journal import Journal, is_postgres_url, store_for
from .postgres import PostgresStore
from .sqlite import SqliteStore
from .states import TRANSITIONS, JournalState, Transition
from .store import JournalStore

__all__ = [
    "TRANSITIONS",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalLeaseError",
    "JournalLockedError",
    "JournalState",
    "JournalStateError",
    "JournalStore",
    "PostgresStore",
    "SqliteStore",
    "Transition",
    "is_postgres_url",
    "request_key",
    "store_for",
]
