"""The results gallery with thousands of cards: rendering, and Chromium with lazy or eager videos.

Run from the repository root (needs Debian's ``chromium``)::

    python -m benchmarks.bench_gallery --rounds 1         # 1,000 and 5,000 cards
    python -m benchmarks.bench_gallery --cards 100 --rounds 1

For each size a downloads folder gets one MP4 per succeeded card (hard links to the
emulator's sample video) and the page is rendered by :func:`pixverse_async.batch.gallery.render`
(80 % succeeded, 15 % failed, 5 % unknown cards). Two variants are opened in headless
Chromium, interleaved, each in a fresh browser:

- ``lazy``: the page as written (videos get a ``src`` only near the viewport);
- ``eager``: the same page with every video's ``src`` and ``preload="metadata"`` set up front.

Figures: the time from navigation to the ``load`` event; the time to scroll from top to
bottom one screen per two animation frames, the slowest of those steps (jank) and how many
videos hold a source after it; then, stopped in the middle of the page, the time until the
videos in view show a frame. Medians over the rounds. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from pixverse_async.batch.gallery import GalleryCard, render
from pixverse_async.emulator.app import sample_video_path

from ._util import median, results_section, table

VARIANTS = ("lazy", "eager")

SCROLL_JS = """(async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  let worst = 0;
  const started = performance.now();
  for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight) {
    const t = performance.now();
    window.scrollTo(0, y);
    await frame();
    worst = Math.max(worst, performance.now() - t);
  }
  const ms = performance.now() - started;
  const videos = Array.from(document.querySelectorAll('video'));
  const withSrc = videos.filter(v => v.getAttribute('src')).length;
  // Stop in the middle: how long until the videos in view show a frame.
  const look = performance.now();
  window.scrollTo(0, document.documentElement.scrollHeight / 2);
  await frame();
  const inView = videos.filter(v => {
    const r = v.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight;
  });
  await Promise.all(inView.map(v => new Promise((resolve) => {
    if (v.readyState >= 2) return resolve();
    v.addEventListener('loadeddata', resolve, {once: true});
    setTimeout(resolve, 20000);
  })));
  return {ms: ms, worst: worst, withSrc: withSrc, videos: videos.length,
          look: performance.now() - look};
})()"""


def cards_for(n: int, downloads: Path) -> list[GalleryCard]:
    sample = sample_video_path()
    cards = []
    for i in range(n):
        video_id = 300_000_000_000_001 + i
        state = "succeeded" if i % 20 < 16 else "failed" if i % 20 < 19 else "unknown"
        if state == "succeeded":
            os.link(sample, downloads / f"{video_id}.mp4")
        cards.append(
            GalleryCard(
                kind="text_to_video" if i % 4 else "image_to_video",
                state=state,
                prompt=f"scene {i}: a paper boat drifting down a rainy street at dusk",
                model="v5",
                quality=("360p", "540p", "720p", "1080p")[i % 4],
                duration=5,
                video_id=video_id if state != "unknown" else None,
                credits=30,
                refunded=state == "failed",
                error="VideoFailedError: failed to generate" if state == "failed" else None,
            )
        )
    return cards


def eager(page: str) -> str:
    return page.replace(' preload="none"', ' preload="metadata"').replace(" data-src=", " src=")


async def measure(path: Path) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.chromium import open_page  # the test suite's DevTools driver

    async with open_page("about:blank") as page:
        loaded = page.expect("Page.loadEventFired")
        started = time.perf_counter()
        await page.call("Page.navigate", url=path.as_uri())
        await asyncio.wait_for(loaded, 600)
        load_seconds = time.perf_counter() - started
        scroll = await page.evaluate(SCROLL_JS, timeout=1800)
    return {
        "load_ms": load_seconds * 1000,
        "scroll_ms": scroll["ms"],
        "worst_ms": scroll["worst"],
        "with_src": scroll["withSrc"],
        "look_ms": scroll["look"],
        "videos": scroll["videos"],
    }


async def run_size(n: int, rounds: int, work: Path) -> list[list[str]]:
    downloads = work / f"videos-{n}"
    downloads.mkdir()
    cards = cards_for(n, downloads)
    pages: dict[str, Path] = {}
    render_ms = []
    for _ in range(rounds):
        t = time.perf_counter()
        text = render(cards, downloads, work)
        render_ms.append((time.perf_counter() - t) * 1000)
    for variant in VARIANTS:
        pages[variant] = work / f"{variant}-{n}.html"
        pages[variant].write_text(text if variant == "lazy" else eager(text), encoding="utf-8")
    results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for _ in range(rounds):
        for variant in VARIANTS:
            results[variant].append(await measure(pages[variant]))
    rows = []
    for variant in VARIANTS:
        runs = results[variant]
        rows.append(
            [
                f"{n:,}",
                variant,
                f"{pages[variant].stat().st_size / 1024:.0f}",
                f"{median(render_ms):.0f}",
                f"{median([r['load_ms'] for r in runs]):.0f}",
                f"{median([r['scroll_ms'] for r in runs]):.0f}",
                f"{median([r['worst_ms'] for r in runs]):.0f}",
                f"{median([r['look_ms'] for r in runs]):.0f}",
                f"{median([r['with_src'] for r in runs]):.0f} / {runs[0]['videos']:.0f}",
            ]
        )
    lazy, eager_ = (
        {k: median([r[k] for r in results[v]]) for k in ("load_ms", "scroll_ms")} for v in VARIANTS
    )
    ratio = f"eager/lazy: load {eager_['load_ms'] / lazy['load_ms']:.2f}x, scroll "
    ratio += f"{eager_['scroll_ms'] / lazy['scroll_ms']:.2f}x"
    rows.append([f"{n:,}", ratio, "", "", "", "", "", "", ""])
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_gallery")
    parser.add_argument("--cards", default="1000,5000", help="comma-separated card counts")
    parser.add_argument("--rounds", type=int, default=2)
    return parser


async def run(args: argparse.Namespace) -> str:
    sizes = [int(s) for s in args.cards.split(",") if s]
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-gallery-") as tmp:
        for n in sizes:
            rows += await run_size(n, args.rounds, Path(tmp))
    headers = [
        "cards", "variant", "page KB", "render ms", "load ms", "scroll ms",
        "worst step ms", "frames in view ms", "videos with src after scrolling",
    ]  # fmt: skip
    return table(headers, rows)


def section(argv: list[str]) -> str:
    """Run with ``argv`` and return the RESULTS.md section (``python -m benchmarks``)."""
    printed = asyncio.run(run(build_parser().parse_args(argv)))
    print(printed)
    return results_section(
        "Results gallery",
        f"`python -m benchmarks.bench_gallery {' '.join(argv)}`: the gallery page in headless "
        "Chromium, as written (`lazy`: a video gets its source only near the viewport once "
        "scrolling pauses) against the same page with every video's source set up front "
        "(`eager`). Load: navigation to the `load` event; scroll: top to bottom, one screen "
        "per two animation frames (worst step = jank); frames in view: stopped mid-page, until "
        "the videos in view show a frame.",
        printed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(asyncio.run(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
