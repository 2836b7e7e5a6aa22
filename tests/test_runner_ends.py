"""One end per job: where the ways a job can end meet (a poll, a webhook, a timeout, a
refusal), the first end wins, the journal records it, the stream reports it once and the
job's place is given back once.

Everything runs against the emulator over loopback with its manual clock: a status answer is
held (a ``slow`` fault, or a refusal with ``hold``) until the test moves the clock, so "a poll
in flight when the webhook ends the job" is a state the test sets up, not a race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from pixverse_async import JobTimeoutError, PollPolicy, TextToVideo
from pixverse_async.emulator import Emulator
from pixverse_async.journal import Journal, JournalState
from pixverse_async.polling import SafetyNet
from pixverse_async.runner import Outcome, OutcomeState
from pixverse_async.webhooks import CompletionHub

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
