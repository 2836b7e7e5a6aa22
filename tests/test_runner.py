"""The job runner against the emulator: limits, outcomes, journal, cancellation, crashes."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pixverse_async import JobTimeoutError, PixVerse, PollPolicy, RetryPolicy, VideoFailedError
from pixverse_async.batch.runner import Outcome, OutcomeState, Progress
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.jobs.polling import PollLearner, learning_key
from pixverse_async.journal import Journal, JournalError, JournalState
from pixverse_async.models import ImageToVideo, TextToVideo, VideoStatus

from .batch_child import KEY as CHILD_KEY
from .batch_child import batch
from .conftest import API_KEY, FAST_RETRY
from .test_workers import hang_guard

POLL = PollPolicy(first_delay=0.05, interval=0.02, factor=1.0, max_delay=0.02, jitter=0.0)


def t2v(prompt: str) -> TextToVideo:
    return TextToVideo(prompt=prompt, model="v5", duration=5, quality="540p", aspect_ratio="16:9")


#: A runner hold policy that leaves an unknown outcome unknown (no late resend in the run).
NO_LATE_RESENDS = RetryPolicy(max_retries=0)


def client_for(emu: Emulator, poll: PollPolicy = POLL) -> PixVerse:
    return PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=poll, retry=FAST_RETRY)


async def test_mixed_outcomes_in_input_order_with_typed_errors() -> None:
    prompts = ["ok 0", "bad #fail", "ok 1", "flagged #moderated", "rejected #reject", "ok 2"]
    async with Emulator(api_keys={API_KEY}) as emu, client_for(emu) as client:
        outcomes = await client.runner(concurrency=4).gather([t2v(p) for p in prompts])
    assert [o.index for o in outcomes] == list(range(6))
    states = [o.state for o in outcomes]
    assert states == [
        OutcomeState.SUCCEEDED, OutcomeState.FAILED, OutcomeState.SUCCEEDED,
        OutcomeState.FAILED, OutcomeState.FAILED, OutcomeState.SUCCEEDED,
    ]  # fmt: skip
    assert outcomes[0].video is not None and outcomes[0].video.url
    assert isinstance(outcomes[1].error, VideoFailedError)
    assert outcomes[3].error_type == "VideoModeratedError"
    assert outcomes[4].error_type == "ContentModerationError" and outcomes[4].video_id is None


async def test_run_yields_in_completion_order_and_mixes_kinds() -> None:
    async with Emulator(api_keys={API_KEY}) as emu, client_for(emu) as client:
        image = await emu_image(emu)
        requests = [
            t2v("one"),
            ImageToVideo(img_id=image, prompt="two", model="v5", duration=5, quality="540p"),
            t2v("three #fail"),
        ]
        seen: list[Outcome] = []
        async with client.runner(concurrency=3).run(requests) as stream:
            async for outcome in stream:
                seen.append(outcome)
    assert sorted(o.index for o in seen) == [0, 1, 2]
    assert {o.request.kind for o in seen} == {"text_to_video", "image_to_video"}


async def emu_image(emu: Emulator) -> int:
    """Register an image in the emulator as an upload would."""
    from pixverse_async.emulator.state import Upload

    upload_id = emu.state.next_id()
    emu.state.uploads[upload_id] = Upload(
        upload_id, "image", "image/png", Path("x.png"), 1, API_KEY
    )
    return upload_id


async def test_concurrency_limit_is_never_exceeded() -> None:
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.1) as emu,
        client_for(emu) as client,
    ):
        outcomes = await client.runner(concurrency=5).gather([t2v(f"p{i}") for i in range(40)])
        assert all(o.ok for o in outcomes)
        assert emu.state.peak_in_flight[API_KEY] == 5
        assert len(emu.state.generations) == 40


async def test_service_concurrency_limit_answers_are_absorbed_not_failed() -> None:
    progress: list[Progress] = []
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.1, max_concurrent_generations=3) as emu,
        client_for(emu) as client,
    ):
        hold = RetryPolicy(max_retries=7, base_delay=0.05)
        runner = client.runner(concurrency=10, hold=hold, on_progress=progress.append)
        outcomes = await runner.gather([t2v(f"p{i}") for i in range(30)])
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        assert Counter(g.body["prompt"] for g in emu.state.generations.values()) == Counter(
            {f"p{i}": 1 for i in range(30)}
        )
        limit_answers = [
            r for r in emu.state.requests_to(Paths.TEXT_TO_VIDEO) if r.err_code == 500044
        ]
        assert limit_answers, "the service limit was never hit; the test proves nothing"
        assert progress[-1].limit_answers == len(limit_answers)
        assert progress[-1].target_concurrency < 10
        assert progress[-1].succeeded == 30


@hang_guard(30)
async def test_a_held_request_goes_once_an_accepted_submit_grows_the_target_back() -> None:
    """Limit 2: one submit is answered 500044 while the other's answer is still on its way.
    The target shrinks to the one in flight; when that submit is accepted it grows back to 2,
    and the held request must be sent then, not when a generation ends (found by the stateful
    simulation: it waited a whole generation, the account's limit half used)."""
    async with (
        Emulator(api_keys={API_KEY}, clock="manual", generation_seconds=60) as emu,
        client_for(emu) as client,
    ):
        limited = emu.faults.once("text_to_video", "concurrency_limited")
        slow = emu.faults.once("text_to_video", "slow", seconds=5)  # acted on, answer held
        hold = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.02)
        runner = client.runner(concurrency=2, hold=hold, learner=False)
        async with runner.run([t2v("a"), t2v("b")]) as stream:
            first = asyncio.ensure_future(stream.__anext__())  # starts the run
            while not (limited.hits and slow.hits and stream.progress.limit_answers):
                await asyncio.sleep(0.01)
            assert stream.progress.target_concurrency == 1  # shrunk to the one in flight
            emu.advance(5)  # the held answer arrives: accepted
            while len(emu.state.generations) < 2:  # the held request goes, no generation ended
                await asyncio.sleep(0.01)
            assert all(g.done_at > emu.clock.now() for g in emu.state.generations.values())
            emu.finish_all()
            outcomes = [await first] + [o async for o in stream]
    assert sorted(o.state.value for o in outcomes) == ["succeeded", "succeeded"]


