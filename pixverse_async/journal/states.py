"""The journal's states and its legal transitions, as one table of data both stores share.

Each :class:`Transition` says which states it starts from, which state it reaches and how it
sets the entry's columns. A store turns a row of :data:`TRANSITIONS` into one conditional
``UPDATE ... WHERE key = ? AND state IN (sources)``, so a forbidden transition changes nothing.

    (absent) ──mark_pending──► PENDING ──mark_sending──► SENDING ──mark_submitted──► SUBMITTED
                                  ▲                        │  │  │                    │  │
                                  └─────mark_not_sent──────┘  │  │ mark_unknown       │  │
                                   (nothing was created)      │  ▼ / recover()        │  │
                                                              │ UNKNOWN ─mark_submitted┘  │
                                                              │                           │
                              mark_failed (from any non-terminal state) ──► FAILED        │
                                                                SUCCEEDED ◄─mark_succeeded┘
    requeue(): UNKNOWN or FAILED ──► PENDING   (an explicit operator decision, never automatic)
    mark_held(): PENDING ──► PENDING with a reason (not sent: a spending cap, no balance left)
    mark_resent(): SENDING ──► SENDING, one more resend under the entry's trace id

An entry's ``trace_id`` is set at its first send and kept for life (a later send, a requeue of
an UNKNOWN entry, reuses it: PixVerse answers a reused trace id with the first submit's result,
never a second generation); only a requeue of a FAILED entry clears it (a new generation is
wanted). ``resends`` counts the sends under a trace id already used.

Example::

    >>> from pixverse_async.journal.states import TRANSITIONS, JournalState
    >>> TRANSITIONS["sending"].target is JournalState.SENDING
    True
    >>> sorted(s.value for s in TRANSITIONS["submitted"].sources)
    ['sending', 'unknown']
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

import attrs

__all__ = ["RECOVER_ARGS", "TRANSITIONS", "ColumnUpdate", "JournalState", "Transition"]


class JournalState(str, enum.Enum):
    """Where a request stands. See :mod:`pixverse_async.journal.states` for the transitions."""

    PENDING = "pending"
    """Recorded, nothing sent yet: safe to submit."""
    SENDING = "sending"
    """About to be sent or being sent. Found after a crash, it is ambiguous (see ``recover``)."""
    SUBMITTED = "submitted"
    """The service accepted it and gave a video id: poll, never submit again."""
    SUCCEEDED = "succeeded"
    """Terminal: the video is ready; ``result`` holds the final status JSON."""
    FAILED = "failed"
    """Terminal: rejected or failed (moderation, validation, generation failure)."""
    UNKNOWN = "unknown"
    """Sent, but whether a video was created is unknown: never resubmitted automatically."""

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED and FAILED."""
        return self in (JournalState.SUCCEEDED, JournalState.FAILED)

    @property
    def is_ambiguous(self) -> bool:
        """True for SENDING and UNKNOWN: a request that may have been paid for, with no id."""
        return self in (JournalState.SENDING, JournalState.UNKNOWN)

    @property
    def is_in_flight(self) -> bool:
        """True for SENDING and SUBMITTED: a generation the service may be working on."""
        return self in (JournalState.SENDING, JournalState.SUBMITTED)


class ColumnUpdate(enum.Enum):
    """How a transition sets one column."""

    ARG = "arg"
    """To the value given with the call."""
    ARG_OR_KEEP = "arg_or_keep"
    """To the value given with the call, or left as it is when that value is None."""
    CLEAR = "clear"
    """To NULL."""
    INCREMENT = "increment"
    """To its value plus one."""
    KEEP_OR_ARG = "keep_or_arg"
    """Left as it is, or set to the value given with the call when it is NULL."""
    INCREMENT_IF_TRACED = "increment_if_traced"
    """To its value plus one when the entry already has a ``trace_id`` (a send under it)."""


