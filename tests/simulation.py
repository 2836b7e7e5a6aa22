"""A stateful simulation of the job runner, the webhook hub and the journal (issue 20).

A :class:`World` (how many requests, the concurrency limit, the spending cap, the poll timeout,
webhooks or not, SQLite or PostgreSQL) and a list of :class:`Step` s are played by
:func:`simulate` against the emulator on its manual clock: submits happen as the runner
decides, and the steps interleave polls and generation ends (``Advance``, ``Finish``), webhook
deliveries (``Deliver``: duplicated, in any order, late or never; ``Forge``), submit and status
faults (500044, ambiguous answers, client timeouts), poll timeouts (``Stall``), ``job.wait()``
cancellations (``Direct``, ``CancelWait``), Ctrl-C and rerun on the same journal, a run with a
wrong API key (``WrongKey``), hostile deliveries (``DeepNest``), and on PostgreSQL a second
worker, a worker's death with lease take-over and ``pg_terminate_backend``.

After each step has settled (bounded: see :meth:`Simulation.settle`) :class:`Checker` checks
every invariant; at the end every generation is finished and the run must end within
:data:`FINAL_BOUND` seconds with exactly one outcome per request. A failure raises
``AssertionError`` naming the invariant, with the trace of what happened. Hypothesis draws the
world and the steps (:func:`worlds`, :func:`step_lists`), so a failing example is shrunk and
printed as ``simulate(World(...), [Advance(seconds=61.0), ...])``, which replays it.

The runner's own timers (polls, holds, timeouts) run on real loop time: the policies here are
tiny, and every wait is on a condition with a bound, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import attrs
from hypothesis import strategies as st

from pixverse_async import PixVerse, PollPolicy, RetryPolicy, TextToVideo
from pixverse_async.batch.costs import CostEstimator
from pixverse_async.batch.runner import JobRunner, Outcome, OutcomeState, Progress, RunStream
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator, EmulatorConfig, Generation
from pixverse_async.jobs.polling import SafetyNet
from pixverse_async.journal import (
    Journal,
    JournalEntry,
    JournalError,
    JournalLeaseError,
    JournalState,
)
from pixverse_async.webhooks import CompletionHub, PostgresRelay, webhook_handler

from .pg import terminate
from .test_webhooks_handler import serving
from .webhook_signing import delivery

KEY = "sim-key-batch"
DIRECT_KEY = "sim-key-direct"  # the direct jobs' account: the batch's limit is the runner's
SECRET = "whsec-sim-SECRET-20"
WEBHOOK_ID = "2020"
FIELDS: dict[str, Any] = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
#: Emulator seconds a generation runs (manual clock): ``Advance(61)`` ends all running.
GENERATION = 60.0
EVIL_URL = "https://evil.example/x.mp4"
#: Real seconds a step may take to settle, and the final drain to end every run.
SETTLE_BOUND = 5.0
FINAL_BOUND = 20.0
#: The client gives up reading an answer after CLIENT_READ seconds: a submit held by a ``slow``
#: fault (SLOW_SUBMIT) is ambiguous; a status answer held (SLOW_STATUS) arrives, stale.
CLIENT_READ = 1.0
SLOW_SUBMIT = 1.5
SLOW_STATUS = 0.6
LEASE = 2.0  # PostgreSQL workers' lease (seconds)
#: How long a step waits for a live worker to claim what a stopped one gave back; then the
#: invariants are checked as things are (the account's count must hold their places anyway).
TAKE_OVER_BOUND = 1.5 * LEASE
HOLD = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.02)
RETRY = RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02)
NET = SafetyNet(factor=1.0, expected=0.05, interval=0.05)
RUNNER_OPTIONS = inspect.signature(JobRunner).parameters


def policy(timeout: float | None) -> PollPolicy:
    return PollPolicy(
        first_delay=0.01, interval=0.02, factor=1.0, max_delay=0.02, jitter=0.0, timeout=timeout
    )


# -- The rules the invariants use, each in one place ---------------------------------------------

#: How a stream's outcome and its request's journal entry agree (checked while the run lives
#: and when it ends). A request the cap or the balance stopped stays PENDING: a rerun sends it.
AGREEING: dict[OutcomeState, frozenset[JournalState]] = {
    OutcomeState.SUCCEEDED: frozenset({JournalState.SUCCEEDED}),
    OutcomeState.FAILED: frozenset({JournalState.FAILED}),
    OutcomeState.UNKNOWN: frozenset({JournalState.UNKNOWN}),
    OutcomeState.NOT_SUBMITTED: frozenset({JournalState.PENDING}),
}
#: THE TIMEOUT RULE (issue 20, item 1; the runner's owner decides it): a request the caller
#: stopped waiting for (FAILED, ``JobTimeoutError``) whose generation goes on stays SUBMITTED
#: in the journal while it is watched on, and its real end (SUCCEEDED or FAILED) is recorded
#: when the service ends it. Change this set, and only it, when the decision changes.
TIMED_OUT_JOURNAL_STATES = frozenset(
    {JournalState.SUBMITTED, JournalState.SUCCEEDED, JournalState.FAILED}
)
#: THE REFUSAL RULE (issue 20, item 6): a submit answered with proof that nothing was
#: generated is reported FAILED by the run that met it, and may stay PENDING in the journal,
#: to be sent by the next run. These are the errors of such answers that the simulation meets.
PROOF_NOTHING_GENERATED = frozenset({"AuthenticationError"})
#: THE UNREADABLE-STATUS RULE (issue 20, item 6, polls): a status request answered with an
#: error about the caller (a wrong key) tells nothing of the generation: the run that met it
#: reports it FAILED, and the journal keeps it SUBMITTED until a run that can read it does.
STATUS_ABOUT_THE_CALLER = frozenset({"AuthenticationError"})
#: A request whose submit was ambiguous (journal UNKNOWN, no video id) cannot be watched:
#: its generation, if any, is not counted in the runner's in-flight count or the limit check.
UNCOUNTED_JOURNAL_STATES = frozenset({JournalState.UNKNOWN})


def agrees(outcome: Outcome, state: JournalState | None) -> bool:
    """Whether ``outcome`` (of the stream) and ``state`` (of the journal) tell the same end."""
    if outcome.state is OutcomeState.FAILED and outcome.error_type == "JobTimeoutError":
        return state in TIMED_OUT_JOURNAL_STATES
    if (
        outcome.state is OutcomeState.FAILED
        and outcome.video_id is not None
        and outcome.error_type in STATUS_ABOUT_THE_CALLER
    ):
        return state in TIMED_OUT_JOURNAL_STATES
    if outcome.state is OutcomeState.FAILED and outcome.error_type in PROOF_NOTHING_GENERATED:
        return state in (JournalState.FAILED, JournalState.PENDING)
    return state in AGREEING[outcome.state]


def failed(run: Run) -> bool:
    """Whether ``run`` failed. A killed worker's run is ended by its lease's end, then
    stopped; in between it may try to record something and find its lease ended, and then
    stop with :class:`JournalLeaseError`, as a worker whose lease ended does (the others take
    over): those are a dead worker's last words, not a failure."""
    if run.killed and isinstance(run.error, JournalLeaseError):
        return False
    return run.error is not None


