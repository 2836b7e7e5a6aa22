"""The results gallery page: content, escaping, self-containment, paths, totals, rewrites."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pixverse_async import PixVerse
from pixverse_async.batch.gallery import cards_from_entries, cards_from_outcomes, write_gallery
from pixverse_async.batch.runner import Outcome
from pixverse_async.emulator import Emulator
from pixverse_async.journal import Journal
from pixverse_async.models import TextToVideo

from .conftest import API_KEY, FAST_POLL, FAST_RETRY

HOSTILE = "</p><script>alert('x')</script> & <b onmouseover=\"steal()\">"


def t2v(prompt: str, quality: str = "540p") -> TextToVideo:
    return TextToVideo(prompt=prompt, model="v5", duration=5, quality=quality, aspect_ratio="16:9")


async def run_batch(
    prompts: list[str], journal: Path, videos: Path | None
) -> tuple[list[Outcome], int, int]:
    """Run ``prompts``, download the successes into ``videos``; (outcomes, spent, refunded)."""
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.02) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=FAST_RETRY) as c,
    ):
        outcomes = await c.runner(concurrency=4, journal=journal).gather(
            [t2v(p, "540p" if i % 2 == 0 else "720p") for i, p in enumerate(prompts)]
        )
        if videos is not None:
            videos.mkdir(exist_ok=True)
            for o in outcomes:
                if o.ok and o.video_id is not None:
                    await c.videos.download(o.video_id, videos / f"{o.video_id}.mp4")
        return outcomes, emu.state.ledger.spent(API_KEY), emu.state.ledger.refunded(API_KEY)


PROMPTS = ["a kite", "a boat #fail", HOSTILE, "a fox #moderated", "a rejected #reject"]


@pytest.fixture
async def batch(tmp_path: Path) -> tuple[list[Outcome], int, int]:
    return await run_batch(PROMPTS, tmp_path / "j.sqlite", tmp_path / "videos")


@pytest.fixture
async def page(tmp_path: Path, batch: tuple[list[Outcome], int, int]) -> Path:
    """The batch's gallery, written from its journal into ``g/``."""
    return await write_gallery(tmp_path / "j.sqlite", tmp_path / "videos", tmp_path / "g")


async def test_one_card_per_request_with_its_fields(
    tmp_path: Path, batch: tuple[list[Outcome], int, int], page: Path
) -> None:
    outcomes, _, _ = batch
    text = page.read_text(encoding="utf-8")
    assert page == tmp_path / "g" / "index.html"
    assert text.count('<article class="card"') == len(PROMPTS)
    states = re.findall(r'<article class="card" data-state="(\w+)"', text)
    assert states == [o.state.value for o in outcomes]
    kite = outcomes[0]
    assert kite.ok and kite.video_id is not None
    assert f'data-src="../videos/{kite.video_id}.mp4#t=0.1"' in text
    assert f"#{kite.video_id}" in text and "v5" in text and "540p" in text and "5 s" in text
    assert "VideoFailedError" in text and "VideoModeratedError" in text
    assert "ContentModerationError" in text  # refused at submit: no video, no charge
    assert text.count('preload="none"') == sum(o.ok for o in outcomes)


async def test_user_text_is_escaped_and_the_page_loads_nothing_from_outside(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<script>alert" not in text and "<b onmouseover" not in text
    assert "&lt;/p&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b" in text
    assert text.count("<script") == 1  # the page's own script, inline
    assert not re.search(r"<link|<script\s+src|@import|url\(|https?://", text)


async def test_totals_match_the_emulator_ledger(
    batch: tuple[list[Outcome], int, int], page: Path
) -> None:
    _, spent, refunded = batch
    text = page.read_text(encoding="utf-8")
    assert refunded == 60 + 60  # the failed and the moderated request, both 720p 5 s
    assert f"<b>{spent}</b> spent" in text and f"<b>{refunded}</b> refunded" in text
    assert f"<b>{spent + refunded}</b> credits charged" in text


async def test_outcomes_give_the_same_cards_as_the_journal(
    tmp_path: Path, batch: tuple[list[Outcome], int, int]
) -> None:
    outcomes, _, _ = batch
    async with Journal(tmp_path / "j.sqlite") as journal:
        from_journal = cards_from_entries(await journal.entries())
    from_outcomes = cards_from_outcomes(reversed(outcomes))
    fields = ("kind", "state", "prompt", "model", "quality", "duration", "video_id", "error")
    assert [tuple(getattr(c, f) for f in fields) for c in from_outcomes] == [
        tuple(getattr(c, f) for f in fields) for c in from_journal
    ]
    page = await write_gallery(outcomes, tmp_path / "videos", tmp_path / "from-outcomes")
    assert page.read_text(encoding="utf-8").count('<article class="card"') == len(PROMPTS)


async def test_a_rerun_rewrites_the_page_atomically(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    await run_batch(["first"], journal, tmp_path / "videos")
    page = await write_gallery(journal, tmp_path / "videos", tmp_path / "g")
    before = page.read_text(encoding="utf-8")
    await run_batch(["first", "second"], journal, tmp_path / "videos")
    again = await write_gallery(journal, tmp_path / "videos", tmp_path / "g")
    after = again.read_text(encoding="utf-8")
    assert again == page
    assert before.count('<article class="card"') == 1 and after.count('<article class="card"') == 2
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["index.html"]  # no temp file


async def test_a_poster_image_beside_the_video_is_used_and_urls_stand_in(
    tmp_path: Path,
) -> None:
    outcomes, _, _ = await run_batch(["a kite", "a crane"], tmp_path / "j.sqlite", None)
    first, second = (o.video_id for o in outcomes)
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / f"{first}.mp4").write_bytes(b"\x00")
    (videos / f"{first}.jpg").write_bytes(b"\xff\xd8")
    page = await write_gallery(tmp_path / "j.sqlite", videos, tmp_path / "g")
    text = page.read_text(encoding="utf-8")
    assert f'poster="../videos/{first}.jpg"' in text
    remote = outcomes[1].video.url if outcomes[1].video else None
    assert remote and f'data-src="{remote}"' in text  # not downloaded: the service's URL
    assert second is not None


async def test_a_missing_journal_is_an_error_not_an_empty_page(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no journal"):
        await write_gallery(tmp_path / "absent.sqlite", None, tmp_path / "g")
    assert not (tmp_path / "absent.sqlite").exists()


async def test_a_request_the_runner_refused_still_gets_a_card(tmp_path: Path) -> None:
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=0.02) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=FAST_RETRY) as c,
    ):
        outcomes = await c.runner().gather([t2v("fine"), {"kind": "text_to_video", "prompt": "?"}])
    page = await write_gallery(outcomes, None, tmp_path / "g")
    text = page.read_text(encoding="utf-8")
    assert text.count('<article class="card"') == 2
    assert re.findall(r'data-state="(\w+)" data-kind="(\w+)"', text) == [
        ("succeeded", "text_to_video"),
        ("failed", "text_to_video"),
    ]
