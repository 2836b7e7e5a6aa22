"""What a run reports: one :class:`Outcome` per request, and the :class:`Progress` counts.

Example::

    from pixverse_async.batch.outcomes import Outcome, OutcomeState, refund

    outcome = Outcome(index=0, key="k", request=None, state=OutcomeState.SUCCEEDED)
    assert outcome.ok
    assert refund(40, OutcomeState.FAILED, "VideoModeratedError") == 40
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from ..errors import PixVerseError
from ..models import Video
from .costs import is_refunded

__all__ = ["Outcome", "OutcomeState", "Progress", "refund"]


class OutcomeState(str, enum.Enum):
    """How a request ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Failed in this run. The journal says what a rerun does: FAILED (a generation that
    failed, a moderation refusal) is not sent again; PENDING (an answer proving nothing was
    generated: a bad key, an invalid request) is; SUBMITTED (``JobTimeoutError``: the run
    stopped waiting, the service did not) is polled."""
    UNKNOWN = "unknown"
    """Sent, but whether the service created it is unknown: never resubmitted by the runner."""
    NOT_SUBMITTED = "not_submitted"
    """Never sent, nothing charged: the spending cap was reached (``SpendingCapError``), the
    balance ran out (``InsufficientCreditsError``) or the API key was refused
    (``AuthenticationError``: nothing else is sent with it). The journal keeps it pending: a
    rerun (with a higher cap, after a top-up, with the right key) submits it."""


@attrs.frozen(kw_only=True)
class Outcome:
    """What became of one request.

    ``index`` is its position in the input; ``key`` its journal key. ``video`` is set when it
    succeeded; ``error`` when it failed or is unknown (``error_type``/``error_message`` say
    the same for outcomes read back from a journal, whose exception objects are gone).
    ``resumed`` marks requests this run did not submit: their outcome was in the journal, or
    an earlier run submitted them and this run resumed polling them. ``credits`` is what the
    service charged for it (None when not charged or not known), ``credits_refunded`` what
    it gave back (a failed or moderated generation).
    """

    index: int
    key: str
    request: Any
    state: OutcomeState
    video_id: int | None = None
    video: Video | None = None
    error: PixVerseError | None = None
    error_type: str | None = None
    error_message: str | None = None
    resumed: bool = False
    credits: int | None = None
    credits_refunded: int = 0

    @property
    def ok(self) -> bool:
        """True when the request produced its video."""
        return self.state is OutcomeState.SUCCEEDED


@attrs.define
class Progress:
    """Counts of a run, passed to ``on_progress`` after every change."""

    seen: int = 0
    queued: int = 0
    submitting: int = 0
    """Requests being sent. On a PostgreSQL journal, a request counts once the account's
    shared limit gave it a place: one asking for a place is neither queued nor submitting."""
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    unknown: int = 0
    not_submitted: int = 0
    credits_charged: int = 0
    """Credits charged for this run's requests, each request's once: by this run, or by an
    earlier run or another worker (as journaled)."""
    credits_refunded: int = 0
    target_concurrency: float = 0
    status_requests: int = 0
    limit_answers: int = 0
    ends_dropped: int = 0
    """Ends that came after a job's end was decided (a status answer that was in flight when
    its webhook event ended the job, a second event): dropped, each counted here."""
    watched_after_timeout: int = 0
    """Jobs this run stopped waiting for (reported failed with ``JobTimeoutError``) that it
    still watches, holding their places, until the service ends them."""
    elsewhere: int = 0
    """Requests of the input that another worker ran or an earlier run finished, not reported
    by this run (``JobRunner(report="own")`` on a PostgreSQL journal)."""
    lease_wait: float | None = None
    """Seconds until the lease of a dead worker of the batch ends and its requests are taken
    over (None: no worker of the batch is known dead)."""

    @property
    def done(self) -> int:
        """Requests that reached an outcome."""
        return self.succeeded + self.failed + self.unknown + self.not_submitted

    @property
    def credits_spent(self) -> int:
        """Credits charged minus credits refunded."""
        return self.credits_charged - self.credits_refunded


def refund(credits: int | None, state: OutcomeState, error_type: str | None) -> int:
    """The credits given back for a request that ended so (failed or moderated: all)."""
    if credits is not None and state is OutcomeState.FAILED and is_refunded(error_type):
        return credits
    return 0