def peak_spend(emu: Emulator, key: str) -> int:
    """The highest the key's spend ever was, by the ledger's entries in the order they
    happened (a refund due at the moment of a charge comes first, as the service made it
    before the client could see the failure; time alone cannot tell them apart on a manual
    clock that did not move); refunds still to come settled last."""
    spend = peak = 0
    for entry in emu.state.ledger.entries(key, now=float("inf")):
        spend += entry.amount
        peak = max(peak, spend)
    return peak


# -- The world and the steps ---------------------------------------------------------------------


@attrs.frozen
class World:
    """What stays fixed in one example."""

    requests: int = 3
    limit: int = 2
    cap: int | None = None  # credits; None: no spending cap
    timeout: float | None = None  # the poll timeout (real seconds); None: never
    webhooks: bool = True  # the runner's client has the hub (else: polls only)
    store: str = "sqlite"  # or "postgres"

    def request(self, index: int) -> TextToVideo:
        return TextToVideo(prompt=f"{PROMPT}{index}", **FIELDS)


PROMPT = "sim scene "  # + the request's index: the batch's prompts (and journal keys) differ


class Step:
    """One action of the simulation; ``repr`` is how a failing example prints it."""

    async def apply(self, sim: Simulation) -> None:
        raise NotImplementedError


@attrs.frozen
class Advance(Step):
    """Move the emulator's clock: generations due by then end (polls will find them)."""

    seconds: float

    async def apply(self, sim: Simulation) -> None:
        sim.emu.advance(self.seconds)


@attrs.frozen
class Finish(Step):
    """End the ``slot``-th running generation (by video id, modulo) as ``outcome`` now; with
    ``deliver``, its webhook is delivered at once too (as PixVerse does, if it asked for one)."""

    slot: int
    outcome: str = "success"
    deliver: bool = False

    async def apply(self, sim: Simulation) -> None:
        running = sim.running_generations(None)
        if running:
            generation = sim.emu.finish(running[self.slot % len(running)].video_id, self.outcome)
            if self.deliver and generation.body.get("webhook_id") == WEBHOOK_ID:
                await sim.deliver(generation)


@attrs.frozen
class Deliver(Step):
    """Deliver, signed, the end of the ``slot``-th ended generation that asked for a webhook
    (``copies`` at once); any order, any number of times, or never (a lost delivery)."""

    slot: int
    copies: int = 1

    async def apply(self, sim: Simulation) -> None:
        ended = sim.ended_webhook_generations()
        if ended:
            generation = ended[self.slot % len(ended)]
            await asyncio.gather(*(sim.deliver(generation) for _ in range(self.copies)))


@attrs.frozen
class Forge(Step):
    """A delivery not signed with the secret, telling a running generation succeeded at an
    evil URL: refused (401), and no job may end by it. On PostgreSQL, the same told by a
    ``NOTIFY`` on the relay's channel, not sealed: dropped."""

    slot: int

    async def apply(self, sim: Simulation) -> None:
        running = sim.running_generations(None)
        if running:
            generation = running[self.slot % len(running)]
            status = await sim.deliver(generation, forged=True)
            sim.checker.expect(status == 401, "forged deliveries are refused", f"HTTP {status}")
            if sim.relay is not None:
                await sim.notify_forged(sim.relay.channel, generation)


@attrs.frozen
class SubmitFault(Step):
    """The next submit meets ``kind``: concurrency_limited (500044), error_500 (before the
    service acts), or ambiguous: reset, html_502, slow (the client's read times out)."""

    kind: str

    async def apply(self, sim: Simulation) -> None:
        sim.emu.faults.once("text_to_video", self.kind, seconds=SLOW_SUBMIT)


@attrs.frozen
class StatusFault(Step):
    """The next status request meets ``kind``: error_500, or slow (an answer that is stale
    when it arrives, past a webhook's end or a timeout). The step lasts until a poll met it
    (at most 1 s: there may be nothing to poll)."""

    kind: str

    async def apply(self, sim: Simulation) -> None:
        rule = sim.emu.faults.once("status", self.kind, seconds=SLOW_STATUS)
        await sim.until(lambda: rule.hits > 0, 1.0)


