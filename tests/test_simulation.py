"""The stateful simulation of issue 20 (see ``tests/simulation.py``), on SQLite and PostgreSQL.

CI runs a bounded number of examples, the same ones every time (derandomized). A long search
draws fresh ones: ``PIXVERSE_SIM_EXAMPLES=20000 python -m pytest tests/test_simulation.py -k
sqlite`` (``PIXVERSE_SIM_PG_EXAMPLES`` for PostgreSQL). A failure prints the shrunk world and
steps; ``simulate(world, steps, tmp_path)`` replays it. With ``PIXVERSE_SIM_LOG=FILE`` set, each
sequence run appends one line to FILE (its store, how many steps, passed or the check that
failed), so a search of hours can be followed and counted while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
import pytest
from _pytest.logging import LogCaptureHandler
from hypothesis import HealthCheck, Phase, given, settings

from .simulation import (
    SETTLE_BOUND,
    Advance,
    CancelWait,
    DeepNest,
    Direct,
    Finish,
    Forge,
    KillWorker,
    SecondWorker,
    Simulation,
    Stall,
    StatusFault,
    Step,
    SubmitFault,
    Terminate,
    World,
    WrongKey,
    simulate,
    step_lists,
    worlds,
)


def search(variable: str, examples: int) -> settings:
    """``examples`` fixed sequences; or, with ``variable`` set, that many fresh ones."""
    long = os.environ.get(variable)
    return settings(
        max_examples=int(long or examples),
        deadline=None,
        database=None,
        derandomize=long is None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        # No "explain" phase: it prints the failing arguments as blanks.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    )


def forget_logs() -> None:
    """Drop the log records pytest keeps for the running test (its ``caplog`` and report
    handlers, on the root logger). A search plays thousands of sequences in one test: kept,
    their records (a few hold tracebacks, and through them every object of their sequence)
    grew the process by gigabytes, and the garbage collector's full passes then held the
    event loop for seconds: long enough for a PostgreSQL worker's lease (2 s) to end, its
    run failing with ``JournalLeaseError`` ("its event loop was blocked"). Called after
    each sequence that passed: a failing one's records stay in the report."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LogCaptureHandler):
            handler.clear()


def logged(store: str, steps: list[Step], run: Callable[[Path], Awaitable[None]]) -> None:
    """Run one sequence in a fresh folder; with PIXVERSE_SIM_LOG set, append how it went
    (its store, its number of steps, passed or the check that failed)."""
    log = os.environ.get("PIXVERSE_SIM_LOG")
    verdict = "failed"
    try:
        with tempfile.TemporaryDirectory(prefix="pixverse-sim-") as tmp:
            asyncio.run(run(Path(tmp)))
        verdict = "passed"
        forget_logs()
    except AssertionError as failure:
        verdict = f"failed: {str(failure).splitlines()[0] if str(failure) else 'assertion'}"
        raise
    finally:
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(f"{store} steps={len(steps)} {verdict}\n")


