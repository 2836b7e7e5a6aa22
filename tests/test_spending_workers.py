"""The spending cap with a PostgreSQL journal: one batch's cap, shared by all its workers.

The emulator's ledger is the judge (see ``test_spending_cap.py``): what it charged and refunded
per key is what the runs report (``Outcome``, ``Progress``, the ``pixverse batch`` summary),
each charge once, and the batch's spend never goes over the cap, however many workers run it.
Generations last an hour of the emulator's clock where a test must hold them in flight; the
test moves the clock (``emu.advance``) when it wants them to end.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import attrs
import pytest

from pixverse_async import PixVerse
from pixverse_async.batch.costs import CostEstimator
from pixverse_async.batch.runner import Outcome, OutcomeState, Progress
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.credits import PriceTable
from pixverse_async.journal import Journal, request_key
from pixverse_async.models import TextToVideo, to_json

from .cli_process import pixverse
from .test_spending_cap import COMBOS, HIGH, LOW, batch, client_for, cost, peak_spend
from .test_workers import batch_states, hang_guard

HOUR = 3600.0


def marked(requests: list[TextToVideo], every: int) -> list[TextToVideo]:
    """Every ``every``-th request fails (the emulator's ``#fail`` marker): it is refunded."""
    return [
        attrs.evolve(r, prompt=f"{r.prompt} #fail") if i % every == every - 1 else r
        for i, r in enumerate(requests)
    ]


def exact(table: PriceTable) -> CostEstimator:
    """An estimator that knows every price: the cap is used to the credit."""
    return CostEstimator(price=lambda kind, body: table.price(body))


class Clock:
    """The emulator's generation time: an hour (held in flight) until ``release``."""

    def __init__(self) -> None:
        self.seconds = HOUR

    def __call__(self, body: dict[str, Any]) -> float:
        return self.seconds


class Watch:
    """``on_progress`` that lets a test wait until the progress satisfies a condition."""

    def __init__(self) -> None:
        self.progress = Progress()
        self.changed = asyncio.Event()
        self.peak_running = 0

    def __call__(self, progress: Progress) -> None:
        self.progress = progress
        self.peak_running = max(self.peak_running, progress.running)
        self.changed.set()

    async def until(self, condition: Callable[[Progress], bool]) -> None:
        while not condition(self.progress):
            self.changed.clear()
            await self.changed.wait()


def charges(emu: Emulator, key: str) -> dict[int, int]:
    """The ledger's charges by video id."""
    entries = emu.state.ledger.entries(key, now=float("inf"))
    return {e.video_id: e.amount for e in entries if e.kind == "charge"}


def assert_counted_once(
    outcomes: Sequence[Outcome], progress: Progress, emu: Emulator, key: str
) -> None:
    """Each outcome's credits are its video's charge in the ledger; the run's totals are the
    sums of its outcomes; every charge of the ledger is one outcome's."""
    ledger = charges(emu, key)
    for o in outcomes:
        if o.video_id is not None:
            assert o.credits == ledger[o.video_id], o
        else:
            assert o.credits is None and o.credits_refunded == 0, o
    assert sum(o.credits or 0 for o in outcomes) == progress.credits_charged
    assert sum(o.credits_refunded for o in outcomes) == progress.credits_refunded
    assert progress.not_submitted == sum(o.state is OutcomeState.NOT_SUBMITTED for o in outcomes)


async def journal_credits(dsn: str, schema: str, batch_name: str) -> dict[int, int]:
    """The credits the journal recorded, by video id."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f'SELECT video_id, credits FROM "{schema}".pixverse_entries'
            " WHERE batch = $1 AND video_id IS NOT NULL",
            batch_name,
        )
    finally:
        await conn.close()
    return {r["video_id"]: r["credits"] for r in rows}


async def expire_lease(dsn: str, schema: str, worker: str) -> None:
    """End ``worker``'s lease now, as if it had died: the others take over what it held."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f'UPDATE "{schema}".pixverse_workers SET expires_at = clock_timestamp() WHERE id = $1',
            worker,
        )
    finally:
        await conn.close()


# -- (a) one worker, resumed with a higher cap -------------------------------------------------


