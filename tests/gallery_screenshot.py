"""The README's gallery screenshot: ``python -m tests.gallery_screenshot docs/gallery.png``.

Runs a small batch on the emulator (a few failures and a moderated one), downloads the
videos, writes the gallery and photographs it in headless Chromium.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from pixverse_async import PixVerse, PollPolicy
from pixverse_async.batch.gallery import write_gallery
from pixverse_async.emulator import Emulator
from pixverse_async.models import TextToVideo

from .chromium import TOP_FRAMES_JS, open_page

PROMPTS = [
    ("a paper boat drifting down a rainy street, golden hour", "v5", "720p", 5),
    ("a red kite over green hills, slow dolly out", "v5", "540p", 8),
    ("a fox in fresh snow looks up at the camera #fail", "v4.5", "720p", 5),
    ("neon city at night, rain on the lens, cyberpunk mood", "v5", "1080p", 5),
    ("a cat knocks a cup off the table, slow motion", "v5", "540p", 5),
    ("storm clouds roll over a lighthouse #moderated", "v5", "720p", 8),
    ("a hummingbird hovers at a flower, macro", "v4.5", "360p", 5),
    ("timelapse of a city skyline from dusk to night", "v5", "720p", 5),
]


async def main(dest: Path) -> None:
    poll = PollPolicy(first_delay=0.05, interval=0.02, factor=1.0, max_delay=0.02, jitter=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        videos = work / "videos"
        videos.mkdir()
        async with (
            Emulator(api_keys={"k"}, generation_seconds=0.05) as emu,
            PixVerse(api_key="k", base_url=emu.base_url, poll=poll) as client,
        ):
            requests = [
                TextToVideo(prompt=p, model=m, quality=q, duration=d, aspect_ratio="16:9")
                for p, m, q, d in PROMPTS
            ]
            outcomes = await client.runner(concurrency=8, journal=work / "j.sqlite").gather(
                requests
            )
            for o in outcomes:
                if o.ok and o.video_id is not None:
                    await client.videos.download(o.video_id, videos / f"{o.video_id}.mp4")
        page = await write_gallery(work / "j.sqlite", videos, work / "gallery")
        async with open_page(page.as_uri(), width=1100, height=660) as browser:
            await browser.evaluate(TOP_FRAMES_JS)
            await browser.screenshot(dest)
    print(dest, dest.stat().st_size, "bytes")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
