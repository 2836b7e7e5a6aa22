"""The run's collaborators, each alone: the one end per job, intake, admission's target.

Each gets a real :class:`RunState` (a client that sends nothing here, a real in-memory
journal); the whole run is tested through the runner in test_runner*.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pixverse_async import PixVerse, TextToVideo
from pixverse_async.batch.admission import Admission
from pixverse_async.batch.ends import Ends
from pixverse_async.batch.intake import Intake
from pixverse_async.batch.outcomes import OutcomeState
from pixverse_async.batch.poller import Poller
from pixverse_async.batch.run_job import RunJob
from pixverse_async.batch.run_state import RunState
from pixverse_async.errors import ConcurrencyLimitError, ValidationError
from pixverse_async.journal import Journal, JournalState, request_key
from pixverse_async.models import to_json


@pytest.fixture
async def state() -> AsyncIterator[RunState]:
    # Nothing is sent: the client only gives the run its settings and its video endpoint.
    async with PixVerse(api_key="k", base_url="http://127.0.0.1:9") as client:
        run_state = RunState(client.runner(concurrency=4), client.videos)
        run_state.loop = asyncio.get_running_loop()
        async with Journal(":memory:") as journal:
            run_state.journal = journal
            yield run_state


def request(n: int) -> TextToVideo:
    return TextToVideo(
        prompt=f"scene {n}", model="v5", duration=5, quality="540p", aspect_ratio="16:9"
    )


def holding(state: RunState, index: int = 0) -> RunJob:
    """A job holding one of the run's in-flight places."""
    job = RunJob(index, f"key-{index}", request(index), to_json(request(index)))
    job.slot = True
    state.in_flight += 1
    return job


async def test_ends_the_first_end_wins_and_a_later_one_is_dropped_and_counted(
    state: RunState,
) -> None:
    ends = Ends(state)
    job = holding(state)
    recorded: list[str] = []

    async def record_failed() -> None:
        recorded.append("failed")

    async def record_succeeded() -> None:
        recorded.append("succeeded")

    await ends.end(job, OutcomeState.FAILED, record=record_failed)
    await ends.end(job, OutcomeState.SUCCEEDED, record=record_succeeded)

    assert recorded == ["failed"]  # the journal transition of the winner only
    assert state.in_flight == 0  # its place given back once
    outcome = state.results.get_nowait()
    assert outcome.state is OutcomeState.FAILED and state.results.empty()
    assert (state.progress.failed, state.progress.succeeded) == (1, 0)
    assert state.progress.ends_dropped == 1


async def test_intake_queues_new_requests_reports_finished_ones_and_rejects_the_rest(
    state: RunState,
) -> None:
    done = request(1)
    key = request_key(done.kind, to_json(done))
    await state.journal.mark_pending(key, done.kind, to_json(done))
    await state.journal.mark_sending(key, "trace-1")
    await state.journal.mark_submitted(key, video_id=7, credits=20)
    await state.journal.mark_succeeded(
        key, {"id": 7, "status": 1, "url": "https://cdn.example/7.mp4"}
    )
    ends = Ends(state)
    intake = Intake(state, ends, Poller(state, ends), [request(0), done, "not a request"])

    await intake.run()

    assert state.intake_done
    assert [job.index for job in state.queue] == [0]
    assert (await state.journal.get(state.queue[0].key)).state is JournalState.PENDING
    reported = [state.results.get_nowait() for _ in range(2)]
    assert {(o.index, o.state) for o in reported} == {
        (1, OutcomeState.SUCCEEDED),
        (2, OutcomeState.FAILED),
    }
    assert isinstance(next(o for o in reported if o.index == 2).error, ValidationError)
    assert state.progress.credits_charged == 20  # counted once, from the journal


async def test_admission_a_limit_answer_holds_the_request_and_shrinks_the_target(
    state: RunState,
) -> None:
    admission = Admission(state, Ends(state))
    for index in range(3):
        holding(state, index)
    refused = holding(state, 3)
    limit = ConcurrencyLimitError(
        err_code=500044, err_msg="too many", http_status=200, trace_id="t"
    )

    admission.hold(refused, limit)

    assert state.queue[0] is refused and refused.not_before > state.loop.time()
    assert state.target == 3.0  # what the service accepted: the three still in flight
    assert state.progress.limit_answers == 1
    admission.accepted()
    assert state.target == pytest.approx(3.0 + 1 / 3)  # grows back by 1 / target
    assert state.hold_streak == 0
