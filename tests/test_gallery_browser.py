"""The results gallery in a real browser: headless Chromium over its DevTools protocol.

A 200-request batch runs through the runner against the emulator (random failures and
moderation), its videos are downloaded, the gallery is written, and Chromium opens it from
disk. The test reads back through the DOM that every card is there with the right state,
kind and video id, that a hostile prompt stays text, that videos load only near the
viewport and that every succeeded video loads once scrolled into view; the filters and the
totals are checked against the emulator's ledger; a screenshot is saved as an artifact.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pixverse_async import PixVerse
from pixverse_async.batch.gallery import write_gallery
from pixverse_async.batch.runner import OutcomeState
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.app import sample_video_path
from pixverse_async.journal import Journal
from pixverse_async.models import GenerationRequest, ImageToVideo, TextToVideo

from .chromium import TOP_FRAMES_JS, open_page
from .conftest import API_KEY, FAST_POLL, FAST_RETRY

HOSTILE = '<img src=x onerror="window.__pwned=1"> & "quoted" </article><b>bold?</b>'
QUALITIES = ("360p", "540p", "720p", "1080p")

# Once the videos in view got their source (the page loads them when scrolling pauses; bounded).
CARDS_JS = """new Promise((resolve) => {
  const started = performance.now();
  const check = () => document.querySelector('video[src]') || performance.now() - started > 10000
    ? resolve() : requestAnimationFrame(check);
  check();
}).then(() =>
Array.from(document.querySelectorAll('.card'), c => ({
  state: c.dataset.state, kind: c.dataset.kind, id: c.dataset.videoId,
  prompt: c.querySelector('.prompt').textContent,
  hasVideo: !!c.querySelector('video'), hidden: c.hidden,
  src: c.querySelector('video') ? c.querySelector('video').getAttribute('src') : null,
})))"""

# Scrolls to the bottom until every card is on the page (the page adds them in steps; bounded).
REVEAL_JS = """(async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const all = document.querySelectorAll('.card').length;
  for (let i = 0; i < 200 && document.querySelectorAll('.card:not([hidden])').length < all; i++) {
    window.scrollTo(0, document.documentElement.scrollHeight);
    await frame();
  }
  return document.querySelectorAll('.card:not([hidden])').length;
})()"""

# Scrolls each video into view and waits (bounded) until it has its metadata.
LOAD_ALL_JS = """(async () => {
  const out = [];
  for (const video of document.querySelectorAll('video')) {
    video.scrollIntoView({block: 'center'});
    await new Promise((resolve) => {
      if (video.readyState >= 1) return resolve();
      const done = () => resolve();
      video.addEventListener('loadedmetadata', done, {once: true});
      video.addEventListener('error', done, {once: true});
      setTimeout(done, 15000);
    });
    out.push({id: video.closest('.card').dataset.videoId, readyState: video.readyState,
              error: video.error ? video.error.code : null});
  }
  return out;
})()"""


def batch(image_id: int) -> list[GenerationRequest]:
    requests: list[GenerationRequest] = []
    for i in range(200):
        quality = QUALITIES[i % 4]
        duration = 8 if i % 3 == 0 and quality != "1080p" else 5
        prompt = HOSTILE if i == 7 else f"scene {i}: a paper boat on a rainy street"
        if i % 4 == 1:
            requests.append(
                ImageToVideo(
                    img_id=image_id, prompt=prompt, model="v5", duration=duration, quality=quality
                )
            )
        else:
            requests.append(
                TextToVideo(
                    prompt=prompt,
                    model="v4.5" if i % 5 == 0 else "v5",
                    duration=duration,
                    quality=quality,
                    aspect_ratio="16:9",
                )
            )
    return requests


async def test_the_gallery_of_a_200_request_batch_works_in_chromium(tmp_path: Path) -> None:
    journal_path = tmp_path / "batch.sqlite"
    videos = tmp_path / "videos"
    videos.mkdir()
    async with (
        Emulator(
            api_keys={API_KEY}, generation_seconds=0.05, failure_rate=0.1,
            moderation_rate=0.05, seed=11,
        ) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL, retry=FAST_RETRY) as c,
    ):  # fmt: skip
        image = await c.images.upload(sample_video_path().with_name("sample.png"))
        outcomes = await c.runner(concurrency=32, journal=journal_path).gather(batch(image.img_id))
        slots = asyncio.Semaphore(8)

        async def save(video_id: int) -> None:
            async with slots:
                await c.videos.download(video_id, videos / f"{video_id}.mp4")

        succeeded = [o for o in outcomes if o.state is OutcomeState.SUCCEEDED]
        await asyncio.gather(*(save(o.video_id) for o in succeeded if o.video_id is not None))
        ledger_spent = emu.state.ledger.spent(API_KEY)
        ledger_refunded = emu.state.ledger.refunded(API_KEY)
    failed = [o for o in outcomes if o.state is OutcomeState.FAILED]
    assert len(outcomes) == 200 and succeeded and failed  # both kinds of card are on the page
    assert ledger_refunded > 0

    page_path = await write_gallery(journal_path, videos, tmp_path / "gallery")
    async with Journal(journal_path) as journal:
        entries = await journal.entries()

    async with open_page(page_path.as_uri()) as page:
        cards = await page.evaluate(CARDS_JS)
        assert len(cards) == 200
        assert [(c["state"], c["kind"], c["id"]) for c in cards] == [
            (e.state.value, e.kind, str(e.video_id or "")) for e in entries
        ]
        assert all(c["hasVideo"] == (c["state"] == "succeeded") for c in cards)
        assert cards[7]["prompt"] == HOSTILE
        assert await page.evaluate(
            "window.__pwned === undefined && !document.querySelector('main b, main img')"
        )

        on_page_at_start = sum(not c["hidden"] for c in cards)
        loaded_at_start = sum(c["src"] is not None for c in cards)
        assert 0 < on_page_at_start < 200  # the page adds cards as the reader scrolls
        assert 0 < loaded_at_start < len(succeeded)  # lazy: only videos near the viewport
        assert await page.evaluate(REVEAL_JS, timeout=120) == 200

        states = await page.evaluate(LOAD_ALL_JS, timeout=600)
        assert len(states) == len(succeeded)
        not_loaded = [s for s in states if s["readyState"] < 1]
        assert not not_loaded, f"videos that did not load: {not_loaded[:5]}"

        totals = await page.evaluate("document.getElementById('totals').innerText")
        assert f"{ledger_spent} spent" in " ".join(totals.split())
        assert f"{ledger_refunded} refunded" in " ".join(totals.split())

        await page.evaluate(
            "document.querySelector('button[data-filter=state][data-value=failed]').click()"
        )
        shown = await page.evaluate(
            "[document.getElementById('shown').textContent,"
            " document.querySelectorAll('.card[data-state=failed]:not([hidden])').length,"
            " document.querySelectorAll('.card:not([hidden])').length]"
        )
        assert shown[0] == f"{200 - len(failed)} of 200 shown"
        assert shown[1] == 0 and 0 < shown[2] <= 200 - len(failed)
        await page.evaluate(
            "document.querySelector('button[data-filter=state][data-value=failed]').click()"
        )

        frames = await page.evaluate(TOP_FRAMES_JS)
        assert frames and all(r >= 2 for r in frames)
        shot = await page.screenshot(tmp_path / "gallery.png")
    assert shot.stat().st_size > 10_000
    print(f"\ngallery screenshot: {shot}")
