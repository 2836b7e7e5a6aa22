"""One end per job: where the ways a job can end meet (a poll, a webhook, a timeout, a
refusal), the first end wins, the journal records it, the stream reports it once and the
job's place is given back once.

Everything runs against the emulator over loopback with its manual clock: a status answer is
held (a ``slow`` fault, or a refusal with ``hold``) until the test moves the clock, so "a poll
in flight when the webhook ends the job" is a state the test sets up, not a race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from pixverse_async import JobTimeoutError, PixVerse, PollPolicy, TextToVideo
from pixverse_async.batch.runner import Outcome, OutcomeState, Progress
from pixverse_async.emulator import Emulator
from pixverse_async.jobs.polling import SafetyNet
from pixverse_async.journal import Journal, JournalLeaseError, JournalState
from pixverse_async.webhooks import CompletionHub

from .conftest import API_KEY, FAST_RETRY
from .test_webhooks_jobs import FIELDS, setup
from .test_workers import hang_guard

#: Times out 0.2 s after the submit; the first (and only) poll comes at that deadline.
SHORT = PollPolicy(first_delay=0.0, interval=0.05, factor=1.0, max_delay=0.05, jitter=0.0,
                   timeout=0.2)  # fmt: skip
#: A safety net whose first poll is past SHORT's deadline (so it polls at the deadline) and
#: whose later polls are far off: after that, only webhook events end the jobs.
SLOW_NET = SafetyNet(factor=1.0, expected=30.0, interval=30.0)
HELD = 100.0  # emulator seconds a held status answer waits; generations take longer


async def held_polls(emu: Emulator, n: int) -> dict[int, str]:
    """Wait until ``n`` status requests are held; their video ids and faults."""
    while len(emu.requests_to("status")) < n:
        await asyncio.sleep(0.01)
    return {int(r.path.rsplit("/", 1)[1]): str(r.fault) for r in emu.requests_to("status")}


async def next_outcome(stream: AsyncIterator[Outcome]) -> Outcome:
    return await stream.__anext__()


@hang_guard(30)
async def test_a_stale_generating_answer_past_the_deadline_after_the_webhook_end_is_dropped(
    tmp_path: Path,
) -> None:
    """Both jobs' polls are in flight (held); a webhook ends one; then both answers say
    GENERATING, past the deadline. The ended job gets no second outcome (a timeout), its
    place is not given back twice, and the other job still gets its own outcome."""
    hub = CompletionHub(webhook_id="1234", safety_net=SLOW_NET)
    requests = [TextToVideo(prompt=p, **FIELDS) for p in ("first", "second")]
    async with setup(hub, clock="manual", generation_seconds=10 * HELD) as (emu, client):
        emu.faults.add("status", "slow", seconds=HELD, times=2)
        async with Journal(tmp_path / "j.sqlite") as journal:
            runner = client.runner(concurrency=2, journal=journal, poll=SHORT, learner=False)
            async with runner.run(requests) as stream:
                coming = asyncio.ensure_future(next_outcome(stream))  # starts the run
                ended, other = sorted(await held_polls(emu, 2))
                emu.finish(ended)  # its webhook ends it while its poll is in flight
                first = await coming
                assert (first.video_id, first.state) == (ended, OutcomeState.SUCCEEDED)
                emu.advance(HELD)  # both stale GENERATING answers arrive, past the deadline
                second = await next_outcome(stream)
                assert second.video_id == other and second.state is OutcomeState.FAILED
                assert isinstance(second.error, JobTimeoutError)
                rest = [o async for o in stream]  # nothing left to send: the run ends
                progress = stream.progress
            by_video = {e.video_id: e for e in await journal.entries()}
        emu.finish_all()  # (the emulator's deliveries are drained on the way out)
    assert rest == []
    assert progress.ends_dropped == 1  # the ended job's stale answer
    assert (progress.succeeded, progress.failed, progress.running) == (1, 1, 0)
    assert by_video[ended].state is JournalState.SUCCEEDED
    assert by_video[other].state is JournalState.SUBMITTED  # a rerun resumes it


@hang_guard(30)
async def test_a_stale_refusal_after_the_webhook_end_does_not_crash_the_run(
    tmp_path: Path,
) -> None:
    """A poll in flight when the webhook ends its job answers with a 4xx: dropped (no
    JournalStateError "cannot mark ... as failed: it is succeeded"), the job stays
    succeeded."""
    hub = CompletionHub(webhook_id="1234", safety_net=SLOW_NET)
    requests = [TextToVideo(prompt=p, **FIELDS) for p in ("first", "second")]
    async with setup(hub, clock="manual", generation_seconds=10 * HELD) as (emu, client):
        emu.faults.add("status", "refuse", err_code=400017, hold=HELD, times=1)
        emu.faults.add("status", "slow", seconds=2 * HELD, times=1)
        async with Journal(tmp_path / "j.sqlite") as journal:
            runner = client.runner(concurrency=2, journal=journal, poll=SHORT, learner=False)
            async with runner.run(requests) as stream:
                coming = asyncio.ensure_future(next_outcome(stream))  # starts the run
                faults = await held_polls(emu, 2)
                [refused] = [video for video, fault in faults.items() if fault == "refuse"]
                [other] = [video for video in faults if video != refused]
                emu.finish(refused)
                first = await coming
                assert (first.video_id, first.state) == (refused, OutcomeState.SUCCEEDED)
                second_coming = asyncio.ensure_future(next_outcome(stream))
                emu.advance(HELD)  # the stale refusal arrives
                while stream.progress.ends_dropped < 1 and not second_coming.done():
                    await asyncio.sleep(0.01)
                assert not second_coming.done(), second_coming.result()  # no crash, no outcome
                emu.advance(HELD)  # the other's GENERATING, past the deadline
                second = await second_coming
                assert (second.video_id, second.error_type) == (other, "JobTimeoutError")
                rest = [o async for o in stream]
                progress = stream.progress
            by_video = {e.video_id: e for e in await journal.entries()}
        emu.finish_all()  # (the emulator's deliveries are drained on the way out)
    assert rest == [] and progress.ends_dropped == 1
    assert by_video[refused].state is JournalState.SUCCEEDED


# --- item 1: a timed-out job gives its place back when the service ends it ------------------

#: The issue's reproduction: every job times out 0.5 s after its submit.
TIMING_OUT = PollPolicy(first_delay=0.1, interval=0.1, factor=1, max_delay=0.1, jitter=0,
                        timeout=0.5)  # fmt: skip
FAST = PollPolicy(first_delay=0.02, interval=0.02, factor=1.0, max_delay=0.02, jitter=0.0)
#: Watches a timed-out job every 0.1 s.
QUICK_NET = SafetyNet(factor=1.0, expected=0.1, interval=0.1)


def t2v(prompt: str) -> TextToVideo:
    return TextToVideo(prompt=prompt, **FIELDS)


@hang_guard(60)
async def test_timed_out_jobs_give_their_places_back_when_they_end_on_postgres(
    postgres_dsn: str, pg_schema: str
) -> None:
    await timed_out_jobs_give_their_places_back(
        lambda: Journal(postgres_dsn, batch="timeouts", schema=pg_schema, lease=3)
    )


@hang_guard(60)
async def test_timed_out_jobs_give_their_places_back_when_they_end_on_sqlite(
    tmp_path: Path,
) -> None:
    await timed_out_jobs_give_their_places_back(lambda: Journal(tmp_path / "j.sqlite"))


async def timed_out_jobs_give_their_places_back(journal_for: Callable[[], Journal]) -> None:
    """Three requests, two places, every job times out at 0.5 s while the service generates
    on: the two reported timed out keep their places (the service still counts them) until
    the service ends them; then the third is sent. Before, on PostgreSQL the two stayed
    SUBMITTED, held and counted for ever: the third was never sent."""
    requests = [t2v(f"slow {i}") for i in range(3)]
    async with Emulator(api_keys={API_KEY}, clock="manual", generation_seconds=1000) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            async with journal_for() as journal:
                runner = client.runner(concurrency=2, journal=journal, poll=TIMING_OUT,
                                       learner=False, safety_net=QUICK_NET)  # fmt: skip
                async with runner.run(requests) as stream:
                    first = [await next_outcome(stream), await next_outcome(stream)]
                    assert [o.error_type for o in first] == ["JobTimeoutError"] * 2
                    assert len(emu.state.generations) == 2  # no place for the third yet
                    assert stream.progress.watched_after_timeout == 2
                    emu.finish_all()  # the service ends them: their places come back
                    third = await next_outcome(stream)
                    rest = [o async for o in stream]
                    progress = stream.progress
                entries = {e.video_id: e for e in await journal.entries()}
                limit = None if journal.postgres is None else await journal.postgres.shared_limit()
            emu.finish_all()
    assert third.error_type == "JobTimeoutError" and rest == []
    assert third.index not in {o.index for o in first}
    assert len(emu.state.generations) == 3 and emu.state.peak_in_flight[API_KEY] == 2
    # The journal records the real end of the two, and keeps the third SUBMITTED (a rerun
    # resumes it); the stream said all three timed out.
    states = sorted(e.state.value for e in entries.values())
    assert states == ["submitted", "succeeded", "succeeded"]
    assert (progress.failed, progress.running, progress.watched_after_timeout) == (3, 0, 0)
    if limit is not None:  # the third still generates (not watched since the run ended):
        assert limit.in_flight == 1  # the account counts it until its end is recorded


async def test_a_generation_submitted_over_10_minutes_ago_no_longer_counts_on_postgres(
    postgres_dsn: str, pg_schema: str
) -> None:
    """PixVerse releases the slot of a generation running more than 10 minutes: the
    account's shared in-flight count stops counting it (a stopped run's SUBMITTED entries
    block another batch of the account for 10 minutes at most, not for ever)."""
    import asyncpg

    async with Journal(postgres_dsn, batch="old", schema=pg_schema) as journal:
        store = journal.postgres
        assert store is not None
        await store.set_limit(2)
        for i, video_id in enumerate((1, 2)):
            key = f"k{i}"
            await journal.mark_pending(key, "text_to_video", {"n": i})
            await journal.mark_sending(key, f"trace-{i}")
            await journal.mark_submitted(key, video_id)
        assert (await store.set_limit(2)).in_flight == 2
        conn = await asyncpg.connect(postgres_dsn)
        try:  # the first was submitted 601 s ago
            await conn.execute(
                f'UPDATE "{pg_schema}".pixverse_entries SET updated_at = updated_at - 601'
                " WHERE key = 'k0'"
            )
        finally:
            await conn.close()
        limit = await store.shared_limit()
    assert limit is not None and (limit.in_flight, limit.room) == (1, 1)


# --- item 6: an answer proving nothing was generated leaves the request to send ------------


@hang_guard(60)
async def test_a_refusal_before_create_leaves_the_request_pending_on_sqlite(
    tmp_path: Path,
) -> None:
    await refused_requests_are_sent_by_the_next_run(lambda: Journal(tmp_path / "j.sqlite"))


@hang_guard(60)
async def test_a_refusal_before_create_leaves_the_request_pending_on_postgres(
    postgres_dsn: str, pg_schema: str
) -> None:
    await refused_requests_are_sent_by_the_next_run(
        lambda: Journal(postgres_dsn, batch="refused", schema=pg_schema, lease=3)
    )


async def refused_requests_are_sent_by_the_next_run(journal_for: Callable[[], Journal]) -> None:
    """Two invalid requests (400017, 400013) fail this run, but the journal keeps them
    PENDING with the error: the next run sends them. A moderation refusal stays FAILED
    (repeating it risks the account)."""
    requests = [t2v("invalid"), t2v("wrong type"), t2v("flagged #reject"), t2v("fine")]
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.01) as emu:
        emu.faults.add("text_to_video", "refuse", err_code=400017, times=1)
        emu.faults.add("text_to_video", "refuse", err_code=400013, times=1)
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY,
                            poll=FAST) as client:  # fmt: skip
            async with journal_for() as journal:
                runner = client.runner(concurrency=1, journal=journal)
                first = await runner.gather(requests)
                entries = {e.key: e for e in await journal.entries()}
                again = await runner.gather(requests)
    assert [(o.state.value, o.error_type) for o in first] == [
        ("failed", "InvalidParameterError"),
        ("failed", "InvalidParameterError"),
        ("failed", "ContentModerationError"),
        ("succeeded", None),
    ]
    assert [(entries[o.key].state.value, entries[o.key].error_type) for o in first] == [
        ("pending", "InvalidParameterError"),
        ("pending", "InvalidParameterError"),
        ("failed", "ContentModerationError"),
        ("succeeded", None),
    ]
    assert [(o.state.value, o.resumed) for o in again] == [
        ("succeeded", False),
        ("succeeded", False),
        ("failed", True),
        ("succeeded", True),
    ]


@hang_guard(60)
async def test_a_refused_key_ends_what_is_queued_unsent(tmp_path: Path) -> None:
    """An invalid account (400012) refuses the key itself: the request it answered fails this
    run, the ones queued behind it end not submitted without being sent (no other send with
    that key would do better), all stay PENDING, and the next run sends them all."""
    requests = [t2v(f"line {i}") for i in range(3)]
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.01) as emu:
        emu.faults.add("text_to_video", "refuse", err_code=400012, times=1)
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY,
                            poll=FAST) as client:  # fmt: skip
            async with Journal(tmp_path / "j.sqlite") as journal:
                runner = client.runner(concurrency=1, journal=journal)
                first = await runner.gather(requests)
                submits = len(emu.state.requests_to("/openapi/v2/video/text/generate"))
                states = [e.state.value for e in await journal.entries()]
                again = await runner.gather(requests)
    assert [(o.state.value, o.error_type) for o in first] == [
        ("failed", "AuthenticationError"),
        ("not_submitted", "AuthenticationError"),
        ("not_submitted", "AuthenticationError"),
    ]
    assert submits == 1
    assert states == ["pending"] * 3
    assert [(o.state.value, o.resumed) for o in again] == [("succeeded", False)] * 3


# --- item 7: a stalled worker -----------------------------------------------------------------

LEASE = 0.6


@hang_guard(60)
async def test_a_stalled_worker_says_so_and_the_stream_and_journal_agree(
    postgres_dsn: str, pg_schema: str
) -> None:
    """Worker A's submit is in flight when its event loop blocks (``time.sleep``) past its
    lease; worker B takes over and reports the request UNKNOWN (A may have created it). When
    A runs again and gets its answer, it must not record the request submitted behind B's
    report: the journal keeps it UNKNOWN, like B's stream; and A stops saying that its lease
    expired while it was not running, not that the database was unreachable."""
    import threading
    import time

    req = t2v("stalled")
    result: dict[str, object] = {}
    a_loop: list[asyncio.AbstractEventLoop] = []

    async def worker_a(base_url: str) -> None:
        a_loop.append(asyncio.get_running_loop())
        async with (
            Journal(postgres_dsn, batch="stall", schema=pg_schema, lease=LEASE) as journal,
            PixVerse(api_key=API_KEY, base_url=base_url, retry=FAST_RETRY, poll=FAST) as client,
        ):
            try:
                result["outcomes"] = await client.runner(concurrency=1, journal=journal).gather(
                    [req]
                )
            except Exception as exc:
                result["error"] = exc

    async with Emulator(api_keys={API_KEY}, clock="manual", generation_seconds=1000) as emu:
        emu.faults.add("text_to_video", "slow", seconds=HELD, times=1)
        thread = threading.Thread(target=asyncio.run, args=(worker_a(emu.base_url),))
        thread.start()
        try:
            while not emu.requests_to("text_to_video"):  # A is sending (SENDING in the journal)
                await asyncio.sleep(0.01)
            a_loop[0].call_soon_threadsafe(time.sleep, 4 * LEASE)  # A stops running
            async with (
                Journal(postgres_dsn, batch="stall", schema=pg_schema, lease=LEASE) as journal,
                PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST) as client,
            ):
                [b_outcome] = await client.runner(concurrency=1, journal=journal).gather([req])
                emu.advance(HELD)  # A's answer goes out: the video exists
                emu.finish_all()
                await asyncio.to_thread(thread.join, 30)
                [entry] = await journal.entries()
        finally:
            emu.advance(HELD)
            await asyncio.to_thread(thread.join, 30)
    assert b_outcome.state is OutcomeState.UNKNOWN
    assert entry.state is JournalState.UNKNOWN  # as B's stream said
    error = result.get("error")
    assert isinstance(error, JournalLeaseError), result
    assert "not running" in str(error) and "unreachable" not in str(error)
    print(f"\nthe stalled worker: {error}")
    assert len(emu.state.generations) == 1


async def finishing(emu: Emulator) -> None:
    """End every generation as soon as it is created."""
    while True:
        emu.finish_all()
        await asyncio.sleep(0.01)


@hang_guard(60)
async def test_a_stopped_batch_does_not_block_another_batch_of_the_account(
    postgres_dsn: str, pg_schema: str
) -> None:
    """The issue's reproduction: a batch stopped (Ctrl-C) while 2 jobs were submitted, then
    another batch on the same account and limit. Before, the second sat at 0/2 with room 0
    until the first was run again: the stopped batch's SUBMITTED entries were counted in
    flight though nobody watched them (and the service had finished them)."""
    progress_seen = asyncio.Event()

    def both_submitted(progress: Progress) -> None:
        if progress.running == 2 and progress.submitting == 0:
            progress_seen.set()

    async with Emulator(api_keys={API_KEY}, clock="manual", generation_seconds=1000) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY,
                            poll=FAST) as client:  # fmt: skip
            async with Journal(postgres_dsn, batch="first", schema=pg_schema, lease=3) as journal:
                runner = client.runner(concurrency=2, journal=journal, on_progress=both_submitted)
                stream = runner.run([t2v("first 0"), t2v("first 1")])
                consumer = asyncio.ensure_future(next_outcome(stream))
                await progress_seen.wait()
                consumer.cancel()  # Ctrl-C
                await asyncio.gather(consumer, return_exceptions=True)
                await stream.aclose()
            emu.finish_all()  # the service finishes them; nobody watches them now
            async with Journal(postgres_dsn, batch="second", schema=pg_schema, lease=3) as journal:
                finisher = asyncio.ensure_future(finishing(emu))  # the second's end at once
                try:
                    second = await client.runner(concurrency=2, journal=journal).gather(
                        [t2v("second 0"), t2v("second 1")]
                    )
                finally:
                    finisher.cancel()
                first_states = [
                    e.state for e in await journal.entries() if e.body["prompt"].startswith("first")
                ]
    assert [o.state for o in second] == [OutcomeState.SUCCEEDED] * 2
    assert first_states == []  # (another batch's entries are not this journal's)


@hang_guard(60)
async def test_a_timed_out_job_submitted_over_10_minutes_ago_is_let_go_at_once(
    tmp_path: Path,
) -> None:
    """PixVerse releases the slot of a generation running more than 10 minutes: a job the
    journal says was submitted 11 minutes ago, resumed and timed out, is not watched (its
    place is not held); the next request is sent at once. (Were it held, the second request
    would wait for a generation the manual clock never ends.)"""
    import sqlite3

    path = tmp_path / "j.sqlite"
    progress_seen = asyncio.Event()

    def submitted(progress: Progress) -> None:
        if progress.running == 1 and progress.submitting == 0:
            progress_seen.set()

    async with Emulator(api_keys={API_KEY}, clock="manual", generation_seconds=1000) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            stream = client.runner(concurrency=1, journal=path, on_progress=submitted).run(
                [t2v("old")]
            )
            consumer = asyncio.ensure_future(next_outcome(stream))
            await progress_seen.wait()
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            await stream.aclose()
            conn = sqlite3.connect(path)
            try:
                with conn:
                    conn.execute("UPDATE entries SET updated_at = updated_at - 660")
            finally:
                conn.close()
            runner = client.runner(concurrency=1, journal=path, poll=TIMING_OUT, learner=False,
                                   safety_net=QUICK_NET)  # fmt: skip
            async with runner.run([t2v("old"), t2v("new")]) as stream:
                outcomes = [o async for o in stream]
                progress = stream.progress
            emu.finish_all()
    assert [(o.request.prompt, o.error_type, o.resumed) for o in outcomes] == [
        ("old", "JobTimeoutError", True),
        ("new", "JobTimeoutError", False),
    ]
    assert len(emu.state.generations) == 2 and progress.watched_after_timeout == 0


@hang_guard(30)
async def test_a_timed_out_job_ended_by_its_webhook_event_frees_its_place(tmp_path: Path) -> None:
    """With a hub, a timed-out job keeps its webhook watch: its event ends it (the journal
    records the success, no second outcome) and frees its place for the next request."""
    hub = CompletionHub(webhook_id="1234", safety_net=SLOW_NET)
    requests = [TextToVideo(prompt=p, **FIELDS) for p in ("first", "second")]
    async with setup(hub, clock="manual", generation_seconds=10 * HELD) as (emu, client):
        async with Journal(tmp_path / "j.sqlite") as journal:
            runner = client.runner(concurrency=1, journal=journal, poll=SHORT, learner=False)
            async with runner.run(requests) as stream:
                first = await next_outcome(stream)
                assert (first.index, first.error_type) == (0, "JobTimeoutError")
                assert len(emu.state.generations) == 1  # its place is still taken
                assert first.video_id is not None
                emu.finish(first.video_id)  # its event ends it
                second = await next_outcome(stream)
                rest = [o async for o in stream]
                progress = stream.progress
            states = {e.video_id: e.state for e in await journal.entries()}
        emu.finish_all()
    assert (second.index, second.error_type, rest) == (1, "JobTimeoutError", [])
    assert states == {
        first.video_id: JournalState.SUCCEEDED,
        second.video_id: JournalState.SUBMITTED,
    }
    assert progress.ends_dropped == 0 and progress.status_requests == 2  # one poll each