@attrs.frozen
class Stall(Step):
    """Nothing moves on the service while the poll timeout passes (the client's timeout)."""

    async def apply(self, sim: Simulation) -> None:
        if sim.world.timeout is not None:
            await sim.until(sim.every_generating_job_timed_out, sim.world.timeout + 1.0)


@attrs.frozen
class Direct(Step):
    """A job outside the runner, on another account, through the same hub: ``job.wait()``."""

    async def apply(self, sim: Simulation) -> None:
        await sim.direct_job()


@attrs.frozen
class CancelWait(Step):
    """Cancel the ``slot``-th direct job's ``wait()``."""

    slot: int

    async def apply(self, sim: Simulation) -> None:
        if sim.direct:
            sim.direct[self.slot % len(sim.direct)].cancel()


@attrs.frozen
class CtrlC(Step):
    """Stop the first live run (its journal stays as it was left)."""

    async def apply(self, sim: Simulation) -> None:
        live = sim.live_runs()
        if live:
            await sim.stop(live[0])


@attrs.frozen
class Rerun(Step):
    """Run the batch again on the same journal, when no run is live."""

    async def apply(self, sim: Simulation) -> None:
        if not sim.live_runs():
            await sim.start_run()


@attrs.frozen
class WrongKey(Step):
    """Stop the live runs, run the batch once with a wrong API key (every submit refused,
    nothing generated) until it ends; a later run must still send what it never generated."""

    async def apply(self, sim: Simulation) -> None:
        for run in sim.live_runs():
            await sim.stop(run)
        async with PixVerse(api_key="wrong-key", base_url=sim.emu.base_url, retry=RETRY) as bad:
            run = await sim.start_run(bad)
            assert run.consumer is not None
            await asyncio.wait((run.consumer,), timeout=FINAL_BOUND)
            sim.checker.expect(run.consumer.done(), "every run ends within the bound", run)
            if not run.consumer.done():
                await sim.stop(run)


@attrs.frozen
class DeepNest(Step):
    """Deliveries, signature well-formed but wrong, whose ``url`` is ``[[[...]]]`` nested up
    to ``depth`` deep (each of the 150 depths below it: where the overflow comes depends on the
    stack in use): each refused with 400 or 401, never a 500."""

    depth: int = 1000

    async def apply(self, sim: Simulation) -> None:
        statuses = set()
        for depth in range(max(1, self.depth - 150), self.depth + 1):
            nested = "[" * depth + "]" * depth
            data = f'{{"id": "1", "status": 1, "url": {nested}}}'.encode()
            headers = {
                "Content-Type": "application/json",
                "Webhook-Timestamp": str(int(time.time())),
                "Webhook-Nonce": uuid.uuid4().hex,
                "Webhook-Signature": "A" * 43 + "=",  # base64 of 32 bytes: checked, wrong
            }
            async with sim.http.post(sim.hook_url, data=data, headers=headers) as resp:
                await resp.read()
                statuses.add(resp.status)
        sim.checker.expect(
            statuses <= {400, 401}, "a hostile delivery is refused with 400 or 401", statuses
        )


@attrs.frozen
class SecondWorker(Step):
    """PostgreSQL: another worker runs the same batch (at most two live)."""

    async def apply(self, sim: Simulation) -> None:
        if sim.world.store == "postgres" and len(sim.live_runs()) < 2:
            await sim.start_run()


@attrs.frozen
class KillWorker(Step):
    """PostgreSQL: the ``slot``-th live worker dies (its run stops, nothing is given back),
    and its lease is ended so that the others take over what it held."""

    slot: int

    async def apply(self, sim: Simulation) -> None:
        live = sim.live_runs()
        if sim.world.store == "postgres" and live:
            await sim.kill(live[self.slot % len(live)])


@attrs.frozen
class Terminate(Step):
    """PostgreSQL: ``pg_terminate_backend`` on the ``slot``-th live worker's connections."""

    slot: int

    async def apply(self, sim: Simulation) -> None:
        live = sim.live_runs()
        if sim.world.store == "postgres" and live:
            store = live[self.slot % len(live)].journal.postgres
            assert store is not None
            await terminate(store.application_name, sim.dsn or "")


# -- Strategies ----------------------------------------------------------------------------------


def worlds(store: str) -> st.SearchStrategy[World]:
    price = cost()
    return st.builds(
        World,
        requests=st.integers(1, 5),
        limit=st.integers(1, 3),
        cap=st.one_of(st.none(), st.integers(0, 5).map(lambda n: n * price)),
        timeout=st.sampled_from([None, None, 0.3, 1.0]),
        webhooks=st.booleans(),
        store=st.just(store),
    )


def step_lists(store: str, max_size: int = 20) -> st.SearchStrategy[list[Step]]:
    slot = st.integers(0, 4)
    steps: list[st.SearchStrategy[Step]] = [
        st.builds(Advance, seconds=st.sampled_from([1.0, 30.0, 61.0])),
        st.builds(
            Finish,
            slot=slot,
            outcome=st.sampled_from(["success", "failed", "moderated"]),
            deliver=st.booleans(),
        ),
        st.builds(Deliver, slot=slot, copies=st.sampled_from([1, 2])),
        st.builds(Forge, slot=slot),
        st.builds(
            SubmitFault,
            kind=st.sampled_from(["concurrency_limited", "error_500", "reset", "html_502", "slow"]),
        ),
        st.builds(StatusFault, kind=st.sampled_from(["error_500", "slow"])),
        st.just(Stall()),
        st.just(Direct()),
        st.builds(CancelWait, slot=slot),
        st.just(CtrlC()),
        st.just(Rerun()),
        st.just(WrongKey()),
        st.just(DeepNest()),
    ]
    if store == "postgres":
        steps += [
            st.just(SecondWorker()),
            st.builds(KillWorker, slot=slot),
            st.builds(Terminate, slot=slot),
        ]
    return st.lists(st.one_of(steps), max_size=max_size)


