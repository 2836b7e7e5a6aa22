"""When to poll a job and when to give up: the one poll schedule every waiter uses.

- :class:`PollPolicy` (frozen settings): the first delay, the growing interval, the timeout.
- :class:`PollSchedule` (one job's state): when its next poll is due, its deadline, whether
  it timed out, and the :class:`~pixverse_async.errors.JobTimeoutError` that says so.
  ``GenerationJob.wait`` and the job runner both use it, so a job polled by either (fresh,
  awaited again, or resumed from a journal) is polled and timed out the same way.
- :func:`poll_until_done`: the wait loop over a schedule, parameterised by the coroutine that
  fetches the status, for any kind of job.
- :class:`PollLearner`: learns how long generations of each kind take from the jobs that
  finished, so the first poll comes when about half of them are done instead of after the
  policy's fixed ``first_delay``.

Example::

    from pixverse_async import PollPolicy
    from pixverse_async.jobs.polling import PollSchedule

    policy = PollPolicy(first_delay=10.0, interval=1.0, factor=2.0, max_delay=5.0, jitter=0.0,
                        timeout=30.0)
    schedule = PollSchedule.begin(policy, now=100.0)
    assert schedule.first_poll_at() == 110.0 and schedule.deadline == 130.0
    assert schedule.after_poll(110.0) == 111.0     # not done: the policy's next delay
    assert schedule.after_poll(130.0) is None      # the deadline has passed: timed out
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import attrs

from ..errors import (
    JobTimeoutError,
    RateLimitError,
    ResponseDecodingError,
    ServerError,
    TransportError,
)
from ..logs import sdk_logger

logger = sdk_logger("pixverse_async")

_T = TypeVar("_T")

#: Failures of a status poll that are worth polling through until the overall timeout.
TRANSIENT_POLL_ERRORS = (TransportError, ResponseDecodingError, RateLimitError, ServerError)


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How to poll a generation's status.

    The first poll comes ``first_delay`` seconds after the submit; the n-th wait after that
    is ``min(max_delay, interval * factor ** (n - 1))``, spread by ``±jitter`` (a fraction).
    Waiting gives up ``timeout`` seconds after it began (None: never): after the submit in
    the runner, when ``wait()`` is called, when a run resumes a job from its journal. The
    defaults suit real generations of 30 s to several minutes; the job runner also learns the
    typical generation time of each kind of job and polls first near it (:class:`PollLearner`).

    PixVerse asks clients to poll the status "every 3-5s" (its llm.txt page). The defaults
    keep to the lower bound: the first poll comes 5 s after the submit and the second 3.5 s
    later, and no wait is shorter than 3 s, jitter included (3.5 s - 10 %). Most generations
    take 30 s to 2 minutes, so from the third poll on the waits grow by 1.5 (5.25 s, 7.9 s,
    ...) up to 15 s: a long job, or many in flight at once, costs fewer requests of the
    account's request-rate limit, and a finished video is noticed at most 15 s late. Set
    ``factor=1`` and ``max_delay=interval`` to poll at a steady 3-5 s.

    >>> policy = PollPolicy(first_delay=10.0, interval=1.0, factor=2.0, max_delay=5.0, jitter=0.0)
    >>> [policy.delay(n) for n in range(5)]
    [10.0, 1.0, 2.0, 4.0, 5.0]
    """

    first_delay: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    interval: float = attrs.field(default=3.5, validator=attrs.validators.gt(0))
    factor: float = attrs.field(default=1.5, validator=attrs.validators.ge(1))
    max_delay: float = attrs.field(default=15.0, validator=attrs.validators.gt(0))
    jitter: float = attrs.field(
        default=0.1, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )
    timeout: float | None = attrs.field(default=900.0)

    def base_delay(self, poll_number: int) -> float:
        """The wait before poll number ``poll_number`` (0 is the first poll), without jitter."""
        if poll_number == 0:
            return self.first_delay
        return min(self.max_delay, self.interval * self.factor ** (poll_number - 1))

    def delay(self, poll_number: int) -> float:
        """The wait before poll number ``poll_number`` (0-based: 0 is the first poll)."""
        base = self.base_delay(poll_number)
        if self.jitter:
            base *= 1 + random.uniform(-self.jitter, self.jitter)
        return base

    def polls_within(self, elapsed: float) -> int:
        """How many polls this policy makes in the first ``elapsed`` seconds after a submit.

        >>> PollPolicy(first_delay=5, interval=2, factor=1.5, max_delay=15).polls_within(60)
        7
        """
        if elapsed < self.first_delay:
            return 0
        polls, at = 1, self.first_delay
        while True:
            step = self.base_delay(polls)
            if step >= self.max_delay:  # from here on every wait is max_delay
                return polls + int((elapsed - at) // self.max_delay)
            if at + step > elapsed:
                return polls
            polls, at = polls + 1, at + step


def timeout_error(video_id: int, status: object, waited: float) -> JobTimeoutError:
    """The error of a job whose waiting timed out (it keeps running on the service)."""
    shown = getattr(status, "name", status)
    return JobTimeoutError(
        f"video {video_id} still not done after {waited:.1f}s (last status: {shown}); it "
        "keeps running: wait for it again (or rerun with the same journal) to resume",
        video_id=video_id,
        status=status,
        waited=waited,
    )


@attrs.define(eq=False)
class PollSchedule:
    """One job's polls: when the next is due, its deadline, and whether it timed out.

    Times are event-loop times (``loop.time()``). ``started`` is when waiting began (the
    timeout counts from there); ``submitted`` is when the job was submitted, if known (the
    first poll is ``first_delay`` after it, and learning needs it). Build one with
    :meth:`begin`; call :meth:`after_poll` after every status request that did not end the
    job, and :meth:`finished` once it succeeded.
    """

    policy: PollPolicy
    started: float
    first_delay: float
    submitted: float | None = None
    polls: int = 0
    #: The policy's poll number the next wait is computed for (ahead of ``polls`` when the
    #: first poll was learned: the polls the policy would have made before it are skipped).
    step: int = 0
    learner: PollLearner | None = None
    learner_key: Hashable = None
    learned: bool = False
    #: The learner's estimate when this job began (what its feedback is judged against).
    estimate: float | None = None

    @classmethod
    def begin(
        cls,
        policy: PollPolicy,
        now: float,
        *,
        submitted: float | None = None,
        first_delay: float | None = None,
        learner: PollLearner | None = None,
        key: Hashable = None,
    ) -> PollSchedule:
        """Start waiting at ``now``.

        The first poll comes ``first_delay`` (default: what ``learner`` expects for ``key``,
        else ``policy.first_delay``) after ``submitted`` (default ``now``); pass
        ``first_delay=0`` to poll at once (a job resumed from a journal).
        """
        expected = learner.first_delay(key) if learner is not None else None
        learned = first_delay is None and expected is not None
        if first_delay is None:
            first_delay = policy.delay(0) if expected is None else expected
        return cls(
            policy=policy,
            started=now,
            first_delay=first_delay,
            submitted=submitted if submitted is not None else now,
            learner=learner,
            learner_key=key,
            learned=learned,
            estimate=expected,
        )

    @property
    def deadline(self) -> float | None:
        """When waiting gives up (None: never)."""
        timeout = self.policy.timeout
        return None if timeout is None else self.started + timeout

    def first_poll_at(self) -> float:
        """When the first poll is due (never past the deadline)."""
        base = self.started if self.submitted is None else self.submitted
        at = max(self.started, base + self.first_delay)
        deadline = self.deadline
        return at if deadline is None else min(at, deadline)

    def timed_out(self, now: float) -> bool:
        """True once the deadline has passed."""
        deadline = self.deadline
        return deadline is not None and now >= deadline

    def after_poll(self, now: float) -> float | None:
        """Count a poll that did not end the job; return when the next one is due, or None
        when the deadline has passed (the job timed out)."""
        if self.polls == 0:
            self._after_first_poll(now)
        self.polls += 1
        self.step += 1
        if self.timed_out(now):
            return None
        at = now + self.policy.delay(self.step)
        deadline = self.deadline
        return at if deadline is None else min(at, deadline)

    def _after_first_poll(self, now: float) -> None:
        if self.learned and self.learner is not None:
            self.learner.observe_first_poll(self.learner_key, done=False, at=self.estimate)
        if self.submitted is not None and self.step == 0:
            # Continue with the policy where it would be by now, had it polled from the submit.
            self.step = max(0, self.policy.polls_within(now - self.submitted) - 1)

    def finished(self, now: float, *, exact: bool = False) -> None:
        """The job succeeded at this poll (``exact``: it was told at once, by a webhook, that
        it ended at ``now``): let the learner know how long it took."""
        if self.learner is None or self.submitted is None:
            return
        if exact:
            self.learner.observe_end(self.learner_key, now - self.submitted, at=self.estimate)
        elif self.polls == 0 and self.learned:
            self.learner.observe_first_poll(self.learner_key, done=True, at=self.estimate)
        else:
            self.learner.observe_finished(self.learner_key, now - self.submitted)

    def timeout_error(self, video_id: int, status: object, now: float) -> JobTimeoutError:
        """The :class:`JobTimeoutError` this schedule ends with."""
        return timeout_error(video_id, status, now - self.started)


async def poll_until_done(
    fetch: Callable[[], Awaitable[_T]],
    schedule: PollSchedule,
    *,
    is_done: Callable[[_T], bool],
    job_id: int,
    status_of: Callable[[_T], object],
    news: Callable[[float], Awaitable[_T | None]] | None = None,
) -> _T:
    """Call ``fetch`` on ``schedule`` until ``is_done`` holds for its answer; return it.

    ``news(seconds)``, when given, replaces the sleep between polls: it returns an answer
    that arrived another way (a webhook) within ``seconds``, or None; a done one ends the
    wait without a poll.

    Transient failures of ``fetch`` (:data:`TRANSIENT_POLL_ERRORS`) are polled through, the
    next poll no sooner than a rate limit's ``retry_after``; when
    the schedule's deadline passes, its :class:`JobTimeoutError` is raised with the last
    status seen (``status_of`` of the last answer). Cancelling the awaiting task stops it.
    """
    loop = asyncio.get_running_loop()
    last: _T | None = None

    async def pause(seconds: float) -> _T | None:
        if news is None:
            await asyncio.sleep(seconds)
            return None
        return await news(seconds)

    early = await pause(max(0.0, schedule.first_poll_at() - loop.time()))
    while True:
        if early is not None and is_done(early):
            schedule.finished(loop.time(), exact=True)
            return early
        asked = 0.0  # a rate limit's Retry-After the client did not wait out itself
        try:
            answer = await fetch()
        except TRANSIENT_POLL_ERRORS as exc:
            logger.debug(
                "status of %s failed, polling on: %s",
                job_id,
                exc,
                extra={"trace_id": getattr(exc, "trace_id", None)},
            )
            asked = getattr(exc, "retry_after", None) or 0.0
        else:
            last = answer
            if is_done(answer):
                schedule.finished(loop.time())
                return answer
        now = loop.time()
        due = schedule.after_poll(now)
        if due is None:
            raise schedule.timeout_error(job_id, None if last is None else status_of(last), now)
        early = await pause(max(0.0, due - now, asked))


@attrs.frozen(kw_only=True)
class SafetyNet:
    """How a job that a webhook will finish is still polled, in case its delivery is lost.

    The first poll comes ``factor`` times the expected generation time after the submit (the
    learner's estimate for the job's kind, else ``expected``), then one every ``interval``
    seconds (or the expected time, if longer), until the policy's timeout. With the defaults
    a 60 s generation whose delivery arrives is never polled; one whose delivery was lost is
    found about two minutes late at most, at the cost of one or two status requests.

    >>> net = SafetyNet(factor=3.0, expected=60.0, interval=60.0)
    >>> schedule = net.schedule(PollPolicy(jitter=0.0), now=0.0)
    >>> schedule.first_poll_at(), schedule.after_poll(180.0)
    (180.0, 240.0)
    """

    factor: float = attrs.field(default=3.0, validator=attrs.validators.ge(1))
    expected: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    interval: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))

    def schedule(
        self,
        policy: PollPolicy,
        now: float,
        *,
        submitted: float | None = None,
        learner: PollLearner | None = None,
        key: Hashable = None,
        first_delay: float | None = None,
    ) -> PollSchedule:
        """The poll schedule of a job submitted at ``submitted`` (default ``now``): the
        policy's timeout and jitter, the safety net's times; a learner still learns from it.

        ``first_delay=0`` polls once at once, then by the safety net (a job resumed from a
        journal, which may have ended while nothing listened):

        >>> net = SafetyNet(factor=3.0, expected=60.0, interval=60.0)
        >>> resumed = net.schedule(PollPolicy(jitter=0.0), now=0.0, first_delay=0.0)
        >>> resumed.first_poll_at(), resumed.after_poll(0.0)
        (0.0, 60.0)
        """
        estimate = learner.first_delay(key) if learner is not None else None
        expected = self.expected if estimate is None else estimate
        every = max(self.interval, expected)
        net = attrs.evolve(policy, first_delay=self.factor * expected, interval=every,
                           factor=1.0, max_delay=every)  # fmt: skip
        first = net.first_delay if first_delay is None else first_delay
        return PollSchedule.begin(
            net, now, submitted=submitted, first_delay=first, learner=learner, key=key
        )