async def test_a_rate_limit_retry_after_is_waited_even_with_jobs_in_flight() -> None:
    # PixVerse's "Per-account request and concurrency limits" page: a request-rate limit
    # besides 500044. A job finishing frees no request budget: the held submit waits the
    # Retry-After the service asked for, and the rate limit is no failure.
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.1) as emu,
        client_for(emu) as client,
    ):
        emu.faults.add("text_to_video", "rate_limit", times=1, retry_after=2)
        hold = RetryPolicy(max_retries=7, base_delay=0.05)
        outcomes = await client.runner(concurrency=2, hold=hold).gather([t2v("a"), t2v("b")])
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        limited, *sent = emu.state.requests_to(Paths.TEXT_TO_VIDEO)
        assert limited.status == 429 and [r.status for r in sent] == [200, 200]
        # the other job was in flight (and done after ~0.1 s) when the first was held
        assert max(r.at for r in sent) - limited.at >= 1.95
        assert len(emu.state.generations) == 2


async def test_a_status_poll_past_a_rate_limit_waits_its_retry_after() -> None:
    # the client does not wait 2 s itself (retry_after_cap=0.5): the runner's poll does
    retry = RetryPolicy(max_retries=2, retry_after_cap=0.5)
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.3, rate_limit=(2, 2.0)) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=POLL, retry=retry) as client,
    ):
        (outcome,) = await client.runner(learner=False).gather([t2v("a")])
        assert outcome.ok, outcome.error
    polls = emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX)
    limited = [r for r in polls if r.status == 429]
    assert len(limited) == 1  # not one every 20 ms until the window moved
    assert polls[-1].at - limited[0].at >= 1.95


async def test_status_request_rate_can_be_capped() -> None:
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=1.0) as emu,
        client_for(emu) as client,
    ):
        runner = client.runner(concurrency=20, max_status_per_second=20)
        await runner.gather([t2v(f"p{i}") for i in range(20)])
        times = sorted(r.at for r in emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX))
        # in any 0.5 s window at most 10 (+1 for the edge) status requests
        worst = max(sum(1 for t in times if s <= t < s + 0.5) for s in times)
        assert worst <= 11


async def test_one_scheduler_polls_many_jobs_with_bounded_requests() -> None:
    poll = PollPolicy(first_delay=0.3, interval=0.05, factor=1.0, max_delay=0.05, jitter=0.0)
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.3) as emu,
        client_for(emu, poll=poll) as client,
    ):
        await client.runner(concurrency=50).gather([t2v(f"p{i}") for i in range(50)])
        polls = len(emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX))
        assert polls <= 50 * 3


