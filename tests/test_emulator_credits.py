"""The emulator's credits: one price table, a ledger per key, refunds, a balance that runs out."""

from __future__ import annotations

import doctest
import importlib
from collections.abc import AsyncIterator

import pytest

from pixverse_async import PixVerse
from pixverse_async.constants import ErrCode, Paths
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.credits import DEFAULT_PRICE, PRICES, PriceTable
from pixverse_async.errors import InsufficientCreditsError, VideoFailedError, VideoModeratedError

from .conftest import API_KEY, FAST_POLL, FAST_RETRY

#: PixVerse's published price of what :func:`t2v` asks for (v5, 540p, 5 s), charged by default.
PRICE = 45


def t2v(prompt: str = "a cat", **fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "prompt": prompt, "model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"
    }  # fmt: skip
    body.update(fields)
    return body


@pytest.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    overrides = getattr(request, "param", {})
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.05, **overrides) as e:
        yield e


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[PixVerse]:
    async with PixVerse(
        api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, poll=FAST_POLL
    ) as c:
        yield c


async def submit(client: PixVerse, body: dict[str, object]) -> dict[str, object]:
    raw = await client.session.request("POST", Paths.TEXT_TO_VIDEO, json_body=body, paid=True)
    assert isinstance(raw, dict)
    return raw


@pytest.mark.parametrize(
    ("model", "quality", "duration", "credits"),
    [("v5", "540p", 5, PRICE), ("v5", "720p", 8, 120), ("v3.5", "360p", 5, 45),
     ("v4.5", "1080p", 5, 120)],
)  # fmt: skip
async def test_a_submit_costs_pixverses_published_price_and_is_in_the_ledger(
    client: PixVerse, emu: Emulator, model: str, quality: str, duration: int, credits: int
) -> None:
    job = await client.videos.text_to_video(
        prompt="a cat", model=model, quality=quality, duration=duration, aspect_ratio="16:9"
    )
    assert job.credits == credits == PriceTable.published().price(t2v(model=model,
        quality=quality, duration=duration))  # fmt: skip
    [entry] = emu.state.ledger.entries(API_KEY)
    assert (entry.kind, entry.video_id, entry.amount) == ("charge", job.video_id, job.credits)


@pytest.mark.parametrize("model", ["v9-preview", "v5.5"])
async def test_a_model_the_published_table_does_not_price_costs_the_documented_default(
    client: PixVerse, emu: Emulator, model: str
) -> None:
    answer = await submit(client, t2v(model=model))
    assert answer["credits"] == DEFAULT_PRICE
    assert emu.state.ledger.spent(API_KEY) == DEFAULT_PRICE


@pytest.mark.parametrize(
    ("marker", "error"), [("#fail", VideoFailedError), ("#moderated", VideoModeratedError)]
)
async def test_failed_and_moderated_generations_are_refunded_in_the_balance(
    client: PixVerse, emu: Emulator, marker: str, error: type[Exception]
) -> None:
    before = await client.account.balance()
    kept = await client.videos.text_to_video(
        prompt="kept", model="v5", quality="720p", duration=5, aspect_ratio="16:9"
    )
    doomed = await client.videos.text_to_video(
        prompt=f"doomed {marker}", model="v5", quality="540p", duration=8, aspect_ratio="16:9"
    )
    assert kept.credits and doomed.credits
    with pytest.raises(error):
        await doomed.wait()
    await kept.wait()
    after = await client.account.balance()
    assert before.credit_monthly is not None
    assert after.credit_monthly == before.credit_monthly - kept.credits
    ledger = emu.state.ledger
    assert ledger.refunded(API_KEY) == doomed.credits
    assert ledger.spent(API_KEY) == kept.credits
    assert ledger.by_video(API_KEY) == {kept.video_id: kept.credits, doomed.video_id: 0}
    refund = ledger.entries(API_KEY)[-1]
    assert (refund.kind, refund.video_id, refund.amount) == ("refund", doomed.video_id, -2 * PRICE)


