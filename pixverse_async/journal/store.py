"""The interface a journal store implements, and the SQL both stores build from the table.

A store keeps entries and applies :data:`~pixverse_async.journal.states.TRANSITIONS`
atomically; :class:`~pixverse_async.journal.Journal` is the public face over one store and does
everything that does not depend on the database (arguments, lifecycle, cancellation).

Example::

    from pixverse_async.journal import Journal, store_for

    store = store_for("jobs.sqlite")            # or "postgresql://host/db"
    async with Journal(store) as journal:
        print(await journal.summary())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from .entry import JournalEntry
from .errors import JournalError
from .states import ColumnUpdate, JournalState, Transition

__all__ = ["JournalStore", "binder", "conflict_error", "set_clause"]


class JournalStore(Protocol):
    """What :class:`~pixverse_async.journal.Journal` needs from a database.

    Every method but :meth:`abandon` is called on the event loop, after :meth:`open` and
    before :meth:`close`. A refused transition raises
    :class:`~pixverse_async.journal.JournalStateError` and writes nothing.
    """

    @property
    def name(self) -> str:
        """What to call the database in messages (a path, or a URL without its password)."""
        ...

    async def open(self) -> None:
        """Connect, create the tables if needed; raise :class:`JournalError` if impossible."""
        ...

    async def close(self) -> None:
        """Let pending writes finish, then disconnect. Called once."""
        ...

    def abandon(self) -> None:
        """Release resources without waiting (the journal was garbage-collected unclosed)."""
        ...

    async def get_many(self, keys: Sequence[str]) -> dict[str, JournalEntry]:
        """The entries of ``keys`` that exist, by key."""
        ...

    async def entries(self, state: JournalState | None) -> list[JournalEntry]:
        """All entries (or those in ``state``) in the order they were first recorded."""
        ...

    async def summary(self) -> dict[JournalState, int]:
        """How many entries are in each state, zeros included."""
        ...

    async def add_pending(self, rows: Sequence[tuple[str, str, str]], now: float) -> int:
        """Insert ``(key, kind, canonical body)`` rows as PENDING, in one transaction.

        Existing keys keep their state; one recorded for another request raises
        :class:`JournalError` (from :func:`conflict_error`) and inserts nothing. Returns how
        many keys were new.
        """
        ...

    async def transition(
        self, key: str, name: str, args: Mapping[str, Any], now: float
    ) -> JournalEntry:
        """Apply ``TRANSITIONS[name]`` to ``key`` with the column values ``args``."""
        ...

    async def recover(self) -> list[JournalEntry]:
        """Move SENDING entries whose writer is gone to UNKNOWN; return them."""
        ...


def set_clause(transition: Transition, args: Mapping[str, Any], bind: Callable[[Any], str]) -> str:
    """The ``SET`` list of ``transition`` (without ``updated_at``); ``bind`` adds a parameter
    and returns its placeholder."""
    parts = [f"state = {bind(transition.target.value)}"]
    for column, how in transition.sets.items():
        if how is ColumnUpdate.ARG:
            parts.append(f"{column} = {bind(args[column])}")
        elif how is ColumnUpdate.ARG_OR_KEEP:
            parts.append(f"{column} = coalesce({bind(args[column])}, {column})")
        elif how is ColumnUpdate.KEEP_OR_ARG:
            parts.append(f"{column} = coalesce({column}, {bind(args[column])})")
        elif how is ColumnUpdate.CLEAR:
            parts.append(f"{column} = NULL")
        elif how is ColumnUpdate.INCREMENT_IF_TRACED:
            parts.append(f"{column} = {column} + (CASE WHEN trace_id IS NULL THEN 0 ELSE 1 END)")
        else:
            parts.append(f"{column} = {column} + 1")
    return ", ".join(parts)


def binder(params: list[Any], placeholder: Callable[[int], str]) -> Callable[[Any], str]:
    """A ``bind`` for :func:`set_clause`: appends a value to ``params`` and returns
    ``placeholder(its position from 1)`` (``"?"`` for SQLite, ``"$n"`` for PostgreSQL)."""

    def bind(value: Any) -> str:
        params.append(value)
        return placeholder(len(params))

    return bind


def conflict_error(key: str, kind: str, body: str) -> JournalError:
    """The error for a key already recorded for a different request."""
    return JournalError(
        f"key {key} is already recorded for a different request ({kind} {body[:80]})"
    )
