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
    ("model", "quality", "duration"),
    [("v5", "540p", 5), ("v5", "720p", 8), ("v3.5", "360p", 5), ("v4.5", "1080p", 5)],
)
async def test_a_submit_costs_what_the_table_says_and_is_in_the_ledger(
    client: PixVerse, emu: Emulator, model: str, quality: str, duration: int
) -> None:
    job = await client.videos.text_to_video(
        prompt="a cat", model=model, quality=quality, duration=duration, aspect_ratio="16:9"
    )
    assert job.credits == PRICES[(model, quality, duration)]
    [entry] = emu.state.ledger.entries(API_KEY)
    assert (entry.kind, entry.video_id, entry.amount) == ("charge", job.video_id, job.credits)


async def test_an_unknown_model_costs_the_documented_default(
    client: PixVerse, emu: Emulator
) -> None:
    answer = await submit(client, t2v(model="v9-preview"))
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
    assert (refund.kind, refund.video_id, refund.amount) == ("refund", doomed.video_id, -30 * 2)


async def test_a_deleted_video_is_not_refunded(client: PixVerse, emu: Emulator) -> None:
    job = await client.videos.text_to_video(
        prompt="gone #deleted", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    with pytest.raises(Exception, match="deleted"):
        await job.wait()
    assert emu.state.ledger.refunded(API_KEY) == 0
    assert emu.state.ledger.spent(API_KEY) == job.credits


@pytest.mark.parametrize("emu", [{"credits": 70}], indirect=True)
async def test_the_balance_runs_out_with_500090_and_nothing_is_charged(
    client: PixVerse, emu: Emulator
) -> None:
    first = await client.videos.text_to_video(
        prompt="one", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    second = await client.videos.text_to_video(
        prompt="two", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    assert first.credits == second.credits == 30
    with pytest.raises(InsufficientCreditsError) as info:
        await client.videos.text_to_video(
            prompt="three", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
        )
    assert info.value.err_code == ErrCode.INSUFFICIENT_BALANCE
    assert len(emu.state.generations) == 2
    assert emu.state.ledger.spent(API_KEY) == 60
    balance = await client.account.balance()
    assert (balance.credit_monthly, balance.credit_package) == (10, 0)


@pytest.mark.parametrize("emu", [{"credits": 30}], indirect=True)
async def test_a_refund_makes_room_for_the_next_submit(client: PixVerse, emu: Emulator) -> None:
    doomed = await client.videos.text_to_video(
        prompt="x #fail", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    with pytest.raises(InsufficientCreditsError):
        await submit(client, t2v("refused while the first one runs"))
    with pytest.raises(VideoFailedError):
        await doomed.wait()
    again = await submit(client, t2v("accepted after the refund"))
    assert again["credits"] == 30


@pytest.mark.parametrize("emu", [{"credits": 20, "credit_package": 50}], indirect=True)
async def test_charges_draw_on_monthly_credits_first_and_refunds_go_back(
    client: PixVerse, emu: Emulator
) -> None:
    doomed = await client.videos.text_to_video(
        prompt="x #moderated", model="v5", quality="540p", duration=5, aspect_ratio="16:9"
    )
    charge = emu.state.ledger.entries(API_KEY)[0]
    assert (charge.monthly, charge.package) == (20, 10)
    balance = await client.account.balance()
    assert (balance.credit_monthly, balance.credit_package) == (0, 40)
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


@pytest.mark.parametrize(
    "emu", [{"credit_field_paths": frozenset({Paths.TEXT_TO_VIDEO})}], indirect=True
)
async def test_a_path_can_answer_the_cost_as_credit(client: PixVerse, emu: Emulator) -> None:
    answer = await submit(client, t2v())
    assert answer.get("credit") == 30 and "credits" not in answer


async def test_ledgers_are_per_key() -> None:
    async with Emulator(api_keys={"a", "b"}, credits=100) as emu:
        async with PixVerse(api_key="a", base_url=emu.base_url, retry=FAST_RETRY) as a:
            await submit(a, t2v())
        async with PixVerse(api_key="b", base_url=emu.base_url, retry=FAST_RETRY) as b:
            assert (await b.account.balance()).credit_monthly == 100
        assert (emu.state.ledger.spent("a"), emu.state.ledger.spent("b")) == (30, 0)


@pytest.mark.parametrize("module", ["pixverse_async.emulator.credits", "pixverse_async.costs"])
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
