"""Ambiguous generation submits resent under their own trace id, as the emulator records them.

PixVerse documents that reusing a submit's ``Ai-trace-id`` "returns the previous result instead
of triggering a new generation"; the emulator models it (``dedup_trace_ids``, on by default).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixverse_async import PixVerse, RetryPolicy, ServerError, SubmissionUnknownError, TextToVideo
from pixverse_async.cli import main
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.emulator.threaded import EmulatorThread
from pixverse_async.webhooks import CompletionHub

from .conftest import API_KEY, FAST_POLL, FAST_RETRY
from .test_cli import KEY, on
from .test_webhooks_jobs import PATIENT, setup

GENERATE = Paths.TEXT_TO_VIDEO
FIELDS = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
#: Every ambiguous fault a submit can meet (a 500 comes before the emulator acts: the resend
#: generates; the others come after it acted: the resend answers the first video).
AMBIGUOUS = ("reset", "html_502", "error_500", "slow")


def faulty(kind: str, times: int) -> FaultConfig:
    faults = FaultConfig(seed=1)
    faults.add("text_to_video", kind, times=times, seconds=2.0)
    return faults


def charged(emu: Emulator) -> int:
    return sum(g.credits for g in emu.state.generations.values())


@pytest.mark.parametrize("kind", AMBIGUOUS)
async def test_an_ambiguous_submit_is_resent_under_its_trace_id_and_answered(kind: str) -> None:
    async with Emulator(api_keys={API_KEY}, faults=faulty(kind, times=2)) as emu:
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, poll=FAST_POLL
        ) as client:
            job = await client.videos.text_to_video(prompt="a kite", timeout=0.5, **FIELDS)
            video = await job.wait()
        records = emu.state.requests_to(GENERATE)
        assert len(records) == 3  # the first and two resends, the last one answered
        assert len({r.trace_id for r in records}) == 1
        (generation,) = emu.state.generations.values()  # generated once, charged once
        assert video.id == job.video_id == generation.video_id and video.is_successful
        assert job.credits == generation.credits == charged(emu)


async def test_resends_that_all_fail_end_in_submission_unknown() -> None:
    policy = RetryPolicy(max_retries=0, base_delay=0.01, max_delay=0.02, resends=2)
    async with Emulator(api_keys={API_KEY}, faults=faulty("reset", times=10)) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=policy) as client:
            with pytest.raises(SubmissionUnknownError) as info:
                await client.videos.text_to_video(prompt="a kite", **FIELDS)
        records = emu.state.requests_to(GENERATE)
        assert len(records) == 3 and {r.trace_id for r in records} == {info.value.trace_id}
        assert len(emu.state.generations) == 1  # the first acted; no resend generated again


@pytest.mark.parametrize("where", ["client", "call"])
async def test_resend_ambiguous_false_sends_once(where: str) -> None:
    off = {"client": {"resend_ambiguous": False}, "call": {}}[where]
    per_call = {"client": {}, "call": {"resend_ambiguous": False}}[where]
    async with Emulator(api_keys={API_KEY}, faults=faulty("reset", times=1)) as emu:
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, **off
        ) as client:
            with pytest.raises(SubmissionUnknownError) as info:
                await client.videos.text_to_video(prompt="a kite", **FIELDS, **per_call)
            assert len(emu.state.requests_to(GENERATE)) == 1
            # The same with a 500: raised as it is (today's meaning), never resent.
            emu.config.faults = faulty("error_500", times=1)
            with pytest.raises(ServerError):
                await client.videos.submit(TextToVideo(prompt="b", **FIELDS), **per_call)
        assert len(emu.state.requests_to(GENERATE)) == 2
        (generation,) = emu.state.generations.values()
        assert generation.trace_id == info.value.trace_id


async def test_a_service_that_does_not_dedup_generates_again_on_a_resend() -> None:
    async with Emulator(
        api_keys={API_KEY}, faults=faulty("reset", times=1), dedup_trace_ids=False
    ) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            await client.videos.text_to_video(prompt="a kite", **FIELDS)
        assert len(emu.state.generations) == 2  # what the switch models: paid twice


async def test_videos_resend_keeps_the_calls_headers_and_timeout_and_is_watched() -> None:
    # Issue 20, item 8: resend dropped extra_headers and the timeout, and its job had no watch.
    hub = CompletionHub(webhook_id="1234", safety_net=PATIENT)
    async with setup(hub, faults=faulty("slow", times=1)) as (emu, client):
        with pytest.raises(SubmissionUnknownError) as info:
            await client.videos.text_to_video(
                prompt="a kite",
                timeout=0.3,
                extra_headers={"X-Tag": "kite"},
                resend_ambiguous=False,
                **FIELDS,
            )
        # The resend meets a slow answer too: with the call's 0.3 s timeout it gives up on it
        # and resends again (the client's 60 s default would have waited for it).
        emu.config.faults = faulty("slow", times=1)
        job = await client.videos.resend(info.value)
        assert job.watch is not None and job.webhook_id == "1234"
        video = await job.wait()
        records = emu.state.requests_to(GENERATE)
        assert len(records) == 3
        assert [r.headers.get("X-Tag") for r in records] == ["kite"] * 3
        assert {r.trace_id for r in records} == {info.value.trace_id}
        (generation,) = emu.state.generations.values()
        assert job.video_id == generation.video_id and video.is_successful
        assert hub._watches == {}  # ended by its event, the watch closed


@pytest.fixture
def live() -> Iterator[Emulator]:
    """An emulator on its own thread, for the CLI's ``main()`` (which runs its own loop)."""
    with EmulatorThread(Emulator(api_keys={KEY}, generation_seconds=0)) as emu:
        yield emu