async def test_poll_timeout_reports_a_timeout_and_keeps_the_job_resumable(tmp_path: Path) -> None:
    journal_path = tmp_path / "j.sqlite"
    poll = PollPolicy(first_delay=0.01, interval=0.02, jitter=0.0, timeout=0.2)
    async with Emulator(api_keys={API_KEY}, generation_seconds=3600) as emu:
        async with client_for(emu, poll=poll) as client:
            (outcome,) = await client.runner(journal=journal_path).gather([t2v("slow")])
            assert isinstance(outcome.error, JobTimeoutError) and not outcome.resumed
            assert outcome.error.waited >= 0.2 and outcome.error.status == VideoStatus.GENERATING
        async with Journal(journal_path) as journal:
            assert (await journal.get(outcome.key)).state is JournalState.SUBMITTED  # type: ignore[union-attr]
        finish_now(emu)
        async with client_for(emu) as client:
            (again,) = await client.runner(journal=journal_path).gather([t2v("slow")])
        assert again.ok and again.video_id == outcome.video_id
        assert len(emu.state.generations) == 1


async def test_ambiguous_submits_are_reported_and_never_resubmitted(tmp_path: Path) -> None:
    journal_path = tmp_path / "j.sqlite"
    faults = FaultConfig(reset=1.0, paths=(Paths.TEXT_TO_VIDEO,))
    async with Emulator(api_keys={API_KEY}, faults=faults) as emu:
        async with client_for(emu) as client:
            runner = client.runner(journal=journal_path, hold=NO_LATE_RESENDS)
            outcomes = await runner.gather([t2v("a"), t2v("b")])
        assert [o.state for o in outcomes] == [OutcomeState.UNKNOWN] * 2
        assert all(o.error_type == "SubmissionUnknownError" for o in outcomes)
        assert len(emu.state.generations) == 2  # the service did act on both
        emu.config.faults = FaultConfig()
        async with client_for(emu) as client:
            again = await client.runner(journal=journal_path).gather([t2v("a"), t2v("b")])
        assert [o.state for o in again] == [OutcomeState.UNKNOWN] * 2
        assert all(o.resumed for o in again)
        assert len(emu.state.generations) == 2


async def test_a_requeued_unknown_request_is_resent_under_its_trace_id(tmp_path: Path) -> None:
    # Requeue used to clear the trace id: the rerun generated (and paid for) a second video.
    journal_path = tmp_path / "j.sqlite"
    faults = FaultConfig(reset=1.0, paths=(Paths.TEXT_TO_VIDEO,))
    async with Emulator(api_keys={API_KEY}, faults=faults) as emu:
        async with client_for(emu) as client:
            runner = client.runner(journal=journal_path, hold=NO_LATE_RESENDS)
            first = await runner.gather([t2v("a"), t2v("b")])
        assert [o.state for o in first] == [OutcomeState.UNKNOWN] * 2
        traces = {g.body["prompt"]: g.trace_id for g in emu.state.generations.values()}
        emu.config.faults = FaultConfig()
        async with Journal(journal_path) as journal:
            for outcome in first:
                await journal.requeue(outcome.key)
        async with client_for(emu) as client:
            again = await client.runner(journal=journal_path).gather([t2v("a"), t2v("b")])
        assert all(o.ok for o in again)
        assert len(emu.state.generations) == 2  # the first sends' videos, not new ones
        assert {o.video_id for o in again} == set(emu.state.generations)
        async with Journal(journal_path) as journal:
            entries = {e.body["prompt"]: e for e in await journal.entries()}
        sends = FAST_RETRY.resends + 1  # the first run's send and its resends, then one more
        for prompt, entry in entries.items():
            assert entry.trace_id == traces[prompt] and entry.resends == sends
            records = [r for r in emu.state.requests_to(Paths.TEXT_TO_VIDEO)
                       if r.trace_id == entry.trace_id]  # fmt: skip
            assert len(records) == sends + 1


async def test_an_outcome_still_unknown_after_the_resends_is_resent_later_in_the_run(
    tmp_path: Path,
) -> None:
    faults = FaultConfig()
    sends = FAST_RETRY.resends + 1
    faults.add("text_to_video", "reset", times=sends)  # the first send and all its resends
    hold = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02)
    async with Emulator(api_keys={API_KEY}, faults=faults) as emu, client_for(emu) as client:
        runner = client.runner(journal=tmp_path / "j.sqlite", hold=hold)
        (outcome,) = await runner.gather([t2v("late")])
        (generation,) = emu.state.generations.values()
        assert outcome.ok and outcome.video_id == generation.video_id
        assert outcome.credits == generation.credits == emu.state.ledger.spent(API_KEY)
        records = emu.state.requests_to(Paths.TEXT_TO_VIDEO)
        assert len(records) == sends + 1 and {r.trace_id for r in records} == {generation.trace_id}
    async with Journal(tmp_path / "j.sqlite") as journal:
        (entry,) = await journal.entries()
    assert entry.state is JournalState.SUCCEEDED and entry.resends == sends


