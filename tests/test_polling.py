"""The one poll schedule (policy, deadline, timeout error) and the learned first poll."""

from __future__ import annotations

import asyncio
import itertools
import math
import random

import pytest

from pixverse_async import JobTimeoutError, PixVerse, PollPolicy, TextToVideo, TransportError
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator
from pixverse_async.jobs.polling import PollLearner, PollSchedule, learning_key, poll_until_done
from pixverse_async.models import VideoStatus

from .conftest import API_KEY, FAST_RETRY

EXACT = PollPolicy(first_delay=5, interval=2, factor=1.5, max_delay=15, jitter=0, timeout=100)


def t2v(prompt: str) -> TextToVideo:
    return TextToVideo(prompt=prompt, model="v5", duration=5, quality="540p", aspect_ratio="16:9")


def test_fresh_schedule_follows_the_policy_and_times_out_at_its_deadline() -> None:
    schedule = PollSchedule.begin(EXACT, now=1000.0)
    assert schedule.first_poll_at() == 1005.0 and schedule.deadline == 1100.0
    due, times = schedule.first_poll_at(), []
    while due is not None:
        times.append(due)
        due = schedule.after_poll(due)
    assert times[:5] == [1005.0, 1007.0, 1010.0, 1014.5, 1021.25]
    assert all(b - a <= 15.0 for a, b in itertools.pairwise(times))
    assert times[-1] == 1100.0  # the last poll is at the deadline, never past it
    assert schedule.timed_out(1100.0) and not schedule.timed_out(1099.9)
    error = schedule.timeout_error(7, VideoStatus.GENERATING, 1100.0)
    assert isinstance(error, JobTimeoutError)
    assert (error.video_id, error.status, error.waited) == (7, VideoStatus.GENERATING, 100.0)
    assert "GENERATING" in str(error) and "resume" in str(error)


def test_resumed_schedule_polls_at_once_and_has_a_deadline_from_the_resume() -> None:
    schedule = PollSchedule.begin(EXACT, now=50.0, first_delay=0.0)
    assert schedule.first_poll_at() == 50.0 and schedule.deadline == 150.0
    assert schedule.after_poll(149.0) == 150.0
    assert schedule.after_poll(150.0) is None


def test_waiting_that_begins_late_continues_the_policy_where_it_would_be() -> None:
    # wait() called 60 s after the submit: poll at once, then the policy's cadence at 60 s.
    schedule = PollSchedule.begin(EXACT, now=60.0, submitted=0.0)
    assert schedule.first_poll_at() == 60.0
    assert schedule.after_poll(60.0) == 75.0  # max_delay: the policy is at 15 s gaps by then
    assert EXACT.polls_within(60.0) == 7 and EXACT.polls_within(4.9) == 0


def test_learned_first_poll_then_the_policy_from_that_age() -> None:
    learner = PollLearner(min_samples=3)
    for seconds in (55.0, 60.0, 65.0):
        learner.observe_finished("k", seconds)
    assert learner.first_delay("k") == 60.0 and learner.first_delay("other") is None
    schedule = PollSchedule.begin(EXACT, now=0.0, learner=learner, key="k")
    assert schedule.first_poll_at() == 60.0
    assert schedule.after_poll(60.0) == 75.0  # not done: the learner moves later
    assert learner.first_delay("k") == pytest.approx(60.0 * math.exp(0.025))


def test_learner_settles_where_the_quantile_of_jobs_is_done_at_the_first_poll() -> None:
    rng = random.Random(4)
    learner = PollLearner(min_samples=8)
    times = [60.0 * math.exp(rng.gauss(0, 0.4)) for _ in range(4000)]
    for seconds in times[:8]:  # seen done by the policy's polls, a little late
        learner.observe_finished("k", seconds + 5.0)
    for seconds in times[8:]:
        first = learner.first_delay("k")
        assert first is not None
        learner.observe_first_poll("k", done=seconds <= first)
    assert learner.first_delay("k") == pytest.approx(60.0, rel=0.1)  # the true median


