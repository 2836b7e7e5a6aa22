"""Cooperating workers on one PostgreSQL batch: shared requests, one account limit, crashes.

The emulator runs in this process on a loopback port; the workers are ``pixverse batch``
processes (or, where a test needs to reach into one, a runner in this process).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import itertools
import json
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from pixverse_async import PixVerse, PollPolicy
from pixverse_async.batch.runner import OutcomeState
from pixverse_async.emulator import Emulator
from pixverse_async.journal import Journal, JournalState, PostgresStore
from pixverse_async.models import TextToVideo

from .cli_process import pixverse

KEY = "workers-key"
LIMIT = 30
POLL = PollPolicy(first_delay=0.05, interval=0.05, factor=1.0, max_delay=0.05, jitter=0.0)
ROOT = Path(__file__).resolve().parent.parent

F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def hang_guard(seconds: float) -> Callable[[F], F]:
    """Fail a test that runs longer than ``seconds`` (a guard against hangs only, far above
    its usual time), printing the stack of every task still running first."""

    def wrap(test: F) -> F:
        @functools.wraps(test)
        async def guarded(*args: Any, **kwargs: Any) -> None:
            run = asyncio.ensure_future(test(*args, **kwargs))
            await asyncio.wait((run,), timeout=seconds)
            if not run.done():
                for task in asyncio.all_tasks():
                    task.print_stack(file=sys.stderr)
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run
                raise AssertionError(f"{test.__name__} hung: no end after {seconds} s")
            run.result()

        return guarded  # type: ignore[return-value]

    return wrap


def request(i: int) -> TextToVideo:
    return TextToVideo(
        prompt=f"worker scene {i}", model="v5", duration=5, quality="540p", aspect_ratio="16:9"
    )


def write_jobs(path: Path, n: int) -> None:
    lines = (
        json.dumps({"kind": "text_to_video", "prompt": f"worker scene {i}", "model": "v5",
                    "duration": 5, "quality": "540p", "aspect_ratio": "16:9"})
        for i in range(n)
    )  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def start_worker(
    base_url: str,
    jobs: Path,
    dsn: str,
    schema: str,
    batch: str,
    out: Path | None,
    *extra: str,
) -> asyncio.subprocess.Process:
    argv = [
        sys.executable, "-m", "pixverse_async", "--json", "--base-url", base_url,
        "--api-key", KEY, "--poll-interval", "0.05",
        "batch", str(jobs), "--journal", dsn, "--batch", batch, "--journal-schema", schema,
        "--lease", "3", "--concurrency", str(LIMIT), *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if out is None:
        return await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
        )
    with out.open("wb") as stdout:  # the child has its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            *argv, stdout=stdout, stderr=asyncio.subprocess.PIPE, env=env
        )


async def batch_states(dsn: str, schema: str, batch: str) -> collections.Counter[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f'SELECT state, count(*) FROM "{schema}".pixverse_entries WHERE batch = $1'
            " GROUP BY state",
            batch,
        )
    finally:
        await conn.close()
    return collections.Counter({r[0]: r[1] for r in rows})


def duplicates(emu: Emulator) -> list[str]:
    by_body = collections.Counter(
        json.dumps(g.body, sort_keys=True) for g in emu.state.generations.values()
    )
    return [body for body, n in by_body.items() if n > 1]


@hang_guard(300)
async def test_three_workers_share_a_batch_and_survive_a_sigkill(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    n = 3000
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, n)
    async with Emulator(api_keys={KEY}, generation_seconds=0.05,
                        max_concurrent_generations=LIMIT) as emu:  # fmt: skip
        report_all = ("--report", "all")  # every worker reports every line
        victim = await start_worker(
            emu.base_url, jobs, postgres_dsn, pg_schema, "big", None, *report_all
        )
        others = [
            await start_worker(emu.base_url, jobs, postgres_dsn, pg_schema, "big", out, *report_all)
            for out in (tmp_path / "out1.jsonl", tmp_path / "out2.jsonl")
        ]
        codes = []
        try:
            assert victim.stdout is not None
            # Midway: once the victim has reported a third of the batch, kill it outright.
            for _ in range(n // 3):
                line = await asyncio.wait_for(victim.stdout.readline(), 60)
                assert line, "the worker ended before it could be killed"
            victim.send_signal(signal.SIGKILL)
            for proc in others:
                _, err = await asyncio.wait_for(proc.communicate(), 150)
                assert b"Traceback" not in err, err.decode()
                codes.append(proc.returncode)
        finally:
            for proc in (victim, *others):
                if proc.returncode is None:
                    proc.kill()
                await proc.communicate()
        states = await batch_states(postgres_dsn, pg_schema, "big")
        submits = [r for r in emu.state.requests if r.method == "POST" and "generate" in r.path]
        limited = [r for r in submits if r.err_code == 500044]

    # Exit 1 only because of the killed worker's unknown requests.
    assert codes == ([1, 1] if states["unknown"] else [0, 0]), (codes, states)
    assert sum(states.values()) == n
    assert set(states) <= {"succeeded", "unknown"}, states  # one outcome each, none left
    assert states["unknown"] <= LIMIT  # only what the victim was sending when it died
    assert duplicates(emu) == []
    # Each unknown request was created at most once (or not at all): nothing else was paid.
    assert states["succeeded"] <= len(emu.state.generations) <= n
    assert emu.state.peak_in_flight[KEY] <= LIMIT
    assert len(limited) <= 0.01 * len(submits), (len(limited), len(submits))
    for i in (1, 2):  # each survivor reported every request of its input
        records = [json.loads(x) for x in (tmp_path / f"out{i}.jsonl").read_text().splitlines()]
        lines = [r["line"] for r in records if "line" in r and "state" in r]
        assert sorted(lines) == list(range(1, n + 1))


@hang_guard(120)
async def test_a_worker_whose_database_connections_are_killed_carries_on(
    postgres_dsn: str, pg_schema: str
) -> None:
    n = 300
    worker = "killed-" + uuid.uuid4().hex[:8]
    store = PostgresStore(
        postgres_dsn, batch="cut", schema=pg_schema, lease=5.0, worker=worker,
        reconnect_timeout=10.0,
    )  # fmt: skip
    finished = 0
    killed: list[int] = []
    cut = asyncio.Event()

    async def kill_connections() -> None:
        await cut.wait()
        conn = await asyncpg.connect(postgres_dsn)
        try:
            rows = await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = $1",
                store.application_name,
            )
            killed.extend(1 for r in rows if r[0])
        finally:
            await conn.close()

    async with (
        Emulator(api_keys={KEY}, generation_seconds=0.05, max_concurrent_generations=LIMIT) as emu,
        PixVerse(api_key=KEY, base_url=emu.base_url, poll=POLL) as client,
        Journal(store) as journal,
    ):
        killer = asyncio.ensure_future(kill_connections())
        runner = client.runner(concurrency=LIMIT, journal=journal)
        states = collections.Counter()
        async with runner.run([request(i) for i in range(n)]) as outcomes:
            async for outcome in outcomes:
                states[outcome.state] += 1
                finished += 1
                if finished == n // 3:
                    cut.set()
        await killer
        summary = await journal.summary()

    assert killed, "no connection of the worker was terminated"
    assert states == {OutcomeState.SUCCEEDED: n}
    assert summary[JournalState.SUCCEEDED] == n
    assert duplicates(emu) == []
    assert len(emu.state.generations) == n


WAITER = """
import asyncio, json, sys
from pixverse_async.journal import Journal

