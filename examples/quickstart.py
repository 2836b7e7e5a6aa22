"""One image-to-video job: upload an image, generate, wait, download.

Runs against a local in-process emulator when PIXVERSE_API_KEY is unset (nothing is charged),
and against the PixVerse API when it is set::

    python examples/quickstart.py                     # emulator, its sample image
    PIXVERSE_API_KEY=... python examples/quickstart.py --image cat.png --out cat.mp4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from pixverse_async import PixVerse, PollPolicy
from pixverse_async.emulator import Emulator


@contextlib.asynccontextmanager
async def open_client() -> AsyncIterator[PixVerse]:
    """The real API when PIXVERSE_API_KEY is set, else a client on a local emulator."""
    if os.environ.get("PIXVERSE_API_KEY"):
        async with PixVerse() as client:
            yield client
        return
    fast = PollPolicy(first_delay=0.5, interval=0.2, factor=1.0, max_delay=0.2)
    async with (
        Emulator(api_keys={"example-key"}, generation_seconds=1.0) as emu,
        PixVerse(api_key="example-key", base_url=emu.base_url, poll=fast) as client,
    ):
        print(f"PIXVERSE_API_KEY is not set: using a local emulator at {emu.base_url}")
        yield client


async def main(image_path: Path, out: Path) -> None:
    async with open_client() as client:
        image = await client.images.upload(image_path)
        print(f"uploaded {image_path.name}: img_id={image.img_id}")
        job = await client.videos.image_to_video(
            img_id=image.img_id,
            prompt="the scene slowly comes alive",
            model="v5",
            duration=5,
            quality="540p",
        )
        print(f"submitted video {job.video_id} ({job.credits} credits); waiting...")
        video = await job.wait()  # raises VideoFailedError, VideoModeratedError, ...
        saved = await client.videos.download(video, out)
        print(f"video {video.id}: {video.output_width}x{video.output_height}, saved to {saved}")


if __name__ == "__main__":
    sample = resources.files("pixverse_async.emulator") / "assets" / "sample.png"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=Path(str(sample)), help="image to animate")
    parser.add_argument("--out", type=Path, default=Path("quickstart.mp4"), help="output MP4")
    args = parser.parse_args()
    asyncio.run(main(args.image, args.out))
