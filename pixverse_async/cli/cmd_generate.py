"""``pixverse generate KIND --field ...`` and ``pixverse mask --field ...``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..models import REQUEST_KINDS, MaskSelection, build_request
from .cmd_videos import download_video, wait_video
from .connect import open_client
from .errors import EXIT_OK
from .options import GENERATE_KINDS, add_field_options, fields_from_args
from .output import show_object, show_rows, video_record
from .sources import resolve_sources, with_placeholders


def _summary(cls: type[Any]) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0].replace("``", "").strip(". ")


async def run_generate(args: argparse.Namespace) -> int:
    """Submit one generation; with ``--wait``/``--download`` also wait for it and save it."""
    fields = fields_from_args(args)
    build_request({"kind": args.kind, **with_placeholders(fields)})  # fail before any upload
    async with open_client(args) as client:
        request = build_request({"kind": args.kind, **await resolve_sources(client, fields)})
        job = await client.videos.submit(request)
        if not (args.wait or args.download):
            show_object(
                args, {"video_id": job.video_id, "credits": job.credits, "status": "submitted"}
            )
            return EXIT_OK
        print(f"submitted video {job.video_id} ({job.credits} credits)", file=sys.stderr)
        video = await wait_video(client, job)
        record = {**video_record(video), "credits": job.credits}
        if args.download:
            record["path"] = str(await download_video(client, video, args.download))
    show_object(args, record)
    return EXIT_OK


async def run_mask(args: argparse.Namespace) -> int:
    """Find the swappable objects on a keyframe of a video (paid)."""
    fields = fields_from_args(args)
    MaskSelection(**with_placeholders(fields))
    async with open_client(args) as client:
        result = await client.videos.select_mask(**await resolve_sources(client, fields))
    rows = [
        {
            "keyframe_id": result.keyframe_id,
            "mask_id": m.mask_id,
            "mask_name": m.mask_name,
            "mask_url": m.mask_url,
        }
        for m in result.mask_info
    ]
    if not args.json:
        print(f"keyframe {result.keyframe_id}: {result.keyframe_url} ({result.credits} credits)")
    show_rows(args, ["mask_id", "mask_name", "mask_url"], rows)
    return EXIT_OK


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``generate KIND`` (one subcommand per request kind) and ``mask``."""
    generate = commands.add_parser(
        "generate",
        parents=[common],
        help="submit a generation (text, image, transition, ...)",
        description="Submit one generation. Each request field is an option; image and media "
        "id options also take a file path or URL, uploaded first.",
    )
    kinds = generate.add_subparsers(dest="generate_kind", metavar="KIND", required=True)
    for name, kind in GENERATE_KINDS.items():
        cls = REQUEST_KINDS[kind]
        parser = kinds.add_parser(
            name,
            parents=[common],
            help=_summary(cls),
            description=f"{cls.__name__}: {_summary(cls)}.",
        )
        add_field_options(parser, kind)
        parser.add_argument("--wait", action="store_true", help="wait until the video is done")
        parser.add_argument(
            "--download",
            metavar="PATH",
            help="wait, then save the MP4 to PATH (a folder gets PATH/<video_id>.mp4)",
        )
        parser.set_defaults(run=run_generate)

    mask = commands.add_parser(
        "mask",
        parents=[common],
        help="find swappable objects in a video (for swap)",
        description="Mask selection (paid): find the objects on one keyframe of a video; pass "
        "a mask_id with the same video and keyframe to `generate swap`.",
    )
    add_field_options(mask, "mask_selection")
    mask.set_defaults(run=run_mask)