def test_many_jobs_in_flight_at_one_estimate_move_it_one_step_not_one_each() -> None:
    """200 jobs begin at the same estimate and their first polls answer together, round after
    round (a runner at concurrency 200): the estimate stays near the true median instead of
    swinging far too late and back (each correction compounding on the last)."""
    rng = random.Random(7)
    learner = PollLearner(min_samples=8)
    for _ in range(8):
        learner.observe_finished("k", 0.5)
    estimates = []
    for _ in range(300):
        schedules = [PollSchedule.begin(EXACT, 0.0, learner=learner, key="k") for _ in range(200)]
        times = [0.5 * math.exp(rng.gauss(0, 0.2)) for _ in schedules]
        for schedule, seconds in zip(schedules, times, strict=True):
            polled = schedule.first_poll_at()
            if seconds <= polled:
                schedule.finished(polled)
            else:
                schedule.after_poll(polled)
        estimates.append(learner.first_delay("k"))
    assert all(e is not None and 0.25 < e < 1.0 for e in estimates), (
        min(estimates),
        max(estimates),
    )  # type: ignore[operator]
    assert estimates[-1] == pytest.approx(0.5, rel=0.15)  # the true median


def test_exact_ends_arriving_together_move_the_estimate_one_step() -> None:
    learner = PollLearner(min_samples=1)
    learner.observe_end("k", 10.0)
    for _ in range(200):  # 200 webhook ends of jobs that all began at the estimate 10 s
        learner.observe_end("k", 20.0, at=10.0)
    assert learner.first_delay("k") == pytest.approx(10.0 * math.exp(0.025))


def test_learning_key_is_kind_model_quality_duration() -> None:
    assert learning_key(t2v("a")) == learning_key(t2v("b")) == ("text_to_video", "v5", "540p", 5)
    assert learning_key(None) is None


async def test_poll_until_done_polls_through_failures_and_reports_the_last_status() -> None:
    answers: list[str | TransportError] = [TransportError("connection reset"), "running"]
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        answer = answers[min(calls, len(answers)) - 1]
        if isinstance(answer, TransportError):
            raise answer
        return answer

    policy = PollPolicy(first_delay=0, interval=0.01, factor=1, max_delay=0.01, jitter=0,
                        timeout=0.05)  # fmt: skip
    loop = asyncio.get_running_loop()
    with pytest.raises(JobTimeoutError) as info:
        await poll_until_done(
            fetch, PollSchedule.begin(policy, loop.time()), is_done=lambda s: s == "done",
            job_id=3, status_of=lambda s: s,
        )  # fmt: skip
    assert info.value.status == "running" and info.value.video_id == 3
    assert info.value.waited >= 0.05 and calls >= 2


async def test_wait_with_a_learner_polls_first_at_the_learned_time() -> None:
    # The policy alone would first poll after 30 s; the learner knows these take 0.2 s.
    slow_first = PollPolicy(first_delay=30, interval=30, jitter=0, timeout=60)
    learner = PollLearner(min_samples=1)
    learner.observe_finished(learning_key(t2v("x")), 0.2)
    async with Emulator(api_keys={API_KEY}, generation_seconds=0) as emu:
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, poll=slow_first
        ) as client:
            job = await client.videos.text_to_video(**_fields("a fox"))
            video = await asyncio.wait_for(job.wait(learner=learner), 10)
        assert video.status is VideoStatus.SUCCESSFUL
        assert len(emu.state.requests_to(Paths.VIDEO_RESULT_PREFIX)) == 1
    learned = learner.first_delay(learning_key(t2v("x")))
    assert learned is not None and learned < 0.2  # done at its first poll: poll earlier


def _fields(prompt: str) -> dict[str, object]:
    return {"prompt": prompt, "model": "v5", "duration": 5, "quality": "540p",
            "aspect_ratio": "16:9"}  # fmt: skip


def test_the_default_schedule_keeps_to_pixverses_3_to_5_seconds() -> None:
    # PixVerse's llm.txt page: "poll the get-status endpoint every 3-5s until status=1"
    policy = PollPolicy()
    assert 3.0 <= policy.base_delay(0) <= 5.0  # the first poll
    assert 3.0 <= policy.base_delay(1) <= 5.0  # the second
    waits = [policy.delay(n) for _ in range(200) for n in range(12)]
    assert min(waits) >= 3.0  # never more often than every 3 s, jitter included
    assert max(policy.base_delay(n) for n in range(50)) == 15.0  # under load: at most 15 s
    assert [round(policy.base_delay(n), 2) for n in range(4)] == [5.0, 3.5, 5.25, 7.88]