def cost() -> int:
    """What one request of the simulation costs on the emulator (its default prices)."""
    return EmulatorConfig().prices.price({**FIELDS, "prompt": "x"}, Paths.TEXT_TO_VIDEO)


# -- The runs ------------------------------------------------------------------------------------


@attrs.define(eq=False)
class Run:
    """One run of the batch (a worker, with PostgreSQL): its stream and what it told."""

    number: int
    journal: Journal
    stream: RunStream
    outcomes: list[Outcome] = attrs.Factory(list)
    consumer: asyncio.Task[None] | None = None
    stopped: bool = False  # Ctrl-C or death: its stream may stop short
    killed: bool = False  # death (PostgreSQL): its lease was ended, then it was stopped
    error: BaseException | None = None
    #: The journal's states when its stream ended (by request index).
    final_states: dict[int, tuple[JournalState, int | None]] | None = None

    @property
    def live(self) -> bool:
        return self.consumer is not None and not self.consumer.done()

    @property
    def progress(self) -> Progress:
        return self.stream.progress

    def __repr__(self) -> str:
        return f"run {self.number}"


@attrs.define(eq=False)
class DirectJob:
    """A job outside the runner and the task awaiting its ``wait()``."""

    video_id: int
    task: asyncio.Task[Any]
    cancelled: bool = False

    def cancel(self) -> None:
        if not self.task.done():
            self.cancelled = True
            self.task.cancel()


class Violation(AssertionError):
    """An invariant failed."""


class Checker:
    """The invariants, each checked in one method; failures name the invariant."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.failures: list[str] = []  # found in callbacks, raised after the step

    def expect(self, ok: bool, invariant: str, detail: object) -> None:
        if not ok:
            self.failures.append(f"{invariant}: {detail}")

    def raise_failures(self) -> None:
        if self.failures:
            trace = "\n  ".join(self.sim.trace[-40:])
            replay = f"simulate({self.sim.world!r}, {self.sim.steps!r}, tmp_path)"
            raise Violation(
                "; ".join(self.failures[:3]) + f"\n  replay: {replay}\n  trace:\n  {trace}"
            )

    # Called by the runs as they go ---------------------------------------------------------

    def on_progress(self, run: Run, progress: Progress) -> None:
        limit = self.sim.world.limit
        in_flight = progress.running + progress.submitting
        if self.sim.pg:  # a send under way may still be refused by the account's shared count
            in_flight = progress.running
        self.expect(
            min(progress.submitting, progress.running) >= 0 and in_flight <= limit,
            "the runner's in-flight count stays within 0..limit",
            f"{run}: running {progress.running} + submitting {progress.submitting}, limit {limit}",
        )

    def on_outcome(self, run: Run, outcome: Outcome) -> None:
        earlier = [o for o in run.outcomes if o.index == outcome.index]
        self.expect(
            len(earlier) == 1,
            "each request has at most one outcome",
            f"{run}: request {outcome.index}: {[describe(o) for o in earlier]}",
        )
        self.sim.trace.append(f"{run} -> {describe(outcome)}")
        self.forged_or_false_end(f"{run} request {outcome.index}", outcome)

    def forged_or_false_end(self, who: str, outcome: Outcome) -> None:
        """A success is the service's: its generation ended successfully, at its own URL."""
        if outcome.state is not OutcomeState.SUCCEEDED or outcome.resumed:
            return
        generation = self.sim.emu.state.generations.get(outcome.video_id or -1)
        ok = (
            generation is not None
            and generation.outcome == "success"
            and generation.done_at <= self.sim.emu.clock.now()
            and (outcome.video is None or outcome.video.url == self.sim.video_url(generation))
        )
        self.expect(ok, "no forged or false end", f"{who}: {describe(outcome)}")

    # Checked after every step ------------------------------------------------------------------

    async def after_step(self) -> None:
        sim = self.sim
        for run in sim.runs:
            self.expect(not failed(run), "a run never fails", f"{run}: {run.error!r}")
        entries = await sim.journal_states()
        for run in sim.live_runs():
            self.journal_agrees(run, entries)
        self.no_second_generation()
        self.spend_within_cap()
        self.limit_kept(entries)
        if not self.failures:  # settled
            await self.in_flight_is_generating(entries)
        self.raise_failures()

    def journal_agrees(self, run: Run, entries: dict[int, tuple[JournalState, int | None]]) -> None:
        for outcome in run.outcomes:
            if outcome.key == "":
                continue
            state = entries.get(outcome.index, (None, None))[0]
            self.expect(
                agrees(outcome, state),
                "the stream's outcome and the journal agree",
                f"{run}: request {outcome.index}: {describe(outcome)} vs journal {state}",
            )

    def no_second_generation(self) -> None:
        twice = [p for p, n in self.sim.emu.state.generation_count_by_prompt().items() if n > 1]
        self.expect(not twice, "no body is generated twice", twice)

    def spend_within_cap(self) -> None:
        cap = self.sim.world.cap
        if cap is not None:
            peak = peak_spend(self.sim.emu, KEY)
            self.expect(peak <= cap, "spend never exceeds the cap (the ledger)", f"{peak} > {cap}")

    def counted_generating(self, entries: dict[int, tuple[JournalState, int | None]]) -> set[int]:
        """The batch's generations running on the service that the runner can watch."""
        counted = set()
        for generation in self.sim.running_generations(KEY):
            index = self.sim.index_of(generation)
            state = entries.get(index, (None, None))[0] if index is not None else None
            if state not in UNCOUNTED_JOURNAL_STATES:
                counted.add(generation.video_id)
        return counted

    def limit_kept(self, entries: dict[int, tuple[JournalState, int | None]]) -> None:
        generating = self.counted_generating(entries)
        self.expect(
            len(generating) <= self.sim.world.limit,
            "the account's generations never exceed the limit",
            f"{len(generating)} generating > limit {self.sim.world.limit}",
        )

    async def in_flight_is_generating(
        self, entries: dict[int, tuple[JournalState, int | None]]
    ) -> None:
        """Settled: the runs' and the store's in-flight counts are the batch's generations
        the runs watch and the service still generates."""
        sim = self.sim
        live = sim.live_runs()
        generating = self.counted_generating(entries)
        if live and not (sim.pg and any(r.stopped for r in sim.runs)):
            # (with PostgreSQL, a stopped worker's requests wait for a take-over meanwhile)
            in_flight = sum(r.progress.running + r.progress.submitting for r in live)
            self.expect(
                in_flight == len(generating),
                "the runner's in-flight count equals the jobs watched and generating",
                f"runs {in_flight}, generating {sorted(generating)}"
                f" ({[describe_progress(r) for r in live]})",
            )
        if sim.pg and live:  # (with no worker alive, nobody can follow the service)
            store_count = await sim.store_in_flight()
            self.expect(
                store_count == len(generating),
                "the store's in-flight count equals the jobs generating",
                f"store {store_count}, generating {sorted(generating)}",
            )

    # At the end ----------------------------------------------------------------------------------

    async def at_end(self) -> None:
        sim = self.sim
        n = sim.world.requests
        for run in sim.runs:
            if not run.stopped and run.error is None:
                counts = Counter(o.index for o in run.outcomes)
                self.expect(
                    sorted(counts) == list(range(n)) and set(counts.values()) == {1},
                    "each request has exactly one outcome when the run ends",
                    f"{run}: outcomes by request {dict(sorted(counts.items()))}",
                )
        for run in sim.runs:
            if run.final_states is not None:
                self.journal_agrees(run, run.final_states)
        self.refusals_not_final(sim.runs[-1])
        self.no_second_generation()
        self.spend_within_cap()
        for job in sim.direct:
            self.direct_job_ended(job)
        self.expect(
            not sim.hub._watches,
            "every watch is closed once its job ended",
            f"watches of videos {sorted(sim.hub._watches)}",
        )
        self.raise_failures()

    def refusals_not_final(self, run: Run) -> None:
        """An answer proving nothing was generated (a wrong key) leaves the request to send,
        and a wrong key's status answer ends no generation: the last run (with the right
        key) ends no request with such an error."""
        refused = [describe(o) for o in run.outcomes if o.error_type in PROOF_NOTHING_GENERATED]
        self.expect(
            not refused, "a request refused before any generation is sent by a later run", refused
        )

    def direct_job_ended(self, job: DirectJob) -> None:
        if job.cancelled or not job.task.done() or job.task.cancelled():
            return
        error = job.task.exception()
        generation = self.sim.emu.state.generations[job.video_id]
        if error is None:
            video = job.task.result()
            self.expect(
                generation.outcome == "success" and video.url == self.sim.video_url(generation),
                "no forged or false end",
                f"direct job {job.video_id}: {video!r}",
            )
        else:
            self.expect(
                type(error).__name__ in ("JobTimeoutError", *END_ERRORS[generation.outcome]),
                "a wait ends as its generation did",
                f"direct job {job.video_id} ({generation.outcome}): {error!r}",
            )


