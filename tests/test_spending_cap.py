"""The spending cap and running out of balance, against the emulator (its ledger is the judge)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pixverse_async import PixVerse, PollPolicy
from pixverse_async.constants import Paths, Vocab
from pixverse_async.costs import CostEstimator
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.emulator.credits import PriceTable
from pixverse_async.journal import Journal, JournalState
from pixverse_async.models import TextToVideo, to_json
from pixverse_async.runner import Outcome, OutcomeState, Progress
from pixverse_async.spending import SpendingCap, Verdict

from .conftest import API_KEY, FAST_RETRY

POLL = PollPolicy(first_delay=0.03, interval=0.02, factor=1.0, max_delay=0.02, jitter=0.0)
COMBOS = [
    (model, quality, duration)
    for model in Vocab.MODELS
    for quality in Vocab.QUALITIES
    for duration in Vocab.DURATIONS
    if not (quality == "1080p" and duration == 8)
]
LOW, HIGH = 5, 120


def batch(n: int, seed: int, tag: str = "") -> list[TextToVideo]:
    """``n`` requests of random model, quality and duration (so of random cost)."""
    rng = random.Random(seed)
    requests = []
    for i in range(n):
        model, quality, duration = rng.choice(COMBOS)
        requests.append(
            TextToVideo(prompt=f"{tag}scene {i}", model=model, quality=quality,
                        duration=duration, aspect_ratio="16:9")
        )  # fmt: skip
    return requests


def cost(table: PriceTable, requests: Sequence[TextToVideo]) -> int:
    return sum(table.price(to_json(r)) for r in requests)


def peak_spend(emu: Emulator, key: str) -> int:
    """The highest the key's spend ever was: charges and refunds in time order (a charge
    first when both happen at the same moment), refunds still to come settled."""
    entries = emu.state.ledger.entries(key, now=float("inf"))
    spend = peak = 0
    for entry in sorted(entries, key=lambda e: (e.at, e.kind == "refund")):
        spend += entry.amount
        peak = max(peak, spend)
    return peak


def client_for(emu: Emulator, key: str = API_KEY, *, resend_ambiguous: bool = True) -> PixVerse:
    return PixVerse(
        api_key=key,
        base_url=emu.base_url,
        poll=POLL,
        retry=FAST_RETRY,
        resend_ambiguous=resend_ambiguous,
    )


def assert_accounted(
    outcomes: Sequence[Outcome], n: int, emu: Emulator, key: str, progress: Progress
) -> None:
    """Every request has one outcome; what the outcomes say was charged and refunded is
    what the ledger holds; a request not submitted was not charged."""
    assert sorted(o.index for o in outcomes) == list(range(n))
    assert {o.state for o in outcomes} <= {
        OutcomeState.SUCCEEDED, OutcomeState.FAILED, OutcomeState.NOT_SUBMITTED
    }  # fmt: skip
    ledger = emu.state.ledger
    charged = {o.video_id: o.credits for o in outcomes if o.video_id is not None}
    assert charged == {
        e.video_id: e.amount for e in ledger.entries(key, now=float("inf")) if e.kind == "charge"
    }
    assert sum(o.credits or 0 for o in outcomes) == ledger.charged(key) == progress.credits_charged
    refunded = sum(o.credits_refunded for o in outcomes)
    assert refunded == ledger.refunded(key, now=float("inf")) == progress.credits_refunded
    for o in outcomes:
        if o.state is OutcomeState.NOT_SUBMITTED:
            assert o.video_id is None and o.credits is None
    assert progress.not_submitted == sum(o.state is OutcomeState.NOT_SUBMITTED for o in outcomes)


async def test_twenty_capped_batches_at_concurrency_64_never_spend_more_than_the_cap() -> None:
    """Random prices, 10 % failures (refunded), caps from 0 to the full cost: the emulator's
    ledger never shows more spent than the cap, and every request is accounted for."""
    table = PriceTable.random(seed=15, low=LOW, high=HIGH)
    keys = [f"{API_KEY}-{i}" for i in range(20)]
    rng = random.Random(15)
    n = 100
    capped_batches = submitted_batches = 0
    async with Emulator(
        api_keys=set(keys), generation_seconds=0.05, failure_rate=0.1, prices=table, seed=15
    ) as emu:
        for i, key in enumerate(keys):
            requests = batch(n, seed=i)
            full = cost(table, requests)
            cap = 0 if i == 0 else full if i == 19 else rng.randint(0, full)
            async with client_for(emu, key) as client:
                # A conservative default: no price in the table is above HIGH.
                runner = client.runner(
                    concurrency=64, max_credits=cap, costs=CostEstimator(default=HIGH, table=None)
                )
                stream = runner.run(requests)
                outcomes = [o async for o in stream]
            assert peak_spend(emu, key) <= cap, (i, cap)
            assert_accounted(outcomes, n, emu, key, stream.progress)
            states = {o.state for o in outcomes}
            capped_batches += OutcomeState.NOT_SUBMITTED in states
            submitted_batches += any(o.video_id is not None for o in outcomes)
            for o in outcomes:
                if o.state is OutcomeState.NOT_SUBMITTED:
                    assert o.error_type == "SpendingCapError"
            if cap == 0:
                assert states == {OutcomeState.NOT_SUBMITTED}
            failed = [o for o in outcomes if o.state is OutcomeState.FAILED]
            assert all(o.credits_refunded == o.credits for o in failed)
    assert capped_batches >= 10 and submitted_batches >= 10


async def test_a_cap_of_exactly_the_cost_runs_everything_and_one_credit_less_does_not() -> None:
    """With a price function that knows the costs, the cap is used to the credit."""
    table = PriceTable.random(seed=3, low=LOW, high=HIGH)
    requests = batch(40, seed=3)
    full = cost(table, requests)

    def price(kind: str, body: Mapping[str, Any]) -> int:
        return table.price(body)

    async with Emulator(api_keys={API_KEY, "other"}, prices=table) as emu:
        for key, cap in ((API_KEY, full), ("other", full - 1)):
            async with client_for(emu, key) as client:
                runner = client.runner(
                    concurrency=16, max_credits=cap, costs=CostEstimator(price=price)
                )
                outcomes = await runner.gather(requests)
            states = [o.state for o in outcomes]
            assert peak_spend(emu, key) <= cap
            if cap == full:
                assert states == [OutcomeState.SUCCEEDED] * len(requests)
                assert emu.state.ledger.spent(key) == full
            else:
                assert states.count(OutcomeState.NOT_SUBMITTED) == 1
                assert states.count(OutcomeState.SUCCEEDED) == len(requests) - 1


async def test_rerun_with_a_higher_cap_continues_from_the_journal(tmp_path: Path) -> None:
    table = PriceTable.random(seed=5, low=LOW, high=HIGH)
    requests = batch(60, seed=5)
    full = cost(table, requests)
    journal = tmp_path / "batch.sqlite"
    caps = [full // 3, 2 * full // 3, full + 60 * HIGH]
    charged_videos: list[int] = []
    async with Emulator(api_keys={API_KEY}, prices=table, failure_rate=0.1, seed=5) as emu:
        for run, cap in enumerate(caps):
            async with client_for(emu) as client:
                runner = client.runner(
                    concurrency=64, journal=journal, max_credits=cap,
                    costs=CostEstimator(default=HIGH, table=None),
                )  # fmt: skip
                stream = runner.run(requests)
                outcomes = [o async for o in stream]
            # The journal's spend of earlier runs counts: the total stays under this cap.
            assert peak_spend(emu, API_KEY) <= cap, run
            assert sorted(o.index for o in outcomes) == list(range(len(requests)))
            fresh = [o for o in outcomes if o.video_id is not None and not o.resumed]
            charged_videos += [o.video_id for o in fresh if o.video_id is not None]
            not_submitted = [o for o in outcomes if o.state is OutcomeState.NOT_SUBMITTED]
            async with Journal(journal) as j:
                for o in not_submitted:
                    entry = await j.get(o.key)
                    assert entry is not None and entry.state is JournalState.PENDING
                    assert entry.error_type == "SpendingCapError"
            if run < 2:
                assert not_submitted and fresh, run
            else:
                assert not not_submitted
                assert stream.progress.credits_charged == emu.state.ledger.charged(API_KEY)
    # Each request was charged once over the three runs: none was sent twice.
    ledger_charges = [e.video_id for e in emu.state.ledger.entries(API_KEY) if e.kind == "charge"]
    assert sorted(ledger_charges) == sorted(charged_videos)
    assert len(set(ledger_charges)) == len(requests)


async def test_a_batch_that_runs_out_of_balance_ends_cleanly(tmp_path: Path) -> None:
    """Balance below the batch's cost: the submitted jobs are awaited, the rest end not
    submitted for lack of credits (nothing charged for them), and a rerun after a top-up
    (here: a new key's account, same journal) finishes the batch."""
    table = PriceTable.random(seed=9, low=LOW, high=HIGH)
    requests = batch(50, seed=9)
    full = cost(table, requests)
    balance = full // 2
    journal = tmp_path / "batch.sqlite"
    async with Emulator(api_keys={API_KEY}, prices=table, credits=balance) as emu:
        async with client_for(emu) as client:
            stream = client.runner(concurrency=16, journal=journal).run(requests)
            outcomes = [o async for o in stream]
        assert_accounted(outcomes, len(requests), emu, API_KEY, stream.progress)
        by_state = {s: [o for o in outcomes if o.state is s] for s in OutcomeState}
        assert by_state[OutcomeState.SUCCEEDED] and by_state[OutcomeState.NOT_SUBMITTED]
        assert not by_state[OutcomeState.FAILED] and not by_state[OutcomeState.UNKNOWN]
        assert all(
            o.error_type == "InsufficientCreditsError" for o in by_state[OutcomeState.NOT_SUBMITTED]
        )
        assert emu.state.ledger.spent(API_KEY) <= balance
        async with Journal(journal) as j:
            summary = await j.summary()
        assert summary[JournalState.SUCCEEDED] == len(by_state[OutcomeState.SUCCEEDED])
        assert summary[JournalState.PENDING] == len(by_state[OutcomeState.NOT_SUBMITTED])
    async with Emulator(api_keys={API_KEY}, prices=table) as topped_up:
        async with client_for(topped_up) as client:
            rerun = await client.runner(concurrency=16, journal=journal).gather(requests)
        assert all(o.state is OutcomeState.SUCCEEDED for o in rerun)
        assert sum(not o.resumed for o in rerun) == len(by_state[OutcomeState.NOT_SUBMITTED])


def test_a_request_nothing_can_price_is_not_sent_unless_allowed() -> None:
    body = {"model": "v9", "quality": "540p", "duration": 5}  # no table prices v9
    assert SpendingCap(100).decide("text_to_video", body, in_flight=0) == (Verdict.CAP, 0)
    error = SpendingCap(100).error("text_to_video", body)
    assert "--prices FILE" in str(error) and "--allow-unpriced" in str(error)
    # Allowed: sent alone with all that is left, to learn its price.
    cap = SpendingCap(100, allow_unpriced=True)
    assert cap.unpriced_kinds([("text_to_video", body), ("text_to_video", body)]) == 1
    assert cap.decide("text_to_video", body, in_flight=0) == (Verdict.SEND, 100)
    cap.reserve(100)
    assert cap.decide("text_to_video", body, in_flight=1) == (Verdict.WAIT, 0)
    cap.settle(100, 30, "text_to_video", body)
    assert cap.decide("text_to_video", body, in_flight=1) == (Verdict.SEND, 30)


def test_a_cap_must_be_a_whole_number_of_credits() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_credits"):
            SpendingCap(bad)  # type: ignore[arg-type]


async def test_submits_with_an_unknown_outcome_count_as_spent() -> None:
    """A submit the service acted on but whose answer was lost (a reset connection, a proxy's
    HTML page) may have been charged: its reservation stays counted, and the cap holds."""
    table = PriceTable.random(seed=21, low=LOW, high=HIGH)
    faults = FaultConfig(reset=0.1, html_502=0.1, error_500=0.05, paths=(Paths.TEXT_TO_VIDEO,),
                         seed=21)  # fmt: skip
    keys = [f"{API_KEY}-u{i}" for i in range(5)]
    rng = random.Random(21)
    unknown = 0
    async with Emulator(api_keys=set(keys), prices=table, faults=faults, seed=21) as emu:
        for i, key in enumerate(keys):
            requests = batch(80, seed=100 + i)
            cap = rng.randint(0, cost(table, requests))
            # Without resends, so that outcomes stay unknown (with them, resends answer).
            async with client_for(emu, key, resend_ambiguous=False) as client:
                runner = client.runner(
                    concurrency=64, max_credits=cap, costs=CostEstimator(default=HIGH, table=None)
                )
                outcomes = await runner.gather(requests)
            assert peak_spend(emu, key) <= cap, (i, cap)
            assert [o.index for o in outcomes] == list(range(len(requests)))
            unknown += sum(o.state is OutcomeState.UNKNOWN for o in outcomes)
            known = {o.video_id for o in outcomes if o.video_id is not None}
            charged = {e.video_id for e in emu.state.ledger.entries(key) if e.kind == "charge"}
            assert known <= charged  # the rest of the charges are the unknown outcomes
            assert len(charged - known) <= sum(o.state is OutcomeState.UNKNOWN for o in outcomes)
    assert unknown > 0  # the faults did hit submits