def learning_key(request: Any) -> Hashable:
    """What makes generations alike in duration: the kind, model, quality and duration."""
    if request is None:
        return None
    return (
        getattr(request, "kind", type(request).__name__),
        getattr(request, "model", None),
        getattr(request, "quality", None),
        getattr(request, "duration", None),
    )


@attrs.define(eq=False)
class _Estimate:
    finished: list[float] = attrs.Factory(list)
    first: float | None = None


@attrs.define(eq=False)
class PollLearner:
    """Learns when to poll first, per kind of job, from the jobs that finished.

    Until ``min_samples`` jobs of a kind finished, the policy's ``first_delay`` is used and
    each job's time to its successful poll is recorded; their ``quantile`` starts the
    estimate. From then on the first poll comes at the estimate, and each job's first poll
    corrects it: a job found done moves it earlier, one still running moves it later, so it
    settles where ``quantile`` of the jobs are done at their first poll (at 0.5, half of them
    need one status request). It works with any first-poll time the service allows, and
    keeps tracking when generations get slower or faster. After the first poll the policy
    continues where it would have been by then.

    A correction is made from the estimate the job was polled at (``at``), not compounded on
    the current one: many jobs in flight at once were all polled at about the same estimate,
    and their answers, arriving together, move it one step from there, not one step each (200
    jobs polled a little early would otherwise push it 150-fold too late, then back).

    >>> learner = PollLearner(min_samples=3)
    >>> for seconds in (50.0, 60.0, 70.0):
    ...     learner.observe_finished("t2v", seconds)
    >>> learner.first_delay("t2v")
    60.0
    >>> learner.observe_first_poll("t2v", done=True)    # done already: poll earlier next time
    >>> learner.first_delay("t2v") < 60.0
    True
    """

    quantile: float = attrs.field(
        default=0.5, validator=[attrs.validators.gt(0), attrs.validators.lt(1)]
    )
    min_samples: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    #: Step of the correction, in log-seconds per job (0.05: 2.5 % per first poll at 0.5).
    rate: float = attrs.field(default=0.05, validator=attrs.validators.gt(0))
    _kinds: dict[Hashable, _Estimate] = attrs.field(factory=dict, init=False)

    def first_delay(self, key: Hashable) -> float | None:
        """Seconds from the submit to the first poll for jobs of ``key`` (None: not known)."""
        estimate = self._kinds.get(key)
        return None if estimate is None else estimate.first

    def observe_finished(self, key: Hashable, seconds: float) -> None:
        """A job of ``key`` was seen done ``seconds`` after its submit (before learning)."""
        estimate = self._kinds.setdefault(key, _Estimate())
        if estimate.first is not None:
            return
        estimate.finished.append(max(seconds, 1e-3))
        if len(estimate.finished) >= self.min_samples:
            ordered = sorted(estimate.finished)
            at = ordered[min(len(ordered) - 1, int(self.quantile * len(ordered)))]
            estimate.first = at
            estimate.finished.clear()

    def observe_end(self, key: Hashable, seconds: float, *, at: float | None = None) -> None:
        """A job of ``key`` is known to have ended exactly ``seconds`` after its submit (its
        webhook event came): a sample while learning, then the answer a first poll at the
        estimate (``at``: the one when the job began; default the current one) would have
        had, which keeps correcting it.

        >>> learner = PollLearner(min_samples=1)
        >>> learner.observe_end("t2v", 10.0)
        >>> learner.observe_end("t2v", 20.0)          # a poll at 10 s would have missed it
        >>> learner.first_delay("t2v") > 10.0
        True
        """
        estimate = self._kinds.get(key)
        if estimate is None or estimate.first is None:
            self.observe_finished(key, seconds)
            return
        tested = estimate.first if at is None else at
        self.observe_first_poll(key, done=seconds <= tested, at=tested)

    def observe_first_poll(self, key: Hashable, *, done: bool, at: float | None = None) -> None:
        """A job of ``key`` polled first at the learned time ``at`` (default: the current
        estimate) was (or was not) done: the estimate goes one step earlier (later) than
        ``at``, unless it already is."""
        estimate = self._kinds.get(key)
        if estimate is None or estimate.first is None:
            return
        tested = estimate.first if at is None else at
        if done:
            estimate.first = min(
                estimate.first, tested * math.exp(-self.rate * (1 - self.quantile))
            )
        else:
            estimate.first = max(estimate.first, tested * math.exp(self.rate * self.quantile))