END_ERRORS = {
    "success": (),
    "failed": ("VideoFailedError",),
    "moderated": ("VideoModeratedError",),
    "deleted": ("VideoDeletedError",),
}


def describe(outcome: Outcome) -> str:
    error = f" {outcome.error_type}" if outcome.error_type else ""
    resumed = " resumed" if outcome.resumed else ""
    return f"#{outcome.index} {outcome.state.value}{error}{resumed} video={outcome.video_id}"


def describe_progress(run: Run) -> str:
    p = run.progress
    return (
        f"{run}: seen {p.seen} queued {p.queued} submitting {p.submitting} running {p.running}"
        f" done {p.done}"
    )


# -- The simulation ------------------------------------------------------------------------------


class Simulation:
    """The emulator, the hub's webhook server, the clients, the runs; see the module doc."""

    def __init__(
        self, world: World, workdir: Path, *, dsn: str | None = None, schema: str | None = None
    ) -> None:
        self.world = world
        self.workdir = workdir
        self.dsn = dsn
        self.schema = schema
        self.batch = f"sim-{uuid.uuid4().hex[:12]}"
        self.pg = world.store == "postgres"
        if self.pg and (dsn is None or schema is None):
            raise ValueError("a PostgreSQL world needs dsn and schema")
        self.runs: list[Run] = []
        self.direct: list[DirectJob] = []
        self.direct_submits = 0  # each direct job's prompt is its own
        self.steps: list[Step] = []  # what is played, for the failure's replay line
        self.trace: list[str] = []
        self.checker = Checker(self)
        # On PostgreSQL the hub has a relay (its deliveries shared through NOTIFY, sealed with
        # a key from the webhook secret): a forged NOTIFY must end nothing.
        self.relay = (
            PostgresRelay(dsn or "", name=self.batch.replace("-", "_"), secret=SECRET)
            if self.pg
            else None
        )
        self.hub = CompletionHub(webhook_id=WEBHOOK_ID, safety_net=NET, relay=self.relay)
        self._stack = contextlib.AsyncExitStack()
        self.emu: Emulator
        self.client: PixVerse
        self.direct_client: PixVerse
        self.http: aiohttp.ClientSession
        self.db: asyncpg.Connection
        self.db_lock = asyncio.Lock()  # the runs' ends read it too
        self.account_room = 0  # PostgreSQL: the account's room to send, at the last look
        self.sending = 0  # PostgreSQL: the batch's SENDING entries, at the last look
        self.untried = 0  # PostgreSQL: its PENDING entries never tried, at the last look
        self.unheld = 0  # PostgreSQL: its SUBMITTED entries no live worker holds, at the last look
        self.claims_waited = False  # PostgreSQL: TAKE_OVER_BOUND passed in this settle
        self.unrecorded = 0  # ended generations the journal has in flight, at the last look
        self.hook_url = ""

    async def __aenter__(self) -> Simulation:
        stack = self._stack
        await stack.enter_async_context(self.hub)
        self.hook_url = await stack.enter_async_context(
            serving(webhook_handler(SECRET, self.hub.deliver))
        )
        self.emu = await stack.enter_async_context(
            Emulator(api_keys={KEY, DIRECT_KEY}, clock="manual", generation_seconds=GENERATION)
        )
        timeout = aiohttp.ClientTimeout(total=None, sock_read=CLIENT_READ)
        self.client = await stack.enter_async_context(
            PixVerse(api_key=KEY, base_url=self.emu.base_url, retry=RETRY, timeout=timeout,
                     poll=policy(self.world.timeout),
                     webhooks=self.hub if self.world.webhooks else None)
        )  # fmt: skip
        self.direct_client = await stack.enter_async_context(
            PixVerse(api_key=DIRECT_KEY, base_url=self.emu.base_url, retry=RETRY,
                     timeout=timeout, poll=policy(self.world.timeout), webhooks=self.hub)
        )  # fmt: skip
        self.http = await stack.enter_async_context(aiohttp.ClientSession())
        if self.pg:  # the simulation's own connection, to read the store as it is
            self.db = await asyncpg.connect(self.dsn)
            stack.push_async_callback(self.db.close)
        stack.push_async_callback(self._stop_all)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    async def _stop_all(self) -> None:
        for run in self.runs:
            if run.live:
                await self.stop(run)
        for job in self.direct:
            job.cancel()
        await asyncio.gather(*(j.task for j in self.direct), return_exceptions=True)

    # Reading the world ---------------------------------------------------------------------

    def running_generations(self, key: str | None) -> list[Generation]:
        now = self.emu.clock.now()
        return sorted(
            (g for g in self.emu.state.generations.values()
             if g.done_at > now and key in (None, g.api_key)),
            key=lambda g: g.video_id,
        )  # fmt: skip

    def ended_webhook_generations(self) -> list[Generation]:
        now = self.emu.clock.now()
        return sorted(
            (g for g in self.emu.state.generations.values()
             if g.done_at <= now and g.body.get("webhook_id") == WEBHOOK_ID),
            key=lambda g: g.video_id,
        )  # fmt: skip

    def index_of(self, generation: Generation) -> int | None:
        text = str(generation.body.get("prompt", ""))
        if generation.api_key != KEY or not text.startswith(PROMPT):
            return None
        return int(text.removeprefix(PROMPT))

    def video_url(self, generation: Generation) -> str:
        return f"{self.emu.base_url}/media/videos/{generation.video_id}.mp4"

    def live_runs(self) -> list[Run]:
        return [r for r in self.runs if r.live]

    async def journal_states(
        self, journal: Journal | None = None
    ) -> dict[int, tuple[JournalState, int | None]]:
        """Each request's journal state and video id, by request index (read directly, or
        through ``journal``, a run's own)."""
        if self.pg:
            async with self.db_lock:
                rows = await self.db.fetch(
                    f'SELECT body::text, state, video_id FROM "{self.schema}".pixverse_entries'
                    " WHERE batch = $1",
                    self.batch,
                )
        else:
            rows = [(e.body, e.state, e.video_id) for e in await self._sqlite_entries(journal)]
        found = {}
        for body, state, video_id in rows:
            text = str((json.loads(body) if isinstance(body, str) else body).get("prompt", ""))
            found[int(text.removeprefix(PROMPT))] = (JournalState(state), video_id)
        return found

    async def _sqlite_entries(self, journal: Journal | None) -> list[JournalEntry]:
        """One SQLite journal is open at a time: read through the live run's, else open it."""
        if journal is not None:
            return await journal.entries()
        live = self.live_runs()
        if live:
            try:
                return await live[0].journal.entries()
            except JournalError:  # the run ended meanwhile and closed it
                assert live[0].consumer is not None
                await asyncio.wait((live[0].consumer,))
        async with Journal(self.workdir / "journal.sqlite", recover=False) as reader:
            return await reader.entries()

    async def store_in_flight(self) -> int:
        """The account's in-flight count as the store keeps it (SENDING or SUBMITTED)."""
        async with self.db_lock:
            count: int = await self.db.fetchval(
                f'SELECT "{self.schema}".pixverse_in_flight($1)', self.batch
            )
        return count

    async def store_unsent(self) -> tuple[int, int, int]:
        """The batch's entries a live worker has yet to act on: SENDING ones (a send under
        way, or a dead worker's awaiting a take-over); SUBMITTED ones no live worker holds (a
        stopped or dead worker's, awaiting a claim); and its requests never tried (not yet
        journaled, or PENDING and never sent)."""
        s = self.schema
        async with self.db_lock:
            row = await self.db.fetchrow(
                "SELECT count(*) FILTER (WHERE state = 'sending'),"
                " count(*) FILTER (WHERE state = 'submitted' AND NOT EXISTS (SELECT 1 FROM"
                f' "{s}".pixverse_workers w WHERE w.id = e.worker'
                " AND w.expires_at > clock_timestamp())),"
                " count(*) FILTER (WHERE state = 'pending' AND attempts = 0"
                " AND error_type IS NULL), count(*)"
                f' FROM "{s}".pixverse_entries e WHERE batch = $1',
                self.batch,
            )
        return int(row[0]), int(row[1]), int(row[2]) + self.world.requests - int(row[3])

    async def store_room(self) -> int:
        """How many more the account may send now, by the store's shared limit."""
        async with self.db_lock:
            target = await self.db.fetchval(
                f'SELECT target FROM "{self.schema}".pixverse_accounts WHERE account = $1',
                self.batch,
            )
        allowed = self.world.limit if target is None else max(1, int(target))
        return allowed - await self.store_in_flight()

    # Acting ----------------------------------------------------------------------------------

    async def open_journal(self) -> Journal:
        if self.pg:
            return await Journal.open(
                self.dsn or "",
                batch=self.batch,
                schema=self.schema,
                lease=LEASE,
                account=self.batch,  # an account of its own: examples share the schema
            )
        return await Journal.open(self.workdir / "journal.sqlite")

    async def start_run(self, client: PixVerse | None = None) -> Run:
        """Run the batch (through ``client``, else the simulation's) on the journal."""
        journal = await self.open_journal()
        number = len(self.runs) + 1
        run_ref: list[Run] = []
        world = self.world
        # A job past its poll timeout is watched at the safety net's pace (issue 20's runner
        # option ``safety_net``): the simulation's own, fast, where the runner has it.
        watch_on = {"safety_net": NET} if "safety_net" in RUNNER_OPTIONS else {}
        runner = (client or self.client).runner(
            concurrency=world.limit,
            journal=journal,
            poll=policy(world.timeout),
            learner=False,
            hold=HOLD,
            max_credits=world.cap,
            costs=CostEstimator(price=lambda kind, body: cost()),
            on_progress=lambda p: self.checker.on_progress(run_ref[0], p),
            **watch_on,
        )
        run = Run(number, journal, runner.run(world.request(i) for i in range(world.requests)))
        run_ref.append(run)
        self.runs.append(run)
        run.consumer = asyncio.ensure_future(self._consume(run))
        self.trace.append(f"{run} started")
        return run

    async def _consume(self, run: Run) -> None:
        try:
            async with run.stream:
                async for outcome in run.stream:
                    run.outcomes.append(outcome)
                    self.checker.on_outcome(run, outcome)
            # The journal as this run left it (a later run may move it on).
            run.final_states = await self.journal_states(run.journal)
            self.trace.append(f"{run} ended")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            run.error = exc
            self.trace.append(f"{run} failed: {exc!r}")
        finally:
            with contextlib.suppress(Exception):  # a killed worker's connections are cut
                await run.journal.close()

    async def stop(self, run: Run) -> None:
        """Ctrl-C: the consumer is cancelled, which stops the run (``async with`` exits)."""
        run.stopped = True
        assert run.consumer is not None
        run.consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run.consumer
        with contextlib.suppress(Exception):  # cancelled before it began: never closed
            await run.journal.close()
        self.trace.append(f"{run} stopped")

    async def kill(self, run: Run) -> None:
        """A worker's death: its run stops and its lease ends (without giving anything back
        cleanly, the others take over at their next look). The lease ends first, so the run
        may see that before it stops (see :func:`failed`)."""
        run.killed = True
        await self.end_lease(run)
        store = run.journal.postgres
        assert store is not None
        await terminate(store.application_name, self.dsn or "")
        await self.stop(run)

    async def end_lease(self, run: Run) -> None:
        """End ``run``'s worker's lease now (as if it had expired): it may write nothing more
        to what it holds, and the others take that over."""
        store = run.journal.postgres
        assert store is not None
        async with self.db_lock:
            await self.db.execute(
                f'UPDATE "{self.schema}".pixverse_workers SET expires_at = clock_timestamp()'
                " WHERE id = $1",
                store.worker_id,
            )

    async def deliver(self, generation: Generation, *, forged: bool = False) -> int:
        ok = generation.final_status == 1 and not forged
        body = {
            "id": str(generation.video_id),
            "status": 1 if forged else generation.final_status,
            "url": EVIL_URL if forged else (self.video_url(generation) if ok else ""),
            "size": 1000 if ok or forged else 0,
            "has_audio": False,
            "credits": generation.credits,
        }
        headers, data = delivery(
            "not-the-secret" if forged else SECRET,
            body,
            timestamp=int(time.time()),
            nonce=uuid.uuid4().hex,
            trace_id=generation.trace_id,
        )
        headers["Content-Type"] = "application/json"
        async with self.http.post(self.hook_url, data=data, headers=headers) as resp:
            await resp.read()
            self.trace.append(
                f"{'forged ' if forged else ''}delivery of {generation.video_id}"
                f" ({body['status']}): HTTP {resp.status}"
            )
            return resp.status

    async def notify_forged(self, channel: str, generation: Generation) -> None:
        """What any database role can do: a NOTIFY on the relay's channel (not sealed)."""
        body = {"id": str(generation.video_id), "status": 1, "url": EVIL_URL}
        message = {"v": 1, "origin": uuid.uuid4().hex, "polled": False, "body": body}
        async with self.db_lock:
            await self.db.execute("SELECT pg_notify($1, $2)", channel, json.dumps(message))
        self.trace.append(f"forged NOTIFY of {generation.video_id}")

    async def direct_job(self) -> None:
        n = self.direct_submits = self.direct_submits + 1
        try:
            job = await self.direct_client.videos.text_to_video(prompt=f"direct {n}", **FIELDS)
        except Exception as exc:  # a fault meant for the batch: nothing to wait for
            self.trace.append(f"direct submit {n}: {exc!r}")
            return
        assert job.video_id is not None
        self.direct.append(DirectJob(job.video_id, asyncio.ensure_future(job.wait())))
        self.trace.append(f"direct job {job.video_id} waiting")

    # Settling ----------------------------------------------------------------------------------

    async def until(self, condition: Callable[[], bool], bound: float) -> bool:
        """Wait until ``condition()`` holds (looked at every loop turn or 5 ms), at most
        ``bound`` seconds; whether it held."""
        deadline = asyncio.get_running_loop().time() + bound
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def settled(self) -> bool:
        """Nothing is due that the steps set off: every live run read its input, sends
        nothing now and has room for nothing it could send (the queue is empty, the limit
        or its target is reached, or the cap waits for a job in flight), and saw the end of
        every generation that ended."""
        now = self.emu.clock.now()
        ended = {
            i
            for g in self.emu.state.generations.values()
            if g.done_at <= now and (i := self.index_of(g)) is not None
        }
        if self.unrecorded and self.live_runs():
            return False  # a generation ended that the journal still has in flight
        if self.pg and self.live_runs():
            if self.sending:
                return False  # a send under way, or a dead worker's awaiting its take-over
            if self.unheld and not self.claims_waited:
                return False  # given back by a stopped worker: a live one may claim it
            if self.untried and self.account_room > 0 and self.world.cap is None:
                return False  # room to send what no worker has tried yet
        for run in self.live_runs():
            p = run.progress
            in_flight = p.running + p.submitting
            if p.seen < self.world.requests or p.submitting:
                return False
            if not self.pg and p.queued + p.running + p.done < p.seen:
                return False  # read, but not yet admitted (the journal is asked first)
            full = in_flight >= max(1, int(p.target_concurrency)) or (
                self.pg and self.account_room <= 0
            )
            if p.queued and not full and not (self.world.cap is not None and in_flight):
                return False
            if not ended <= {o.index for o in run.outcomes}:
                return False
        return True

    def snapshot(self) -> object:
        """What changes when a step's effects are still under way (status polls aside)."""
        return (
            [(r.number, attrs.astuple(r.progress), len(r.outcomes)) for r in self.live_runs()],
            sum(1 for r in self.emu.state.requests if r.method == "POST"),
        )

    async def ends_unrecorded(self) -> int:
        """The batch's generations that ended while the journal still has them in flight
        (SENDING or SUBMITTED): a live run watching them has yet to see the end."""
        states = await self.journal_states()
        now = self.emu.clock.now()
        in_flight = (JournalState.SENDING, JournalState.SUBMITTED)
        return sum(
            1
            for g in self.emu.state.generations.values()
            if g.done_at <= now
            and (i := self.index_of(g)) is not None
            and states.get(i, (None, None))[0] in in_flight
        )

    def every_generating_job_timed_out(self) -> bool:
        generating = {self.index_of(g) for g in self.running_generations(KEY)}
        return all(generating <= {o.index for o in run.outcomes} for run in self.live_runs())

    async def settle(self) -> None:
        """Wait until :meth:`settled` holds, the same for three looks in a row (a send the
        dispatcher is about to make shows in between); at most SETTLE_BOUND seconds, else
        the system is stuck: a violation."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + SETTLE_BOUND
        looks: list[object] = []
        while len(looks) < 3:
            if loop.time() > deadline:
                self.checker.expect(
                    False,
                    "every step settles within the bound (no hang)",
                    f"after {SETTLE_BOUND} s: {[describe_progress(r) for r in self.live_runs()]}",
                )
                return
            await asyncio.sleep(0.005)
            if self.pg:
                self.account_room = await self.store_room()
                self.sending, self.unheld, self.untried = await self.store_unsent()
                self.claims_waited = loop.time() > started + TAKE_OVER_BOUND
            if self.live_runs():
                self.unrecorded = await self.ends_unrecorded()
            look = self.snapshot() if self.settled() else None
            if look is None:
                looks = []
            elif looks and look != looks[-1]:
                looks = [look]
            else:
                looks.append(look)

    async def drain(self) -> None:
        """The end: faults off, every generation ends, every end is delivered once (a lost
        delivery is found by the safety net), and every run must end within FINAL_BOUND."""
        self.emu.faults.clear()
        if not self.live_runs():
            await self.start_run()
        delivered: set[int] = set()
        deadline = asyncio.get_running_loop().time() + FINAL_BOUND
        while self.live_runs() or not all(j.task.done() for j in self.direct):
            if asyncio.get_running_loop().time() > deadline:
                self.checker.expect(
                    False,
                    "every run ends within the bound (no hang)",
                    f"after {FINAL_BOUND} s: {[describe_progress(r) for r in self.live_runs()]}",
                )
                self.checker.raise_failures()
            self.emu.finish_all()
            for generation in self.ended_webhook_generations():
                if generation.video_id not in delivered:
                    delivered.add(generation.video_id)
                    await self.deliver(generation)
            await asyncio.sleep(0.01)
        await self.until(lambda: not self.hub._watches, 1.0)


async def simulate(
    world: World,
    steps: list[Step],
    workdir: Path,
    *,
    dsn: str | None = None,
    schema: str | None = None,
    start: bool = True,
) -> list[str]:
    """Play ``steps`` in ``world``, checking the invariants after each; see the module doc.
    ``start=False``: no run is started before the first step. Returns the trace."""
    async with Simulation(world, workdir, dsn=dsn, schema=schema) as sim:
        sim.steps = steps
        if start:
            await sim.start_run()
            await sim.settle()
        for step in steps:
            sim.trace.append(f"step {step!r}")
            await step.apply(sim)
            await sim.settle()
            await sim.checker.after_step()
        await sim.drain()
        await sim.checker.at_end()
    return sim.trace
