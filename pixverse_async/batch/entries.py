"""Reading a journal's entries without changing it: the one place other modules read a journal.

Example::

    entries = await read_entries("batch.jsonl.journal.sqlite")
    print(sum(e.credits or 0 for e in entries), "credits charged")
"""

from __future__ import annotations

import asyncio
import os

from ..journal import Journal, JournalEntry, is_postgres_url

__all__ = ["read_entries"]


async def read_entries(journal: Journal | str | os.PathLike[str]) -> list[JournalEntry]:
    """Every entry of ``journal`` (an open :class:`Journal` or a file), in the order recorded.

    A file (or a ``postgresql://`` URL) is opened without recovery, so reading never moves an
    entry to another state. A file that does not exist raises :class:`FileNotFoundError`
    (nothing is created).
    """
    if isinstance(journal, Journal):
        return await journal.entries()
    if not is_postgres_url(journal) and not await asyncio.to_thread(os.path.exists, journal):
        raise FileNotFoundError(f"no journal at {os.fspath(journal)}")
    async with Journal(journal, recover=False) as opened:
        return await opened.entries()
