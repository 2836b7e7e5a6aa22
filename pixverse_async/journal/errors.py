"""The journal's errors: all are :class:`~pixverse_async.errors.PixVerseError`."""

from __future__ import annotations

from ..errors import PixVerseError
from .states import JournalState

__all__ = ["JournalError", "JournalLeaseError", "JournalLockedError", "JournalStateError"]


class JournalError(PixVerseError):
    """The journal could not do what was asked (database error, closed journal, bad data)."""


class JournalLockedError(JournalError):
    """Another :class:`Journal` (in this or another process) has the SQLite file open."""


class JournalLeaseError(JournalError):
    """A PostgreSQL worker's lease ended (others may have taken over its requests), or the
    request is claimed by another live worker: this worker must not send it."""


class JournalStateError(JournalError):
    """A transition that the state machine forbids, e.g. ``mark_sending`` on a SUBMITTED entry.

    ``state`` is the entry's current state, or None when the key is not in the journal.
    """

    def __init__(self, key: str, state: JournalState | None, target: JournalState) -> None:
        self.key = key
        self.state = state
        self.target = target
        where = "it is not in the journal" if state is None else f"it is {state.value}"
        super().__init__(f"cannot mark {key} as {target.value}: {where}")