async def test_same_request_twice_in_a_batch_is_two_generations() -> None:
    async with Emulator(api_keys={API_KEY}) as emu, client_for(emu) as client:
        outcomes = await client.runner().gather([t2v("same"), t2v("same")])
        assert all(o.ok for o in outcomes) and outcomes[0].key != outcomes[1].key
        assert len(emu.state.generations) == 2


async def test_async_iterable_input() -> None:
    async def source() -> AsyncIterator[TextToVideo]:
        for i in range(10):
            await asyncio.sleep(0)
            yield t2v(f"p{i}")

    async with Emulator(api_keys={API_KEY}) as emu, client_for(emu) as client:
        outcomes = await client.runner(concurrency=3).gather(source())
        assert [o.index for o in outcomes] == list(range(10)) and all(o.ok for o in outcomes)


async def test_rerun_with_a_journal_skips_done_and_submits_only_the_rest(tmp_path: Path) -> None:
    journal_path = tmp_path / "j.sqlite"
    async with Emulator(api_keys={API_KEY}) as emu:
        async with client_for(emu) as client:
            await client.runner(journal=journal_path).gather([t2v(f"p{i}") for i in range(5)])
            outcomes = await client.runner(journal=journal_path).gather(
                [t2v(f"p{i}") for i in range(8)]
            )
        assert [o.resumed for o in outcomes] == [True] * 5 + [False] * 3
        assert all(o.ok for o in outcomes)
        assert outcomes[0].video is not None and outcomes[0].video.url
        assert len(emu.state.generations) == 8


async def test_cancelling_the_run_cancels_its_tasks_and_keeps_the_journal(tmp_path: Path) -> None:
    journal_path = tmp_path / "j.sqlite"
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.5) as emu:
        async with client_for(emu) as client:
            stream = client.runner(concurrency=4, journal=journal_path).run(
                [t2v(f"p{i}") for i in range(20)]
            )
            consumer = asyncio.create_task(_drain(stream))
            await asyncio.sleep(0.2)
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer
            await stream.aclose()
            leftover = [
                t for t in asyncio.all_tasks()
                if t is not asyncio.current_task()
                and not t.get_coro().__qualname__.startswith("RequestHandler")  # type: ignore[union-attr]
            ]  # fmt: skip
            assert leftover == []
        async with Journal(journal_path) as journal:
            summary = await journal.summary()
        assert summary[JournalState.SUBMITTED] == 4
        async with client_for(emu) as client:
            outcomes = await client.runner(concurrency=4, journal=journal_path).gather(
                [t2v(f"p{i}") for i in range(20)]
            )
        assert all(o.ok for o in outcomes)
        assert len(emu.state.generations) == 20


async def _drain(stream: object) -> None:
    async for _ in stream:  # type: ignore[attr-defined]
        pass


@pytest.mark.parametrize("kill_after", [0.3, 0.7, 1.2])
async def test_a_sigkilled_batch_resumes_with_one_generation_per_request(
    tmp_path: Path, kill_after: float
) -> None:
    journal_path = tmp_path / "j.sqlite"
    n = 80
    async with Emulator(api_keys={CHILD_KEY}, generation_seconds=0.2) as emu:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.batch_child", emu.base_url, str(journal_path), str(n),
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        await asyncio.sleep(kill_after + random.uniform(0, 0.2))
        assert child.returncode is None, "the batch ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL
        assert child.stdout is not None
        printed = (await child.stdout.read()).decode().split("\n")
        before = len(emu.state.generations)
        async with PixVerse(api_key=CHILD_KEY, base_url=emu.base_url, poll=POLL) as client:
            outcomes = await client.runner(concurrency=8, journal=journal_path).gather(batch(n))
        per_prompt = Counter(g.body["prompt"] for g in emu.state.generations.values())
        assert max(per_prompt.values()) == 1, "a request was generated twice"
        for outcome in outcomes:
            if outcome.ok:
                assert per_prompt[f"request {outcome.index}"] == 1
            else:
                assert outcome.state is OutcomeState.UNKNOWN  # killed mid-submit
        assert len(emu.state.generations) >= before
        assert sum(1 for line in printed if line.strip()) <= n


async def test_a_request_that_is_not_a_generation_fails_without_being_sent() -> None:
    from pixverse_async import MaskSelection

    async with Emulator(api_keys={API_KEY}) as emu, client_for(emu) as client:
        outcomes = await client.runner().gather(
            [t2v("fine"), MaskSelection(video_media_id=5), "not a request"]
        )
        assert [o.state for o in outcomes] == [
            OutcomeState.SUCCEEDED, OutcomeState.FAILED, OutcomeState.FAILED,
        ]  # fmt: skip
        assert outcomes[1].error_type == "ValidationError"
        assert not emu.state.requests_to(Paths.MASK_SELECTION)