async def main(dsn, schema, batch, key):
    async with Journal(dsn, batch=batch, schema=schema, recover=False) as journal:
        print("listening", flush=True)
        entry = await journal.wait_finished(key, timeout=60)
        print(json.dumps({"state": entry.state.value, "video_id": entry.video_id}), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


@hang_guard(120)
async def test_wait_in_one_process_resolves_from_a_completion_recorded_by_another(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    from pixverse_async.journal import request_key
    from pixverse_async.models import to_json

    req = request(1)
    key = request_key(req.kind, to_json(req))
    async with Journal(postgres_dsn, batch="w", schema=pg_schema) as journal:
        await journal.mark_pending(key, req.kind, to_json(req))
        script = tmp_path / "waiter.py"
        script.write_text(WAITER, encoding="utf-8")
        # The waiting process has no client and is given no emulator address: whatever it
        # learns comes from the journal's notification.
        waiter = await asyncio.create_subprocess_exec(
            sys.executable, str(script), postgres_dsn, pg_schema, "w", key,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        try:
            assert waiter.stdout is not None
            assert await asyncio.wait_for(waiter.stdout.readline(), 30) == b"listening\n"
            async with (
                Emulator(api_keys={KEY}, generation_seconds=0.05) as emu,
                PixVerse(api_key=KEY, base_url=emu.base_url, poll=POLL) as client,
            ):
                runner = client.runner(concurrency=2, journal=journal)
                async with runner.run([req]) as stream:
                    [outcome] = [o async for o in stream]
                out, err = await asyncio.wait_for(waiter.communicate(), 30)
                # Every status request the emulator saw came from the runner.
                polled = emu.state.requests_to("/openapi/v2/video/result")
                assert len(polled) == stream.progress.status_requests
        finally:
            if waiter.returncode is None:
                waiter.kill()
                await waiter.communicate()
    assert waiter.returncode == 0, err.decode()
    assert outcome.state is OutcomeState.SUCCEEDED
    assert json.loads(out) == {"state": "succeeded", "video_id": outcome.video_id}


@hang_guard(120)
async def test_journal_status_counts_per_state_and_worker_and_requeue_pays_again(
    postgres_dsn: str, pg_schema: str
) -> None:
    from pixverse_async.journal import request_key
    from pixverse_async.models import to_json

    keys = []
    async with Journal(postgres_dsn, batch="s", schema=pg_schema) as journal:
        for i in range(3):
            req = request(i)
            keys.append(request_key(req.kind, to_json(req)))
            await journal.mark_pending(keys[-1], req.kind, to_json(req))
        await journal.mark_sending(keys[0], "trace-0")
        await journal.mark_unknown(keys[0], None, "no answer")
        await journal.mark_sending(keys[1], "trace-1")  # held by this live worker
        where = ["--journal", postgres_dsn, "--journal-schema", pg_schema]
        code, out, err = await pixverse("--json", "journal", "status", *where, "--batch", "s")
        assert code == 0, err
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert rows[0] == {"batch": "s", "pending": 1, "sending": 1, "submitted": 0,
                           "succeeded": 0, "failed": 0, "unknown": 1}  # fmt: skip
        [me] = [r for r in rows[1:] if r["worker"] == journal.postgres.worker_id]  # type: ignore[union-attr]
        assert (me["alive"], me["sending"]) == (True, 1)

        code, out, err = await pixverse("journal", "requeue", keys[0], *where)
        assert code == 2 and "--batch" in err  # which batch must be said
        code, out, err = await pixverse(
            "--json", "journal", "requeue", keys[0], *where, "--batch", "s"
        )
        assert code == 0, err
        assert json.loads(out)["state"] == "pending"
        entry = await journal.get(keys[0])
        assert entry is not None and entry.state is JournalState.PENDING
        assert entry.video_id is None and entry.error_type is None  # the outcome is cleared
        assert entry.trace_id == "trace-0"  # kept: the next send is a resend under it
        other = PostgresStore(postgres_dsn, batch="s", schema=pg_schema)
        async with Journal(other):  # any worker may take it now, not only the one that sent it
            assert keys[0] in [e.key for e in await other.claim(10)]


@hang_guard(120)
async def test_a_request_another_living_worker_is_sending_gets_that_workers_outcome(
    postgres_dsn: str, pg_schema: str
) -> None:
    from pixverse_async.journal import request_key
    from pixverse_async.models import to_json

    req = request(7)
    key = request_key(req.kind, to_json(req))
    other = PostgresStore(
        postgres_dsn, batch="s", schema=pg_schema, worker="other-" + uuid.uuid4().hex[:8]
    )
    read = asyncio.Event()

    def on_progress(progress: Any) -> None:
        if progress.seen:
            read.set()

    async with (
        Journal(other) as theirs,
        Journal(postgres_dsn, batch="s", schema=pg_schema) as ours,
        Emulator(api_keys={KEY}, generation_seconds=0.05) as emu,
        PixVerse(api_key=KEY, base_url=emu.base_url, poll=POLL) as client,
    ):
        await theirs.mark_pending(key, req.kind, to_json(req))
        await other.set_limit(2)
        assert [e.key for e in await other.claim(1)] == [key]
        assert await other.try_mark_sending(key, "their-trace") is not None
        runner = client.runner(concurrency=2, journal=ours, on_progress=on_progress)
        async with runner.run([req]) as stream:
            outcomes = asyncio.ensure_future(_collect(stream))
            await read.wait()  # this run read the request (SENDING), or is reading it
            await theirs.mark_failed(key, "Refused", "their answer")
            [outcome] = await outcomes
        generated = len(emu.state.generations)

    assert outcome.state is OutcomeState.FAILED, outcome
    assert outcome.error_type == "Refused"
    assert generated == 0  # this run never sent what the other worker was sending


async def _collect(stream: Any) -> list[Any]:
    return [o async for o in stream]


@hang_guard(120)
async def test_each_worker_reports_only_its_own_outcomes_by_default_and_the_batch_total_is_exact(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    n = 600
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, n)
    batch = "own-" + uuid.uuid4().hex[:8]
    async with Emulator(api_keys={KEY}, generation_seconds=0.05,
                        max_concurrent_generations=LIMIT) as emu:  # fmt: skip
        outs = [tmp_path / f"out{i}.jsonl" for i in range(3)]
        procs = [
            await start_worker(emu.base_url, jobs, postgres_dsn, pg_schema, batch, out)
            for out in outs
        ]
        try:
            for proc in procs:
                _, err = await asyncio.wait_for(proc.communicate(), 100)
                assert proc.returncode == 0, err.decode()
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.communicate()
        generated = len(emu.state.generations)
    where = ["--journal", postgres_dsn, "--journal-schema", pg_schema, "--batch", batch]
    code, status, err = await pixverse("--json", "journal", "status", *where)
    assert code == 0, err

    reported: list[int] = []
    for out in outs:
        records = [json.loads(x) for x in out.read_text().splitlines()]
        outcomes = [r for r in records if "line" in r and "state" in r]
        assert {r["state"] for r in outcomes} <= {"succeeded"}
        reported += [r["line"] for r in outcomes]
        [total] = [r["summary"] for r in records if "summary" in r]  # of its own outcomes
        assert total["total"] == len(outcomes), total
    # Each line reported by exactly one worker: the workers' reports add up to the batch.
    assert sorted(reported) == list(range(1, n + 1))
    assert json.loads(status.splitlines()[0])["succeeded"] == n == generated


DYING_WORKER = """
import asyncio, sys
from pixverse_async.journal import Journal, request_key
from pixverse_async.models import TextToVideo, to_json

async def main(dsn, schema, batch, lease):
    req = TextToVideo(prompt="worker scene 3", model="v5", duration=5, quality="540p",
                      aspect_ratio="16:9")
    j = await Journal.open(dsn, schema=schema, batch=batch, lease=float(lease))
    await j.mark_pending(request_key(req.kind, to_json(req)), req.kind, to_json(req))
    assert len(await j.postgres.claim(1)) == 1
    print(j.postgres.worker_id, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:]))
"""


@hang_guard(60)
async def test_a_worker_waiting_for_a_dead_workers_lease_says_so_with_the_time_left(
    postgres_dsn: str, pg_schema: str
) -> None:
    lease = 1.5
    batch = "lease-" + uuid.uuid4().hex[:8]
    # A worker that claims the batch's one request, then is killed holding it.
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DYING_WORKER, postgres_dsn, pg_schema, batch, str(lease),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 30), "the child did not start"
    finally:
        child.kill()
        await child.communicate()
    waits: list[float] = []
    said = asyncio.Event()

    def on_progress(progress: Any) -> None:
        if progress.lease_wait is not None:
            waits.append(progress.lease_wait)
            said.set()

    async with (
        Journal(postgres_dsn, batch=batch, schema=pg_schema, lease=lease) as ours,
        Emulator(api_keys={KEY}, generation_seconds=0.05) as emu,
        PixVerse(api_key=KEY, base_url=emu.base_url, poll=POLL) as client,
    ):
        runner = client.runner(concurrency=2, journal=ours, on_progress=on_progress)
        async with runner.run([request(3)]) as stream:
            outcomes = asyncio.ensure_future(_collect(stream))
            await said.wait()
            [outcome] = await outcomes
        final = stream.progress

    assert outcome.state is OutcomeState.SUCCEEDED  # taken over once the lease ended
    assert waits and all(0 <= w <= lease for w in waits), waits
    assert final.lease_wait is None  # said no more once taken over


@hang_guard(120)
async def test_a_rerun_of_a_finished_batch_says_the_batchs_state_and_that_nothing_was_left(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    """``--report own`` (the default) prints only what this worker ended: on a batch that is
    done that is nothing, so the summary says what the batch as a whole holds and spent."""
    n = 4
    jobs = tmp_path / "jobs.jsonl"
    write_jobs(jobs, n)
    batch = "rerun-" + uuid.uuid4().hex[:8]
    where = ["--journal", postgres_dsn, "--journal-schema", pg_schema, "--batch", batch]
    async with Emulator(api_keys={KEY}, generation_seconds=0.05) as emu:
        common = ["--base-url", emu.base_url, "--api-key", KEY, "--poll-interval", "0.05"]
        code, _, err = await pixverse(*common, "batch", str(jobs), *where)
        assert code == 0, err
        code, text, err = await pixverse(*common, "batch", str(jobs), *where)
        assert code == 0, err
        code, as_json, err = await pixverse("--json", *common, "batch", str(jobs), *where)
        assert code == 0, err
        generated = len(emu.state.generations)
        spent = emu.state.ledger.spent(KEY)

    assert generated == n  # the reruns sent nothing
    assert f"batch {batch!r} as a whole: {n} requests, {n} succeeded, 0 failed, 0 unknown" in text
    assert f"credits: {spent} spent ({spent} charged, 0 refunded)" in text
    assert f"this worker had nothing left to do: the file's {n} request(s)" in text
    summary = json.loads(as_json.splitlines()[-1])["summary"]
    assert summary["total"] == 0 and summary["elsewhere"] == n
    assert summary["batch"]["name"] == batch
    assert summary["batch"]["total"] == summary["batch"]["succeeded"] == n
    assert summary["batch"]["credits_spent"] == spent


@hang_guard(60)
async def test_a_worker_waiting_for_a_place_asks_once_a_tick_and_is_not_shown_submitting(
    postgres_dsn: str, pg_schema: str
) -> None:
    """Another live worker holds the account's one place (SENDING). A worker asking the
    shared limit for a place is refused; found by the simulation (issue 20): it asked again
    at once, and again, every few milliseconds (a refused send woke its coordination loop,
    which took that for a change), and each try showed in its progress as a send under way
    (``submitting 1``) while nothing was sent. Now it asks again a tick (a third of the lease)
    after a refusal, nothing having been freed, and a request asking for a place is neither
    submitting nor running; once the place is freed, it is sent."""
    from pixverse_async.journal import request_key
    from pixverse_async.models import to_json

    lease = 1.5
    held = request(8)
    held_key = request_key(held.kind, to_json(held))
    other = PostgresStore(
        postgres_dsn, batch="p", schema=pg_schema, worker="other-" + uuid.uuid4().hex[:8]
    )
    asks: list[tuple[float, int, list[bool]]] = []  # (when, submitting then, refused)
    three = asyncio.Event()
    shown: list[tuple[int, int]] = []

    async with (
        Journal(other) as theirs,
        Journal(postgres_dsn, batch="p", schema=pg_schema, lease=lease) as ours,
        Emulator(api_keys={KEY}, generation_seconds=0.05) as emu,
        PixVerse(api_key=KEY, base_url=emu.base_url, poll=POLL) as client,
    ):
        await theirs.mark_pending(held_key, held.kind, to_json(held))
        await other.set_limit(1)
        assert [e.key for e in await other.claim(1)] == [held_key]
        assert await other.try_mark_sending(held_key, "their-trace") is not None
        store = ours.postgres
        assert store is not None
        tick = max(0.05, min(1.0, store.lease / 3))
        try_many = store.try_mark_sending_many

        async def counted(sends: Any, now: float | None = None) -> Any:
            when, submitting = asyncio.get_running_loop().time(), stream.progress.submitting
            results = await try_many(sends, now)
            asks.append((when, submitting, [r is None for r in results]))
            if len(asks) >= 3:
                three.set()
            return results

        store.try_mark_sending_many = counted  # type: ignore[method-assign]
        runner = client.runner(
            concurrency=1,
            journal=ours,
            on_progress=lambda p: shown.append((p.submitting, p.running)),
        )
        async with runner.run([request(9)]) as stream:
            outcomes = asyncio.ensure_future(_collect(stream))
            await three.wait()
            asked_while_full, shown_while_full = list(asks), list(shown)
            await theirs.mark_failed(held_key, "Refused", "their answer")  # the place is freed
            [outcome] = await outcomes

    assert [r for _, _, r in asked_while_full] == [[True]] * len(asked_while_full) != []
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(asked_while_full)]
    assert min(gaps) >= 0.9 * tick, (tick, gaps)  # not at once: a tick later each time
    assert {submitting for _, submitting, _ in asked_while_full} == {0}, asked_while_full
    assert set(shown_while_full) <= {(0, 0)}, shown_while_full
    assert outcome.state is OutcomeState.SUCCEEDED, outcome


@hang_guard(60)
async def test_a_worker_whose_queue_waits_for_a_place_polls_the_dead_workers_generation_holding_it(
    postgres_dsn: str, pg_schema: str
) -> None:
    """Found by the simulation (issue 20): the account's one place is held by another
    worker's generation (SUBMITTED). This worker's send queue is full of requests waiting for
    a place, so it claimed nothing more. The other worker dies; the take-over gives its
    generation back to the batch, but nobody claimed it (claims were only made when the
    queue had room): nobody polled it, it kept the place after it ended, and the run waited
    for good. Now a worker whose queue is full claims such generations (once a tick) to
    poll them."""
    from pixverse_async.journal import request_key
    from pixverse_async.models import to_json

    theirs_req = request(20)
    key = request_key(theirs_req.kind, to_json(theirs_req))
    other = PostgresStore(
        postgres_dsn, batch="d", schema=pg_schema, worker="other-" + uuid.uuid4().hex[:8]
    )
    queued = asyncio.Event()

    def on_progress(progress: Any) -> None:
        if progress.queued >= 2:  # more than a try for a place takes off: no room to claim
            queued.set()

    async with (
        Journal(other) as theirs,
        Journal(postgres_dsn, batch="d", schema=pg_schema, lease=1.5) as ours,
        Emulator(api_keys={KEY}, generation_seconds=0.05) as emu,
        PixVerse(api_key=KEY, base_url=emu.base_url, poll=POLL) as client,
    ):
        await theirs.mark_pending(key, theirs_req.kind, to_json(theirs_req))
        await other.set_limit(1)
        assert [e.key for e in await other.claim(1)] == [key]
        assert await other.try_mark_sending(key, "their-trace") is not None
        job = await client.videos.text_to_video(**to_json(theirs_req))
        assert job.video_id is not None
        await theirs.mark_submitted(key, job.video_id)  # the other worker's generation
        runner = client.runner(concurrency=1, journal=ours, on_progress=on_progress)
        async with runner.run([request(21), request(22), request(23)]) as stream:
            outcomes = asyncio.ensure_future(_collect(stream))
            await queued.wait()  # this worker's queue is full: it waits for a place
            conn = await asyncpg.connect(postgres_dsn)
            try:  # the other worker dies: its lease ends
                await conn.execute(
                    f'UPDATE "{pg_schema}".pixverse_workers SET expires_at = clock_timestamp()'
                    " WHERE id = $1",
                    other.worker_id,
                )
            finally:
                await conn.close()
            done = await outcomes
        [entry] = [e for e in await ours.entries() if e.key == key]

    assert [o.state for o in done] == [OutcomeState.SUCCEEDED] * 3, done
    assert entry.state is JournalState.SUCCEEDED  # polled by this worker, its place freed
    assert len(emu.state.generations) == 4
