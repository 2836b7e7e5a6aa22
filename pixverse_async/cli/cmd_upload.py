"""``pixverse upload image PATH`` and ``pixverse upload media PATH``."""

from __future__ import annotations

import argparse
from typing import Any

from .connect import open_client
from .errors import EXIT_OK, UsageError
from .output import show_object
from .progress import BytesProgress


async def run_upload(args: argparse.Namespace) -> int:
    """Upload one image or media file (or URL) and print its id."""
    source: str = args.source
    record: dict[str, Any]
    bar = BytesProgress(f"uploading {source}")
    async with open_client(args) as client:
        try:
            if args.upload_kind == "image":
                image = await client.images.upload(source, progress=bar)
                record = {"img_id": image.img_id, "img_url": image.img_url}
            else:
                media = await client.media.upload(source, progress=bar)
                record = {
                    "media_id": media.media_id,
                    "media_type": media.media_type,
                    "url": media.url,
                }
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise UsageError(f"cannot upload {source}: {exc.strerror or exc}") from None
        finally:
            bar.done()
    show_object(args, record)
    return EXIT_OK


def _source(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    return text


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``upload image`` and ``upload media``."""
    upload = commands.add_parser(
        "upload",
        parents=[common],
        help="upload an image or a video/audio file",
        description="Upload a file (checked before a byte is sent) or an http(s) URL.",
    )
    kinds = upload.add_subparsers(dest="upload_kind", metavar="KIND", required=True)
    for kind, what in (
        ("image", "PNG, JPEG or WebP image"),
        ("media", "video (MP4, MOV, WebM) or audio (MP3, WAV, M4A, AAC)"),
    ):
        parser = kinds.add_parser(kind, parents=[common], help=f"upload a {what}")
        parser.add_argument("source", type=_source, metavar="PATH", help="file path or URL")
        parser.set_defaults(run=run_upload)
