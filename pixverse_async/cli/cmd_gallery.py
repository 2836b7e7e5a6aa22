"""``pixverse batch FILE.jsonl --gallery DIR``: the batch's results gallery, written after it runs.

The page (``DIR/index.html``, see :mod:`pixverse_async.batch.gallery`) is built from the batch's
journal, so it shows every request the journal holds, earlier runs included, and is
rewritten on each run. Videos saved with ``--out`` play from there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch.gallery import write_gallery


def add_arguments(batch: argparse.ArgumentParser) -> None:
    """The batch command's ``--gallery`` option."""
    batch.add_argument(
        "--gallery",
        metavar="DIR",
        help="write an HTML page of the results to DIR/index.html (videos from --out)",
    )


async def write_batch_gallery(args: argparse.Namespace, journal: str, out: Path | None) -> None:
    """Write the gallery ``--gallery`` asks for (nothing without it); say where on stderr."""
    if not args.gallery:
        return
    page = await write_gallery(journal, out, args.gallery, title=f"pixverse batch {args.file}")
    print(f"gallery: {page}", file=sys.stderr)