async def test_a_deleted_video_is_not_refunded(client: PixVerse, emu: Emulator) -> None:
    job = await client.videos.text_to_video(
        prompt="gone #deleted", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    with pytest.raises(Exception, match="deleted"):
        await job.wait()
    assert emu.state.ledger.refunded(API_KEY) == 0
    assert emu.state.ledger.spent(API_KEY) == job.credits


@pytest.mark.parametrize("emu", [{"credits": 2 * PRICE + 10}], indirect=True)
async def test_the_balance_runs_out_with_500090_and_nothing_is_charged(
    client: PixVerse, emu: Emulator
) -> None:
    first = await client.videos.text_to_video(
        prompt="one", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    second = await client.videos.text_to_video(
        prompt="two", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    assert first.credits == second.credits == PRICE
    with pytest.raises(InsufficientCreditsError) as info:
        await client.videos.text_to_video(
            prompt="three", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
        )
    assert info.value.err_code == ErrCode.INSUFFICIENT_BALANCE
    assert len(emu.state.generations) == 2
    assert emu.state.ledger.spent(API_KEY) == 2 * PRICE
    balance = await client.account.balance()
    assert (balance.credit_monthly, balance.credit_package) == (10, 0)


@pytest.mark.parametrize("emu", [{"credits": PRICE}], indirect=True)
async def test_a_refund_makes_room_for_the_next_submit(client: PixVerse, emu: Emulator) -> None:
    doomed = await client.videos.text_to_video(
        prompt="x #fail", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    with pytest.raises(InsufficientCreditsError):
        await submit(client, t2v("refused while the first one runs"))
    with pytest.raises(VideoFailedError):
        await doomed.wait()
    again = await submit(client, t2v("accepted after the refund"))
    assert again["credits"] == PRICE


@pytest.mark.parametrize("emu", [{"credits": 20, "credit_package": 50}], indirect=True)
async def test_charges_draw_on_monthly_credits_first_and_refunds_go_back(
    client: PixVerse, emu: Emulator
) -> None:
    doomed = await client.videos.text_to_video(
        prompt="x #moderated", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    charge = emu.state.ledger.entries(API_KEY)[0]
    assert (charge.monthly, charge.package) == (20, PRICE - 20)
    balance = await client.account.balance()
    assert (balance.credit_monthly, balance.credit_package) == (0, 50 - (PRICE - 20))
    with pytest.raises(VideoModeratedError):
        await doomed.wait()
    balance = await client.account.balance()
    assert (balance.credit_monthly, balance.credit_package) == (20, 50)


@pytest.mark.parametrize(
    "emu", [{"prices": PriceTable.random(seed=3, low=7, high=99)}], indirect=True
)
async def test_a_random_price_table_replaces_the_default_one(
    client: PixVerse, emu: Emulator
) -> None:
    table = emu.config.prices
    for quality in ("360p", "720p"):
        answer = await submit(client, t2v(quality=quality, duration=8))
        assert answer["credits"] == table.prices[("v5", quality, 8)]
    assert emu.state.ledger.charged(API_KEY) == sum(
        table.prices[("v5", q, 8)] for q in ("360p", "720p")
    )


@pytest.mark.parametrize("emu", [{"prices": PriceTable.flat()}], indirect=True)
async def test_the_flat_table_charges_the_emulators_own_prices(
    client: PixVerse, emu: Emulator
) -> None:
    answers = [await submit(client, t2v()), await submit(client, t2v(model="v9-preview"))]
    assert [a["credits"] for a in answers] == [PRICES[("v5", "540p", 5)], DEFAULT_PRICE] == [30, 60]


@pytest.mark.parametrize(
    "emu", [{"credit_field_paths": frozenset({Paths.TEXT_TO_VIDEO})}], indirect=True
)
async def test_a_path_can_answer_the_cost_as_credit(client: PixVerse, emu: Emulator) -> None:
    answer = await submit(client, t2v())
    assert answer.get("credit") == PRICE and "credits" not in answer


async def test_ledgers_are_per_key() -> None:
    async with Emulator(api_keys={"a", "b"}, credits=100) as emu:
        async with PixVerse(api_key="a", base_url=emu.base_url, retry=FAST_RETRY) as a:
            await submit(a, t2v())
        async with PixVerse(api_key="b", base_url=emu.base_url, retry=FAST_RETRY) as b:
            assert (await b.account.balance()).credit_monthly == 100
        assert (emu.state.ledger.spent("a"), emu.state.ledger.spent("b")) == (PRICE, 0)


@pytest.mark.parametrize(
    "module", ["pixverse_async.emulator.credits", "pixverse_async.batch.costs"]
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


# Refunds follow the generation, whatever moves it --------------------------------------------

OPENING = 1000


@pytest.fixture
async def manual() -> AsyncIterator[tuple[Emulator, PixVerse]]:
    """A manual-clock emulator whose generations take 60 emulator seconds, and its client."""
    async with Emulator(
        api_keys={API_KEY}, clock="manual", generation_seconds=60, credits=OPENING
    ) as emu:
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY, poll=FAST_POLL
        ) as client:
            yield emu, client


async def start(client: PixVerse, prompt: str = "a cat") -> tuple[int, int]:
    """Submit a ``PRICE``-credit generation; its video id and cost."""
    answer = await submit(client, t2v(prompt))
    data = answer.get("Resp", answer)
    assert isinstance(data, dict)
    return int(data["video_id"]), int(data["credits"])


async def balance_answer(client: PixVerse) -> int:
    balance = await client.account.balance()
    assert balance.credit_monthly is not None
    return balance.credit_monthly


def refunds_of(emu: Emulator, video_id: int) -> list[float]:
    """When each refund of ``video_id`` is dated (read on the emulator's own clock)."""
    return [e.at for e in emu.state.ledger.entries(API_KEY)
            if e.kind == "refund" and e.video_id == video_id]  # fmt: skip


@pytest.mark.parametrize("outcome", ["failed", "moderated"])
async def test_finishing_a_generation_as_failed_refunds_it_then(
    manual: tuple[Emulator, PixVerse], outcome: str
) -> None:
    emu, client = manual
    video_id, cost = await start(client)
    emu.advance(10)
    assert await balance_answer(client) == OPENING - cost
    emu.finish(video_id, outcome=outcome)
    assert refunds_of(emu, video_id) == [emu.clock.now()]
    assert await balance_answer(client) == OPENING
    assert emu.state.ledger.by_video(API_KEY) == {video_id: 0}
    emu.advance(120)  # past the time it was first going to end: nothing more happens
    assert refunds_of(emu, video_id) == [emu.clock.started + 10]
    assert emu.state.ledger.spent(API_KEY) == 0


async def test_a_succeeded_generation_changed_to_failed_is_refunded_when_it_changes(
    manual: tuple[Emulator, PixVerse],
) -> None:
    emu, client = manual
    video_id, _ = await start(client)
    emu.advance(70)
    assert refunds_of(emu, video_id) == []
    emu.finish(video_id, outcome="failed")
    assert refunds_of(emu, video_id) == [emu.clock.started + 70]
    assert await balance_answer(client) == OPENING


async def test_finishing_a_failing_generation_early_brings_its_refund_forward(
    manual: tuple[Emulator, PixVerse],
) -> None:
    emu, client = manual
    video_id, cost = await start(client, "doomed #fail")
    emu.advance(5)
    assert await balance_answer(client) == OPENING - cost
    emu.finish(video_id)
    assert refunds_of(emu, video_id) == [emu.clock.started + 5]
    assert await balance_answer(client) == OPENING


@pytest.mark.parametrize("outcome", ["success", "deleted"])
async def test_a_failing_generation_finished_otherwise_is_never_refunded(
    manual: tuple[Emulator, PixVerse], outcome: str
) -> None:
    emu, client = manual
    video_id, cost = await start(client, "doomed #fail")
    emu.finish(video_id, outcome=outcome)
    emu.advance(600)  # well past the failure it no longer has
    assert refunds_of(emu, video_id) == []
    assert await balance_answer(client) == OPENING - cost
    assert emu.state.ledger.spent(API_KEY) == cost


async def test_deleting_or_finishing_again_after_a_failure_refunds_nothing_more(
    manual: tuple[Emulator, PixVerse],
) -> None:
    emu, client = manual
    video_id, _ = await start(client, "doomed #fail")
    emu.advance(60)  # it fails (status 8), unread by anyone yet
    emu.finish(video_id, outcome="deleted")
    emu.finish(video_id, outcome="failed")
    emu.finish_all(outcome="moderated")
    emu.finish(video_id, outcome="success")  # a refund made is never taken back
    assert refunds_of(emu, video_id) == [emu.clock.started + 60]
    assert await balance_answer(client) == OPENING
    assert emu.state.ledger.refunded(API_KEY) == emu.state.ledger.charged(API_KEY)


async def test_advancing_the_manual_clock_brings_refunds_due_on_that_clock(
    manual: tuple[Emulator, PixVerse],
) -> None:
    emu, client = manual
    video_id, cost = await start(client, "doomed #moderated")
    emu.advance(59.5)
    assert emu.state.ledger.refunded(API_KEY) == 0
    assert await balance_answer(client) == OPENING - cost
    emu.advance(0.5)
    assert emu.state.ledger.refunded(API_KEY) == cost
    assert refunds_of(emu, video_id) == [emu.clock.started + 60]
    assert await balance_answer(client) == OPENING


async def test_finish_all_refunds_each_generation_once(
    manual: tuple[Emulator, PixVerse],
) -> None:
    emu, client = manual
    ids = [(await start(client, f"clip {n}"))[0] for n in range(3)]
    doomed, _ = await start(client, "doomed #fail")
    emu.advance(1)
    assert await balance_answer(client) == OPENING - 4 * PRICE
    finished = emu.finish_all(outcome="failed")
    assert sorted(g.video_id for g in finished) == sorted([*ids, doomed])
    emu.finish_all(outcome="failed")  # nothing is running any more
    emu.advance(600)
    assert {v: len(refunds_of(emu, v)) for v in [*ids, doomed]} == dict.fromkeys([*ids, doomed], 1)
    assert await balance_answer(client) == OPENING


async def test_the_real_clock_moved_ahead_refunds_on_the_emulator_clock() -> None:
    async with Emulator(api_keys={API_KEY}, generation_seconds=3600, credits=OPENING) as emu:
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            video_id, cost = await start(client, "doomed #fail")
            assert emu.state.ledger.balance(API_KEY) == (OPENING - cost, 0)
            emu.advance(3600)
            assert emu.state.ledger.balance(API_KEY) == (OPENING, 0)
            assert await balance_answer(client) == OPENING
            [refund_at] = refunds_of(emu, video_id)
            assert refund_at == emu.state.generations[video_id].done_at
