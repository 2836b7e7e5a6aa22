"""``pixverse status ID``, ``pixverse wait ID``, ``pixverse download ID PATH``."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import attrs

from ..client import PixVerse
from ..jobs.generation_job import GenerationJob
from ..models import Video
from .connect import open_client
from .errors import EXIT_OK
from .output import show_object, video_record
from .progress import BytesProgress, Ticker


async def wait_video(client: PixVerse, job: GenerationJob | int) -> Video:
    """Poll until the video is done; return it or raise its typed error.

    A job just submitted waits the policy's first delay; an existing video id is looked up
    at once.
    """
    if isinstance(job, int):
        policy = attrs.evolve(client.videos.poll, first_delay=0.0)
        job = GenerationJob(client.videos, job)
    else:
        policy = client.videos.poll
    async with Ticker(f"waiting for video {job.video_id}"):
        return await job.wait(policy)


async def download_video(client: PixVerse, video: Video | int, path: str) -> Path:
    """Save a finished video to ``path`` (a folder, or one ending in a separator, gets
    ``<video_id>.mp4``) with a progress line on a terminal."""
    if path.endswith(("/", os.sep)):
        await asyncio.to_thread(Path(path).mkdir, parents=True, exist_ok=True)
    video_id = video.id if isinstance(video, Video) else video
    bar = BytesProgress(f"downloading video {video_id}")
    try:
        return await client.videos.download(video, path, progress=bar)
    finally:
        bar.done()


async def run_status(args: argparse.Namespace) -> int:
    """Print a video's current status."""
    async with open_client(args) as client:
        video = await client.videos.get(args.video_id)
    show_object(args, video_record(video))
    return EXIT_OK


async def run_wait(args: argparse.Namespace) -> int:
    """Wait for a video to finish; exit 1 when it failed or was moderated."""
    async with open_client(args) as client:
        video = await wait_video(client, args.video_id)
    show_object(args, video_record(video))
    return EXIT_OK


async def run_download(args: argparse.Namespace) -> int:
    """Save a finished video's MP4."""
    async with open_client(args) as client:
        path = await download_video(client, args.video_id, args.path)
    show_object(args, {"video_id": args.video_id, "path": str(path)})
    return EXIT_OK


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the status, wait and download commands."""
    status = commands.add_parser(
        "status",
        parents=[common],
        help="show a video's status",
        description="Show a video's status once (GET /openapi/v2/video/result/ID).",
    )
    status.add_argument("video_id", type=int, metavar="ID")
    status.set_defaults(run=run_status)

    wait = commands.add_parser(
        "wait",
        parents=[common],
        help="wait until a video is done",
        description="Poll a video until it is done; exit 1 if it failed or was moderated.",
    )
    wait.add_argument("video_id", type=int, metavar="ID")
    wait.set_defaults(run=run_wait)

    download = commands.add_parser(
        "download",
        parents=[common],
        help="save a finished video's MP4",
        description="Save a finished video to PATH (a folder gets PATH/ID.mp4); a partial "
        "file left by an interrupted download is resumed.",
    )
    download.add_argument("video_id", type=int, metavar="ID")
    download.add_argument("path", metavar="PATH")
    download.set_defaults(run=run_download)
