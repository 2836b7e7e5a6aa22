"""``pixverse demo``: the SDK's main job on an in-process emulator, in a few seconds.

It starts the emulator, uploads a sample image, runs a small mixed batch (text-to-video,
image-to-video, transition) through the job runner with live progress, saves the videos
into ``--out`` and prints a summary table with their paths. Nothing reaches PixVerse.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib import resources
from pathlib import Path

from ..models import GenerationRequest, ImageToVideo, TextToVideo, Transition
from .connect import emulated_client
from .errors import EXIT_FAILED, EXIT_OK
from .jobview import print_summary, run_jobs
from .output import wants_json

DEFAULT_OUT = "pixverse-demo"


def sample_image() -> Path:
    """The PNG shipped with the emulator."""
    return Path(str(resources.files("pixverse_async.emulator") / "assets" / "sample.png"))


def demo_requests(img_id: int) -> list[GenerationRequest]:
    """Two of each: text-to-video, image-to-video and transition (v5, 5 s, 540p)."""
    return [
        TextToVideo(
            prompt="a red kite over the sea",
            aspect_ratio="16:9",
            model="v5",
            duration=5,
            quality="540p",
        ),
        TextToVideo(
            prompt="a paper boat on a stream",
            aspect_ratio="9:16",
            model="v5",
            duration=5,
            quality="540p",
        ),
        ImageToVideo(
            img_id=img_id,
            prompt="the scene slowly comes alive",
            model="v5",
            duration=5,
            quality="540p",
        ),
        ImageToVideo(
            img_id=img_id,
            prompt="the camera pulls back",
            camera_movement="zoom_out",
            model="v5",
            duration=5,
            quality="540p",
        ),
        Transition(
            first_frame_img=img_id,
            last_frame_img=img_id,
            prompt="day turns to night",
            model="v5",
            duration=5,
            quality="540p",
        ),
        Transition(
            first_frame_img=img_id,
            last_frame_img=img_id,
            prompt="a storm rolls in",
            model="v5",
            duration=5,
            quality="540p",
        ),
    ]


async def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when every video was generated and saved."""
    out = Path(args.out)
    async with emulated_client() as client:
        print(
            f"PixVerse emulator running in-process at {client.base_url} (nothing is charged)",
            file=sys.stderr,
        )
        image = await client.images.upload(sample_image())
        print(f"uploaded {sample_image().name}: img_id {image.img_id}", file=sys.stderr)
        requests = demo_requests(image.img_id)
        result = await run_jobs(
            client,
            requests,
            lambda index: index + 1,
            total=len(requests),
            out=out,
            concurrency=8,
            journal=None,
            as_json=wants_json(args),
        )
    print_summary(result, as_json=wants_json(args), extra={"out": str(out)})
    if not wants_json(args):
        print(f"videos saved in {await asyncio.to_thread(out.resolve)}")
    return EXIT_OK if result.ok else EXIT_FAILED


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the demo command."""
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="run a small mixed batch on a built-in emulator",
        description=(__doc__ or "").split("\n\n", 1)[1].strip(),
    )
    demo.add_argument(
        "--out",
        metavar="DIR",
        default=DEFAULT_OUT,
        help=f"folder for the videos (default ./{DEFAULT_OUT})",
    )
    demo.set_defaults(run=run_demo)