@hang_guard(90)
async def test_a_capped_batch_resumed_with_a_higher_cap_counts_each_charge_once(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    """Run 1 stops with requests still generating (SUBMITTED in the journal); run 2, with a
    higher cap, polls them and sends what fits; run 3 (``pixverse batch``) finishes the batch.
    Each run's credits are the ledger's, each charge counted once, the cap to the credit."""
    table = PriceTable.random(seed=31, low=LOW, high=HIGH)
    requests = marked(batch(40, seed=31, tag="a "), every=5)
    prices = [table.price(to_json(r)) for r in requests]
    first = 12
    clock = Clock()
    where = {"batch": "a", "schema": pg_schema}
    async with Emulator(api_keys={"ka"}, prices=table, generation_time=clock) as emu:
        # Run 1: room for exactly the first twelve; stopped while they generate.
        cap1 = sum(prices[:first]) + prices[first] - 1
        watch = Watch()
        async with client_for(emu, "ka") as client, Journal(postgres_dsn, **where) as journal:
            runner = client.runner(concurrency=64, journal=journal, max_credits=cap1,
                                   costs=exact(table), on_progress=watch)  # fmt: skip
            async with runner.run(requests) as stream:
                reading = asyncio.ensure_future(_collect(stream))
                await watch.until(lambda p: p.running == first)
            reading.cancel()
        assert len(charges(emu, "ka")) == first
        summary = await batch_states(postgres_dsn, pg_schema, "a")
        assert (summary["submitted"], summary["pending"]) == (first, len(requests) - first)

        # Run 2: a higher cap. The twelve are polled (their charges were counted once: the
        # rest is used to the credit), a failed one's refund makes room.
        clock.seconds = 0.05
        emu.advance(HOUR)
        spent = emu.state.ledger.spent("ka")
        cap2 = spent + sum(prices[first:]) // 2
        async with client_for(emu, "ka") as client, Journal(postgres_dsn, **where) as journal:
            runner = client.runner(concurrency=64, journal=journal, max_credits=cap2,
                                   costs=exact(table))  # fmt: skip
            stream = runner.run(requests)
            outcomes = [o async for o in stream]
        assert peak_spend(emu, "ka") <= cap2
        assert sorted(o.index for o in outcomes) == list(range(len(requests)))
        assert_counted_once(outcomes, stream.progress, emu, "ka")
        assert stream.progress.credits_charged == emu.state.ledger.charged("ka")
        assert stream.progress.credits_refunded == emu.state.ledger.refunded("ka")
        resumed = [o for o in outcomes if o.resumed]
        assert sorted(o.index for o in resumed) == list(range(first))
        capped = [o for o in outcomes if o.state is OutcomeState.NOT_SUBMITTED]
        assert capped and len(capped) < len(requests) - first
        for o in capped:  # nothing that fitted was left out: the cap was not counted short
            assert emu.state.ledger.spent("ka") + prices[o.index] > cap2, o

        # Run 3: the command line, a cap for everything; its summary is the ledger's.
        jobs = tmp_path / "jobs.jsonl"
        jobs.write_text("".join(json.dumps({"kind": r.kind, **to_json(r)}) + "\n"
                                for r in requests))  # fmt: skip
        rules = [{"model": m, "quality": q, "duration": d,
                  "credits": table.price({"model": m, "quality": q, "duration": d})}
                 for m, q, d in COMBOS]  # fmt: skip
        prices_file = tmp_path / "prices.json"
        prices_file.write_text(json.dumps(rules))
        code, out, err = await pixverse(
            "--json", "--base-url", emu.base_url, "--api-key", "ka", "--poll-interval", "0.02",
            "batch", str(jobs), "--journal", postgres_dsn, "--journal-schema", pg_schema,
            "--batch", "a", "--prices", str(prices_file),
            "--max-credits", str(sum(prices)), "--report", "all",
        )  # fmt: skip
        assert "Traceback" not in err, err
        records = [json.loads(line) for line in out.splitlines()]
        final = records[-1]["summary"]
        ledger = emu.state.ledger
        assert final["not_submitted"] == 0, final
        assert final["succeeded"] + final["failed"] == len(requests)
        assert code == 1  # the #fail ones failed
        assert final["credits_charged"] == ledger.charged("ka") == sum(prices)
        assert final["credits_refunded"] == ledger.refunded("ka")
        assert final["credits_spent"] == ledger.spent("ka")
    assert await journal_credits(postgres_dsn, pg_schema, "a") == charges(emu, "ka")


@hang_guard(60)
async def test_a_rerun_on_the_same_open_journal_sends_what_the_cap_stopped(
    postgres_dsn: str, pg_schema: str
) -> None:
    """The requests a run ended not submitted go back to the batch when it ends, so a rerun
    with a higher cap on the same open journal (the same worker) sends them."""
    table = PriceTable.random(seed=61, low=LOW, high=HIGH)
    requests = batch(6, seed=61, tag="same ")
    prices = [table.price(to_json(r)) for r in requests]
    async with (
        Emulator(api_keys={"kd"}, prices=table, generation_seconds=0.05) as emu,
        client_for(emu, "kd") as client,
        Journal(postgres_dsn, batch="d", schema=pg_schema) as journal,
    ):
        states = []
        for cap in (sum(prices[:4]) + prices[4] - 1, sum(prices)):
            runner = client.runner(concurrency=8, journal=journal, max_credits=cap,
                                   costs=exact(table))  # fmt: skip
            stream = runner.run(requests)
            outcomes = sorted([o async for o in stream], key=lambda o: o.index)
            states.append([o.state for o in outcomes])
            assert_counted_once(outcomes, stream.progress, emu, "kd")
            assert stream.progress.credits_charged == emu.state.ledger.charged("kd")
    assert states[0][:4] == [OutcomeState.SUCCEEDED] * 4
    assert OutcomeState.NOT_SUBMITTED in states[0][4:]
    assert states[1] == [OutcomeState.SUCCEEDED] * 6
    assert emu.state.ledger.charged("kd") == sum(prices)


# -- (b) two workers, one cap ------------------------------------------------------------------


@hang_guard(150)
async def test_two_workers_on_one_capped_batch_never_spend_more_than_the_cap(
    postgres_dsn: str, pg_schema: str
) -> None:
    """Two runners with their own connections and clients run the same input on one batch,
    each with the same cap: the ledger never shows more spent than the cap, each request
    is charged at most once, and each run reports every request with the ledger's credits."""
    table = PriceTable.random(seed=41, low=LOW, high=HIGH)
    rng = random.Random(41)
    rounds = 3
    n = 50
    both_sent = capped_rounds = 0
    async with Emulator(api_keys={f"kb{i}" for i in range(rounds)}, prices=table,
                        generation_seconds=0.05, failure_rate=0.1, seed=41) as emu:  # fmt: skip
        for i in range(rounds):
            key, name = f"kb{i}", f"b{i}"
            requests = batch(n, seed=400 + i, tag=f"b{i} ")
            full = cost(table, requests)
            cap = rng.randint(full // 4, 3 * full // 4)

            (out1, p1), (out2, p2) = await asyncio.gather(
                *(_capped_worker(emu, key, postgres_dsn, pg_schema, name, requests, cap)
                  for _ in range(2))
            )  # fmt: skip
            assert peak_spend(emu, key) <= cap, (i, cap)
            ledger = charges(emu, key)
            made = collections.Counter(
                g.body["prompt"] for g in emu.state.generations.values() if g.api_key == key
            )
            assert len(ledger) == sum(made.values()) and set(made.values()) <= {1}  # once each
            for outcomes, progress in ((out1, p1), (out2, p2)):
                assert sorted(o.index for o in outcomes) == list(range(n))
                assert_counted_once(outcomes, progress, emu, key)
            # Every charge is reported, by one run or both, and the same way by both.
            seen: dict[int, int | None] = {}
            for o in (*out1, *out2):
                if o.video_id is not None:
                    assert seen.setdefault(o.video_id, o.credits) == o.credits
            assert seen == ledger
            by_index = collections.defaultdict(set)
            for o in (*out1, *out2):
                if o.video_id is not None:
                    by_index[o.index].add(o.video_id)
            assert all(len(ids) == 1 for ids in by_index.values())  # one video per request
            assert await journal_credits(postgres_dsn, pg_schema, name) == ledger
            sent1 = {o.video_id for o in out1 if o.video_id is not None and not o.resumed}
            sent2 = {o.video_id for o in out2 if o.video_id is not None and not o.resumed}
            assert not sent1 & sent2
            both_sent += bool(sent1 and sent2)
            capped_rounds += any(o.state is OutcomeState.NOT_SUBMITTED for o in (*out1, *out2))
    assert both_sent >= 1 and capped_rounds == rounds  # the workers shared, and the cap bit


async def _capped_worker(
    emu: Emulator, key: str, dsn: str, schema: str, name: str,
    requests: Sequence[TextToVideo], cap: int,
) -> tuple[list[Outcome], Progress]:  # fmt: skip
    """One worker of batch ``name``: its own client, its own database connections."""
    async with (
        client_for(emu, key) as client,
        Journal(dsn, batch=name, schema=schema, lease=3) as journal,
    ):
        runner = client.runner(concurrency=16, journal=journal, max_credits=cap,
                               costs=CostEstimator(default=HIGH, table=None))  # fmt: skip
        stream = runner.run(requests)
        return [o async for o in stream], stream.progress


# -- (c) resumed SUBMITTED requests claimed by the workers' coordination ------------------------


async def _submit_by_hand(
    journal: Journal, client: PixVerse, requests: Sequence[TextToVideo]
) -> None:
    """What a worker that died after submitting left behind: the requests claimed by it and
    SUBMITTED, with their credits, generating."""
    store = journal.postgres
    assert store is not None
    todo = [(request_key(r.kind, to_json(r)), r) for r in requests]
    await journal.mark_pending_many([(key, r.kind, to_json(r)) for key, r in todo])
    assert len(await store.claim(len(todo))) == len(todo)
    for key, r in todo:
        trace = str(uuid.uuid4())
        await journal.mark_sending(key, trace)
        job = await client.videos.submit(r, trace_id=trace)
        await journal.mark_submitted(key, job.video_id, job.credits)


@pytest.mark.parametrize("how", ["taken_over", "claimed_before_read", "finished_before_read"])
@hang_guard(60)
async def test_resumed_submitted_requests_claimed_by_a_worker_are_counted_once(
    how: str, postgres_dsn: str, pg_schema: str
) -> None:
    """Six requests were submitted by an earlier worker (two of them fail: refunded); a new
    worker with a cap of exactly their charges plus the cost of four new requests runs all
    ten. It polls the six (taken over from the dead worker; or claimed before its input read
    them, ending before or after it did) and sends the four at once: the cap counts each
    charge once, and so do its outcomes and progress."""
    table = PriceTable.random(seed=51, low=LOW, high=HIGH)
    requests = marked(batch(10, seed=51, tag=f"{how} "), every=3)
    old, new = requests[:6], requests[6:]
    clock = Clock()
    watch = Watch()
    async with (
        Emulator(api_keys={"kc"}, prices=table, generation_time=clock) as emu,
        client_for(emu, "kc") as client,
    ):
        dead = Journal(postgres_dsn, batch="c", schema=pg_schema, lease=30)
        async with dead:
            await _submit_by_hand(dead, client, old)
            cap = emu.state.ledger.charged("kc") + cost(table, new)
            if how != "taken_over":
                await dead.close()  # a clean stop: the six go back to the batch
            if how == "finished_before_read":
                emu.advance(HOUR)  # they end (and are refunded) before the new run reads them
            read = asyncio.Event()

            async def given() -> AsyncIterator[TextToVideo]:
                if how == "claimed_before_read":
                    await watch.until(lambda p: p.running == len(old))
                elif how == "finished_before_read":
                    await watch.until(lambda p: watch.peak_running == len(old) and not p.running)
                for r in requests:
                    yield r
                read.set()

            async with Journal(postgres_dsn, batch="c", schema=pg_schema, lease=3) as journal:
                runner = client.runner(concurrency=16, journal=journal, max_credits=cap,
                                       costs=exact(table), on_progress=watch)  # fmt: skip
                async with runner.run(given()) as stream:
                    reading = asyncio.ensure_future(_collect(stream))
                    await read.wait()
                    if how == "taken_over":
                        # The four new ones are sent while the dead worker still holds the six.
                        await watch.until(lambda p: p.running == len(new))
                        assert dead.postgres is not None
                        await expire_lease(postgres_dsn, pg_schema, dead.postgres.worker_id)
                    # All sent (or polled) at once: nothing had to wait for a refund.
                    running = len(new) if how == "finished_before_read" else len(requests)
                    await watch.until(lambda p: p.running == running)
                    emu.advance(HOUR)
                    outcomes = await reading
        progress = stream.progress
    assert sorted(o.index for o in outcomes) == list(range(len(requests)))
    assert {o.state for o in outcomes} == {OutcomeState.SUCCEEDED, OutcomeState.FAILED}
    assert [o.resumed for o in sorted(outcomes, key=lambda o: o.index)] == [True] * 6 + [False] * 4
    assert_counted_once(outcomes, progress, emu, "kc")
    assert progress.credits_charged == emu.state.ledger.charged("kc") == cap
    assert progress.credits_refunded == emu.state.ledger.refunded("kc") > 0
    assert peak_spend(emu, "kc") <= cap


async def _collect(stream: Any) -> list[Outcome]:
    return [o async for o in stream]


# -- the record itself: one for all the workers of a batch ---------------------------------------


async def test_reservations_are_one_record_for_all_the_workers_of_a_batch(
    postgres_dsn: str, pg_schema: str
) -> None:
    """Two workers reserving at once never hold more than the cap between them; recorded
    costs replace reservations; a dead worker's unsent reservations stop counting, its
    sends' stay (they may have been charged); a send without a reservation is unpriced."""
    body = {"model": "v5", "quality": "540p", "duration": 5}
    keys = [f"k{i}" for i in range(60)]
    where = {"batch": "r", "schema": pg_schema}
    async with Journal(postgres_dsn, **where) as a, Journal(postgres_dsn, **where) as b:
        sa, sb = a.postgres, b.postgres
        assert sa is not None and sb is not None
        await a.mark_pending_many([(k, "text_to_video", {**body, "prompt": k}) for k in keys])
        mine = {s.worker_id: [e.key for e in await s.claim(30)] for s in (sa, sb)}

        def ten_within_300(spend: Any) -> int | None:
            return 10 if spend.spent + spend.reserved + 10 <= 300 else None

        async def reserve_all(store: Any) -> list[str]:
            return [k for k in mine[store.worker_id]
                    if await store.spending.reserve(k, ten_within_300) is not None]  # fmt: skip

        got_a, got_b = await asyncio.gather(reserve_all(sa), reserve_all(sb))
        assert len(got_a) + len(got_b) == 30 and got_a and got_b
        assert (await sa.spending.spend()).reserved == 300

        # Five of A's are submitted at 7 credits: their costs replace their reservations.
        for i, key in enumerate(got_a[:5]):
            await a.mark_sending(key, f"t{i}")
            await a.mark_submitted(key, 1000 + i, 7)
            await sa.spending.release(key)
        await a.mark_failed(got_a[0], "VideoFailedError", "refunded")
        spend = await sb.spending.spend()
        assert (spend.charged, spend.refunded, spend.spent) == (35, 7, 28)
        assert spend.reserved == 300 - 50 and spend.sending == 25

        # B sends one and dies: its other reservations never went out, that one may have.
        await b.mark_sending(got_b[0], "tb")
        await expire_lease(postgres_dsn, pg_schema, sb.worker_id)
        spend = await sa.spending.spend()
        assert spend.reserved == 10 * (len(got_a) - 5) + 10
        assert spend.sending == len(got_a) - 5  # B's send will never answer: nothing to await

        # A send recorded without a reservation (a worker without a cap) is unpriced.
        spare = next(k for k in mine[sa.worker_id] if k not in got_a)
        await a.mark_sending(spare, "ts")
        await a.mark_unknown(spare, "ts", "no answer")
        spend = await sa.spending.spend()
        assert spend.unpriced == (("text_to_video", {**body, "prompt": spare}),)