def finish_now(emu: Emulator) -> None:
    """Every generation the emulator runs ends now (no waiting on real generation times)."""
    emu.finish_all()


async def submit_then_stop(emu: Emulator, journal_path: Path, requests: list[TextToVideo]) -> None:
    """A run stopped once every request was submitted: the journal keeps them SUBMITTED."""
    async with client_for(emu) as client:
        stream = client.runner(concurrency=len(requests), journal=journal_path).run(requests)
        consumer = asyncio.create_task(_drain(stream))
        while len(emu.state.generations) < len(requests):
            await asyncio.sleep(0.01)
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        await stream.aclose()


async def test_a_job_resumed_from_the_journal_times_out_like_a_fresh_one(tmp_path: Path) -> None:
    journal_path = tmp_path / "j.sqlite"
    async with Emulator(api_keys={API_KEY}, generation_seconds=3600) as emu:
        await submit_then_stop(emu, journal_path, [t2v("never ends")])
        poll = PollPolicy(first_delay=0.05, interval=0.05, factor=1, max_delay=0.05, jitter=0,
                          timeout=0.5)  # fmt: skip
        async with client_for(emu, poll=poll) as client:
            runner = client.runner(journal=journal_path)
            async with runner.run([t2v("never ends")]) as stream:
                (outcome,) = [o async for o in stream]  # ends: no need for a timer here
                progress = stream.progress
        assert outcome.resumed and outcome.state is OutcomeState.FAILED
        assert isinstance(outcome.error, JobTimeoutError)
        assert outcome.error.video_id == outcome.video_id
        assert outcome.error.status == VideoStatus.GENERATING and outcome.error.waited >= 0.5
        # polled at once, then every 0.05 s up to the deadline 0.5 s later (not forever)
        assert 2 <= progress.status_requests <= 0.5 / 0.05 + 2
        async with Journal(journal_path) as journal:
            (entry,) = await journal.entries()
        assert entry.state is JournalState.SUBMITTED  # a later run polls it again
        finish_now(emu)
        async with client_for(emu, poll=poll) as client:
            (again,) = await client.runner(journal=journal_path).gather([t2v("never ends")])
        assert again.ok and again.resumed and len(emu.state.generations) == 1


async def test_a_journal_that_cannot_be_opened_is_one_error_for_the_caller(
    tmp_path: Path,
) -> None:
    async with Emulator(api_keys={API_KEY}) as emu, client_for(emu) as client:
        runner = client.runner(journal=tmp_path / "missing" / "j.sqlite")
        with pytest.raises(JournalError, match="missing"):
            await asyncio.wait_for(runner.gather([t2v("a")]), 10)  # it used to hang forever
        stream = runner.run([t2v("a")])
        with pytest.raises(JournalError):
            await asyncio.wait_for(stream.__anext__(), 10)
        await stream.aclose()
        assert emu.state.generations == {}


async def test_the_runner_polls_first_when_similar_jobs_are_typically_done() -> None:
    # The policy alone would poll first after 30 s; the runner's learner knows better.
    slow_first = PollPolicy(first_delay=30, interval=30, jitter=0, timeout=60)
    learner = PollLearner(min_samples=1)
    learner.observe_finished(learning_key(t2v("x")), 0.1)
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0) as emu,
        client_for(emu, poll=slow_first) as client,
    ):
        runner = client.runner(concurrency=10, learner=learner)
        async with runner.run([t2v(f"p{i}") for i in range(20)]) as stream:
            outcomes = await asyncio.wait_for(_collect(stream), 20)
            progress = stream.progress
    assert all(o.ok for o in outcomes) and len(outcomes) == 20
    assert progress.status_requests == 20  # one status request per job
    learned = learner.first_delay(learning_key(t2v("x")))
    assert learned is not None and learned < 0.1  # all done at their first poll: earlier next


async def test_the_runner_learns_by_default_and_can_be_told_not_to() -> None:
    async with Emulator(api_keys={API_KEY}, generation_seconds=0) as emu, client_for(emu) as c:
        learning = c.runner()
        await learning.gather([t2v(f"p{i}") for i in range(10)])
        assert learning.learner is not None
        assert learning.learner.first_delay(learning_key(t2v("x"))) is not None
        assert c.runner(learner=False).learner is None


async def _collect(stream: object) -> list[Outcome]:
    return [o async for o in stream]  # type: ignore[attr-defined]
