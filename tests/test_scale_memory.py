"""A run holds what is in flight and a few chunks of its input, not the input: the runner reads
its requests only as far as its consumer and its sends (or, on PostgreSQL, its claims) keep
up. Nothing here is timed: each test counts how far ahead of the run the input was read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

from pixverse_async import PixVerse
from pixverse_async.batch.intake import Occurrences
from pixverse_async.batch.outcomes import OutcomeState
from pixverse_async.emulator import Emulator
from pixverse_async.journal import Journal, request_key
from pixverse_async.models import TextToVideo, to_json

from .test_workers import KEY, POLL, hang_guard, request

CHUNK = 256  # the intake's chunk (pixverse_async.batch.intake._CHUNK)


def ahead_bound(concurrency: int) -> int:
    """How far the input may be read ahead of the run: the intake's pause threshold
    (4 x concurrency + a chunk), plus the chunk it is reading and one it just read."""
    return 4 * concurrency + CHUNK + 2 * CHUNK


@hang_guard(120)
async def test_the_runner_reads_its_input_no_further_ahead_than_its_consumer_takes_outcomes(
    tmp_path: Path,
) -> None:
    n, concurrency = 1500, 2
    requests = [request(i) for i in range(n)]
    journal = tmp_path / "journal.sqlite"
    async with (
        Emulator(api_keys={KEY}, generation_seconds=0.02) as emu,
        PixVerse(api_key=KEY, base_url=emu.base_url, poll=POLL) as client,
    ):
        done = await client.runner(concurrency=100, journal=journal).gather(requests)
        assert {o.state for o in done} == {OutcomeState.SUCCEEDED}
        # The rerun reports every request from the journal at once: only a consumer that
        # takes its outcomes slowly stands between the input and the run's memory.
        taken = 0
        gaps: list[int] = []

        def counted() -> Iterator[TextToVideo]:
            for i, r in enumerate(requests):
                gaps.append(i - taken)
                yield r

        rerun = client.runner(concurrency=concurrency, journal=journal)
        async with rerun.run(counted()) as outcomes:
            async for outcome in outcomes:
                assert outcome.resumed
                taken += 1
                for _ in range(20):  # a slow consumer (yields, no time)
                    await asyncio.sleep(0)

    assert taken == n
    assert max(gaps) <= ahead_bound(concurrency), max(gaps)


@hang_guard(120)
async def test_a_postgresql_worker_reads_no_further_ahead_than_the_others_finish_its_requests(
    postgres_dsn: str, pg_schema: str
) -> None:
    """Another worker holds every request of the batch and finishes them one by one: this
    worker's waiting list (requests of its input it cannot claim) stays a few chunks long
    instead of growing to the whole input."""
    n, concurrency = 1500, 2
    requests = [request(i) for i in range(n)]
    items = [(request_key(r.kind, to_json(r)), r.kind, to_json(r)) for r in requests]
    waiting: list[int] = []
    async with (
        Journal(postgres_dsn, batch="held", schema=pg_schema) as other,
        Journal(postgres_dsn, batch="held", schema=pg_schema) as ours,
        Emulator(api_keys={KEY}, generation_seconds=0.02) as emu,
        PixVerse(api_key=KEY, base_url=emu.base_url, poll=POLL) as client,
    ):
        await other.mark_pending_many(items)
        assert other.postgres is not None
        assert len(await other.postgres.claim(n)) == n

        async def finish_them() -> None:
            for key, _, _ in items:  # in the input's order, as a worker would
                await other.mark_sending(key, "trace-" + key[:8])
                await other.mark_unknown(key, None, "sent by the other worker")

        def counted() -> Iterator[TextToVideo]:
            for r in requests:  # how long the run's waiting list is when it reads the next
                shared = stream._run.state.shared
                waiting.append(len(shared.waiting) if shared is not None else 0)
                yield r

        runner = client.runner(concurrency=concurrency, journal=ours, report="own")
        stream = runner.run(counted())
        finisher = asyncio.ensure_future(finish_them())
        try:
            async with stream:
                outcomes = [o async for o in stream]
            await finisher
        finally:
            finisher.cancel()
            await asyncio.gather(finisher, return_exceptions=True)
        generated = len(emu.state.generations)

    assert outcomes == []  # all the other worker's (report="own")
    assert stream.progress.elsewhere == n
    assert generated == 0
    assert max(waiting) <= ahead_bound(concurrency), max(waiting)


def test_occurrences_count_repeats_across_merges_of_the_sorted_keys() -> None:
    seen = Occurrences()
    keys = [request_key("k", {"i": i}) for i in range(3 * Occurrences._RECENT + 5)]
    assert [seen.add(k) for k in keys] == [0] * len(keys)
    assert [seen.add(k) for k in keys[::1000]] == [1] * len(keys[::1000])
    assert seen.add(keys[0]) == 2