def test_a_passed_sequence_leaves_no_log_records_in_the_test(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A search's memory stays flat: what a sequence that passed logged is not kept."""

    async def warns(tmp: Path) -> None:
        logging.getLogger("pixverse_async").warning("a warning of a sequence that passes")

    logged("sqlite", [], warns)
    assert caplog.records == [] and caplog.text == ""


@search("PIXVERSE_SIM_EXAMPLES", 80)
@given(world=worlds("sqlite"), steps=step_lists("sqlite"))
def test_simulation_on_sqlite(world: World, steps: list[Step]) -> None:
    logged("sqlite", steps, lambda tmp: simulate(world, steps, tmp))


@search("PIXVERSE_SIM_PG_EXAMPLES", 40)
@given(world=worlds("postgres"), steps=step_lists("postgres"))
def test_simulation_on_postgres(
    postgres_dsn: str, pg_schema: str, world: World, steps: list[Step]
) -> None:
    logged(
        "postgres",
        steps,
        lambda tmp: simulate(world, steps, tmp, dsn=postgres_dsn, schema=pg_schema),
    )


# -- Sequences the simulation found (issue 20), each kept as a plain test ------------------------


async def test_a_job_past_its_poll_timeout_keeps_its_place_while_it_generates(
    tmp_path: Path,
) -> None:
    """Item 1: the first job times out (the caller's FAILED ``JobTimeoutError``) while its
    generation goes on; its place was given back at once, so the second was sent: two
    generating on an account whose limit is one."""
    await simulate(World(requests=2, limit=1, timeout=0.3, webhooks=False), [Stall()], tmp_path)


async def test_a_status_answer_older_than_the_webhook_end_is_dropped(tmp_path: Path) -> None:
    """Item 2: a status poll is in flight (held, it answers "generating") when the webhook
    ends the job; the stale answer, past the timeout, gave the request a second outcome and
    released its place twice (the run ended with the second request's submit under way)."""
    steps: list[Step] = [
        SubmitFault("slow"),  # keeps the run alive while the stale answer comes
        StatusFault("slow"),
        Finish(0, "success", deliver=True),
    ]
    await simulate(World(requests=2, limit=1, timeout=0.3, webhooks=True), steps, tmp_path)


async def test_a_cancelled_wait_leaves_no_watch_once_its_video_ended(tmp_path: Path) -> None:
    """Item 4: ``job.wait()`` cancelled, then the video's end delivered: its watch stayed
    registered in the hub for ever."""
    await simulate(World(requests=1, limit=1), [Direct(), CancelWait(0)], tmp_path)


async def test_on_postgresql_a_timed_out_job_keeps_being_watched(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    """Item 1 on PostgreSQL: the timed-out jobs stay SUBMITTED, held by the live worker and
    counted in the account's in-flight count, but nobody watches them: the run does not
    follow what the service generates (and sat at 1/3 with no room for ever)."""
    world = World(requests=3, limit=2, timeout=0.3, store="postgres")
    await simulate(world, [Stall()], tmp_path, dsn=postgres_dsn, schema=pg_schema)


async def test_a_deeply_nested_delivery_is_refused_not_a_server_error(tmp_path: Path) -> None:
    """Item 5: a delivery (signature well-formed, wrong) whose ``url`` is ``[[[...]]]`` ~980
    deep passes ``json.loads`` but overflowed ``json.dumps`` in the signature's form
    encoding: HTTP 500 and a traceback, to an unauthenticated request."""
    await simulate(World(requests=1, limit=1), [DeepNest()], tmp_path)


async def test_a_request_refused_for_a_wrong_key_is_sent_by_the_next_run(tmp_path: Path) -> None:
    """Item 6: the first run of a batch has a wrong API key: its submit is refused (401,
    nothing generated), and was journaled FAILED, so the next run, with the right key,
    reported it "failed (resumed)" and sent nothing."""
    await simulate(World(requests=1, limit=1), [WrongKey()], tmp_path, start=False)


async def test_a_wrong_keys_status_answer_ends_no_generation(tmp_path: Path) -> None:
    """Item 6, polls: run 1 sends the request and stops; a run with a wrong key resumes it
    and its status poll is answered 401: the request was journaled FAILED (for good: the
    next run, with the right key, reported it "failed (resumed)") while its generation went
    on and succeeded."""
    await simulate(World(requests=1, limit=1), [WrongKey()], tmp_path)


async def test_on_postgresql_a_dead_workers_jobs_keep_their_places(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    """Two workers share two places; one dies holding both generations. Until the other
    takes them over, the account's count must still hold their places: found on a runner
    whose shared count left out what no live worker holds (three generating, and three in
    the survivor's in-flight count after the take-over, for a limit of two)."""
    world = World(requests=4, limit=2, webhooks=False, store="postgres")
    steps: list[Step] = [SecondWorker(), KillWorker(0)]
    await simulate(world, steps, tmp_path, dsn=postgres_dsn, schema=pg_schema)


async def test_on_postgresql_a_wrong_key_run_ends_though_the_account_is_full(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    """Found by a long search: three generations of a dead worker fill the account's three
    places; a run with a wrong key resumes them (its polls refused: they stay SUBMITTED and
    counted, rightly, as the service still generates them) and waited for ever for a place
    to send the fourth. A refused key now ends what is queued not submitted, unsent."""
    world = World(requests=4, limit=3, webhooks=True, store="postgres")
    steps: list[Step] = [Advance(1.0), KillWorker(0), Advance(1.0), Stall(), WrongKey()]
    await simulate(world, steps, tmp_path, dsn=postgres_dsn, schema=pg_schema)


async def test_on_postgresql_a_worker_waiting_for_a_place_is_not_counted_in_flight(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    """Found by a long search (1 of 3 replays): run 2 waits for the account's one place,
    which run 1's generation holds. It asked the shared limit again and again, every few
    milliseconds (its refused send woke it at once), and each try showed in its progress as
    a send under way: "submitting 1", counted in flight next to run 1's generation."""
    world = World(requests=4, limit=1, cap=None, timeout=1.0, webhooks=False, store="postgres")
    steps: list[Step] = [SecondWorker(), SubmitFault(kind="concurrency_limited")]
    await simulate(world, steps, tmp_path, dsn=postgres_dsn, schema=pg_schema)


@attrs.frozen
class KillAtItsHold(Step):
    """A worker starts, and its lease ends as it records its one request not submitted (the
    spending cap) in the journal: the moment a long search's ``KillWorker`` hit by chance,
    made certain. Then it is killed."""

    async def apply(self, sim: Simulation) -> None:
        run = await sim.start_run()
        hold = run.journal.mark_held

        async def mark_held(key: str, error_type: str, message: str) -> object:
            await sim.end_lease(run)
            return await hold(key, error_type, message)

        run.journal.mark_held = mark_held  # type: ignore[method-assign]
        assert run.consumer is not None
        await asyncio.wait((run.consumer,), timeout=SETTLE_BOUND)
        await sim.kill(run)


async def test_on_postgresql_a_worker_killed_as_it_records_a_hold_is_not_a_failed_run(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    """Found by a long search (a run of ``KillWorker``, ``Terminate`` and ``SecondWorker``
    steps; 1 of 5 replays): a killed worker's lease is ended first, then its run is stopped.
    In between, its run recorded a request held by the cap, found its lease ended and
    stopped with ``JournalLeaseError``, as a worker whose lease ended does (the others take
    over): the check counted that dead worker's last words as a failed run. A later run
    still reports the request not submitted."""
    world = World(requests=1, limit=3, cap=0, webhooks=True, store="postgres")
    await simulate(
        world, [KillAtItsHold()], tmp_path, dsn=postgres_dsn, schema=pg_schema, start=False
    )


async def test_on_postgresql_a_dead_workers_generation_is_polled_by_a_worker_with_a_full_queue(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    """Found by a fresh search after the two above were fixed (12 of 12 replays failed on
    main, 3 of 12 with them): run 1 dies holding the generation that fills the account's
    one place; the take-over gives it back to the batch, but run 2, its queue full of
    requests waiting for a place, claimed nothing more: nobody polled it, it kept the place
    after it ended, and run 2 waited for good (queued 2, running 0)."""
    world = World(requests=5, limit=1, cap=None, timeout=0.3, webhooks=False, store="postgres")
    steps: list[Step] = [
        SecondWorker(),
        StatusFault(kind="error_500"),
        KillWorker(slot=0),
        Forge(slot=0),
        Terminate(slot=0),
        Finish(slot=3, outcome="success", deliver=True),
        StatusFault(kind="slow"),
        KillWorker(slot=0),
        CancelWait(slot=4),
        SecondWorker(),
    ]
    await simulate(world, steps, tmp_path, dsn=postgres_dsn, schema=pg_schema)
