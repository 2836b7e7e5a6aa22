"""Which requests a journal holds as finished, read without opening it as a run does.

A resumed batch asks this before it starts: the requests it holds as finished (SUCCEEDED,
FAILED, UNKNOWN) need not be read again before the others are sent. Reading changes nothing:
no journal is created, no worker registered, no lease taken over; when the journal cannot be
read so (no file yet, no table, a server that does not answer, a file another process holds),
:func:`finished_keys` gives None and the caller goes without.

The keys are read in one pass (one scan of the file, or one query streamed from the server)
and kept as 64 bits each, sorted: about 8 bytes per finished request, and a look-up is a
binary search. Two keys that share their first 64 bits (about one chance in 10^9 for a batch
of 100,000) would both count as finished: use it to order work, not to skip it.

Example::

    done = await finished_keys("jobs.jsonl.journal.sqlite")
    if done is not None and key in done:
        ...  # the journal holds that request as finished
"""

from __future__ import annotations

import array
import asyncio
import bisect
import contextlib
import os
import sqlite3
from collections.abc import Iterable
from typing import Final

from .journal import is_postgres_url
from .pg_schema import Tables, ident

__all__ = ["FinishedKeys", "finished_keys"]

_FINISHED: Final = ("succeeded", "failed", "unknown")
_ROWS_AT_ONCE: Final = 10_000


class FinishedKeys:
    """The keys of a journal's finished requests, 64 bits of each, sorted.

    >>> done = FinishedKeys(["ab" * 32, "cd" * 32])
    >>> "ab" * 32 in done, "ef" * 32 in done, len(done)
    (True, False, 2)
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._sorted = array.array("Q", sorted(_digest(key) for key in keys))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        digest = _digest(key)
        at = bisect.bisect_left(self._sorted, digest)
        return at < len(self._sorted) and self._sorted[at] == digest

    def __len__(self) -> int:
        return len(self._sorted)


def _digest(key: str) -> int:
    return int(key[:16], 16)


def _read_sqlite(path: str) -> FinishedKeys | None:
    if not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute(
            "SELECT key FROM entries WHERE state IN ('succeeded', 'failed', 'unknown')"
        )
        return FinishedKeys(row[0] for row in rows)
    except sqlite3.Error:  # not a journal, or held by a running batch
        return None
    finally:
        conn.close()


async def _read_postgres(url: str, batch: str, schema: str) -> FinishedKeys | None:
    import asyncpg

    with contextlib.suppress(Exception):  # whatever it is, the run's own opening says it
        ident(schema, "schema")
        conn = await asyncpg.connect(url, timeout=10)
        try:
            digests = array.array("Q")
            async with conn.transaction(readonly=True):
                rows = conn.cursor(
                    f"SELECT key FROM {Tables(schema).entries} WHERE batch = $1"
                    " AND state = ANY($2::text[])",
                    batch,
                    list(_FINISHED),
                    prefetch=_ROWS_AT_ONCE,
                )
                async for row in rows:
                    digests.append(_digest(row[0]))
            done = FinishedKeys()
            done._sorted = array.array("Q", sorted(digests))
            return done
        finally:
            await conn.close()
    return None


async def finished_keys(
    target: str | os.PathLike[str], *, batch: str | None = None, schema: str | None = None
) -> FinishedKeys | None:
    """The finished requests of the journal at ``target`` (a SQLite file, or a
    ``postgresql://`` URL with its ``batch`` and ``schema``), or None when it cannot be read
    so (a journal that does not exist yet included)."""
    if is_postgres_url(target):
        if batch is None:
            return None
        return await _read_postgres(str(target), batch, schema or "public")
    return await asyncio.to_thread(_read_sqlite, os.fspath(target))