@attrs.frozen
class Transition:
    """One legal move of the state machine."""

    target: JournalState
    sources: frozenset[JournalState]
    sets: Mapping[str, ColumnUpdate]
    """Columns this transition writes, in the order their arguments are bound."""
    repeat_if_same: tuple[str, ...] = ()
    """Columns that identify a repeat: an entry already at ``target`` whose columns equal the
    call's values is returned as it is (``mark_submitted`` with the same video id)."""
    durable: bool = False
    """A crash-safety point: on disk (fsynced) before the call returns."""

    @property
    def arg_columns(self) -> tuple[str, ...]:
        """The columns whose values the call supplies, in binding order."""
        takes = (ColumnUpdate.ARG, ColumnUpdate.ARG_OR_KEEP, ColumnUpdate.KEEP_OR_ARG)
        return tuple(column for column, how in self.sets.items() if how in takes)

    def is_done(
        self,
        state: JournalState,
        columns: Mapping[str, Any],
        args: Mapping[str, Any],
        among: tuple[str, ...],
    ) -> bool:
        """True if an entry in ``state`` with stored ``columns`` already shows this transition
        made with ``args``, judged on the columns ``among`` (a None ``ARG_OR_KEEP`` value
        matches anything).

        With ``among=repeat_if_same`` it recognises a harmless repeat; with
        ``among=arg_columns``, a write that committed although its answer was lost.
        """
        if state is not self.target:
            return False
        return all(
            columns[column] == args[column]
            for column in among
            if not (self.sets[column] is ColumnUpdate.ARG_OR_KEEP and args[column] is None)
        )


_S = JournalState
_U = ColumnUpdate
NOT_TERMINAL: Final = frozenset((_S.PENDING, _S.SENDING, _S.SUBMITTED, _S.UNKNOWN))
_CLEAR_ERROR: Final = {"error_type": _U.CLEAR, "error_message": _U.CLEAR}
_SET_ERROR: Final = {"error_type": _U.ARG, "error_message": _U.ARG}

TRANSITIONS: Final[Mapping[str, Transition]] = {
    "sending": Transition(
        _S.SENDING,
        frozenset((_S.PENDING,)),
        {
            "resends": _U.INCREMENT_IF_TRACED,
            "trace_id": _U.KEEP_OR_ARG,
            "attempts": _U.INCREMENT,
            **_CLEAR_ERROR,
        },
        durable=True,
    ),
    "resent": Transition(_S.SENDING, frozenset((_S.SENDING,)), {"resends": _U.INCREMENT}),
    "submitted": Transition(
        _S.SUBMITTED,
        frozenset((_S.SENDING, _S.UNKNOWN)),
        {"video_id": _U.ARG, "credits": _U.ARG, **_CLEAR_ERROR},
        repeat_if_same=("video_id",),
        durable=True,
    ),
    "not_sent": Transition(_S.PENDING, frozenset((_S.SENDING,)), _SET_ERROR),
    "held": Transition(_S.PENDING, frozenset((_S.PENDING,)), _SET_ERROR),
    "succeeded": Transition(
        _S.SUCCEEDED,
        frozenset((_S.SUBMITTED, _S.SUCCEEDED)),
        {"result": _U.ARG, "url": _U.ARG, **_CLEAR_ERROR},
    ),
    "failed": Transition(_S.FAILED, NOT_TERMINAL | {_S.FAILED}, _SET_ERROR),
    "unknown": Transition(
        _S.UNKNOWN,
        frozenset((_S.SENDING, _S.UNKNOWN)),
        {"trace_id": _U.ARG_OR_KEEP, **_SET_ERROR},
    ),
    "requeue": Transition(  # sent again under its own trace id: never generated twice
        _S.PENDING,
        frozenset((_S.UNKNOWN,)),
        dict.fromkeys(
            ("video_id", "credits", "url", "result", "error_type", "error_message"), _U.CLEAR
        ),
    ),
    "requeue_failed": Transition(  # a new generation is wanted: a new trace id
        _S.PENDING,
        frozenset((_S.FAILED,)),
        dict.fromkeys(
            ("trace_id", "video_id", "credits", "url", "result", "error_type", "error_message"),
            _U.CLEAR,
        ),
    ),
    "recover": Transition(_S.UNKNOWN, frozenset((_S.SENDING,)), _SET_ERROR),
}
"""Every legal transition, by the name of the journal method that makes it
(``mark_<name>``, ``requeue``, ``recover``)."""

RECOVER_ARGS: Final[Mapping[str, Any]] = {
    "error_type": "Interrupted",
    "error_message": "the writer stopped after mark_sending and before the answer was"
    " recorded: the request may have been created (see trace_id)",
}
"""What ``recover`` records on a SENDING entry whose writer is gone."""