@pytest.mark.parametrize(("flag", "sent", "code"), [((), 2, 0), (("--no-resend",), 1, 1)])
def test_the_cli_resends_unless_told_not_to(
    live: Emulator, capsys: pytest.CaptureFixture[str], flag: tuple[str, ...], sent: int, code: int
) -> None:
    live.config.faults = faulty("reset", times=1)
    assert main([*flag, *on(live, "generate", "text", "--prompt", "a kite")]) == code
    err = capsys.readouterr().err
    assert len(live.state.requests_to(GENERATE)) == sent and len(live.state.generations) == 1
    assert ("SubmissionUnknownError" in err) is bool(flag)


async def test_a_faulty_batch_reports_the_credits_the_ledger_charged() -> None:
    # Issue 21: the runner reported 4,940 credits against 5,220 on the ledger (the generations
    # behind submits whose answer was lost). Resent, every such submit is answered: with its
    # credits. Failures and moderations are refunded on both sides.
    mixed = FaultConfig(
        error_500=0.06, html_502=0.06, reset=0.06, concurrency_limited=0.02, seed=21
    )
    async with Emulator(
        api_keys={API_KEY}, faults=mixed, failure_rate=0.05, moderation_rate=0.05, seed=21
    ) as emu:
        # Six resends: the chance that all seven sends of one submit meet a fault is 1 in 10^4.
        retry = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02, resends=6)
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, retry=retry, poll=FAST_POLL
        ) as client:
            requests = [TextToVideo(prompt=f"ledger {i}", **FIELDS) for i in range(120)]
            async with client.runner(concurrency=16).run(requests) as stream:
                outcomes = [o async for o in stream]
                progress = stream.progress
        lost = {g.body["prompt"] for g in emu.state.generations.values()} - {
            o.request.prompt for o in outcomes if o.video_id is not None
        }
        assert sum(1 for r in emu.state.requests if r.fault in ("html_502", "reset")) > 10
        assert not lost  # every generation reached its caller
        assert progress.credits_refunded > 0
        assert progress.credits_spent == emu.state.ledger.spent(API_KEY)
        assert (
            sum((o.credits or 0) - o.credits_refunded for o in outcomes) == progress.credits_spent
        )


def test_the_cli_summary_reports_what_the_ledger_charged_after_a_faulty_batch(
    live: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    live.config.faults = FaultConfig(reset=0.15, html_502=0.15, error_500=0.1, seed=5)
    live.config.faults.paths = (GENERATE,)
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"kind": "text", "prompt": f"kite {i}", **FIELDS} for i in range(30)]
    jobs.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert main(["--json", *on(live, "batch", str(jobs))]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])["summary"]
    assert summary["succeeded"] == 30 and summary["unknown"] == 0
    assert sum(1 for r in live.state.requests if r.fault) > 5
    assert summary["credits_spent"] == live.state.ledger.spent(KEY)
