"""``pixverse batch FILE.jsonl``: many generations from a file, resumable through a journal.

One request per line: ``{"kind": "text_to_video", "prompt": ..., ...}`` (``kind`` is a
request kind, or a ``generate`` name such as ``text``); blank lines and lines starting with
``#`` are skipped. Every line is checked before anything is sent. The journal (default
``FILE.jsonl.journal.sqlite``) records each request before it is sent, so running the same
command again after an interruption skips what finished, resumes polling what was submitted
and submits only what never was. Failed and unknown requests are not sent again unless
``--retry-failed`` / ``--retry-unknown`` asks for it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..journal import Journal, JournalState, is_postgres_url
from ..models import GenerationRequest, MaskSelection, build_request
from .connect import open_client
from .errors import EXIT_FAILED, EXIT_OK, UsageError
from .jobview import print_summary, run_jobs
from .options import GENERATE_KINDS
from .output import wants_json

JOURNAL_SUFFIX = ".journal.sqlite"


def _parse_line(data: Any) -> GenerationRequest:
    if isinstance(data, dict) and data.get("kind") in GENERATE_KINDS:
        data = {**data, "kind": GENERATE_KINDS[data["kind"]]}
    request = build_request(data)
    if isinstance(request, MaskSelection):
        raise ValidationError("kind", "mask_selection is not a generation: use `pixverse mask`")
    return request


def read_requests(path: Path) -> tuple[list[GenerationRequest], list[int]]:
    """Every request of a JSON Lines file, and the line number of each.

    A line that is not JSON or not a valid request raises :class:`UsageError` naming
    ``FILE:LINE``; nothing is sent for a file with any bad line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    requests: list[GenerationRequest] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            requests.append(_parse_line(json.loads(line)))
        except ValueError as exc:  # JSON errors and ValidationError
            what = "ValidationError" if isinstance(exc, ValidationError) else "not valid JSON"
            raise UsageError(f"{path}:{number}: {what}: {exc}") from None
        lines.append(number)
    if not requests:
        raise UsageError(f"{path}: no requests (one JSON object per line)")
    return requests, lines


async def requeue(journal_path: str, states: list[JournalState]) -> int:
    """Move the journal's entries in ``states`` back to pending; return how many."""
    if not states:
        return 0
    if not is_postgres_url(journal_path) and not await asyncio.to_thread(
        os.path.exists, journal_path
    ):
        return 0
    moved = 0
    async with Journal(journal_path) as journal:
        for state in states:
            for entry in await journal.entries(state):
                await journal.requeue(entry.key)
                moved += 1
    return moved


async def run_batch(args: argparse.Namespace) -> int:
    """Run every request of the file; exit 1 if any failed, ended unknown or was not saved."""
    path = Path(args.file)
    requests, lines = read_requests(path)
    journal = args.journal or str(path) + JOURNAL_SUFFIX
    args.interrupt_hint = f"rerun the same command to resume (journal: {journal})"
    out = Path(args.out) if args.out else None
    states = [JournalState.FAILED] * args.retry_failed + [JournalState.UNKNOWN] * args.retry_unknown
    moved = await requeue(journal, states)
    if moved:
        print(f"{journal}: {moved} request(s) will be submitted again", file=sys.stderr)
    async with open_client(args) as client:
        reports = await run_jobs(
            client,
            requests,
            lines,
            out=out,
            concurrency=args.concurrency,
            journal=journal,
            as_json=wants_json(args),
        )
    print_summary(
        reports,
        as_json=wants_json(args),
        extra={"journal": journal, "out": str(out) if out else None},
    )
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the batch command."""
    batch = commands.add_parser(
        "batch",
        parents=[common],
        help="run a JSON Lines file of requests (resumable)",
        description=(__doc__ or "").split("\n\n", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("file", metavar="FILE.jsonl", help="one request per line")
    batch.add_argument(
        "--concurrency",
        type=_positive,
        default=16,
        metavar="N",
        help="generations in flight at most (default 16)",
    )
    batch.add_argument(
        "--journal", metavar="FILE", help=f"journal file (default: FILE.jsonl{JOURNAL_SUFFIX})"
    )
    batch.add_argument("--out", metavar="DIR", help="save successful videos to DIR/<id>.mp4")
    batch.add_argument(
        "--retry-failed",
        action="store_true",
        help="submit again the requests the journal records as failed (new, paid generations)",
    )
    batch.add_argument(
        "--retry-unknown",
        action="store_true",
        help="submit again the requests whose outcome is unknown (check first that the service "
        "created no video for them: a duplicate is paid twice)",
    )
    batch.set_defaults(run=run_batch)
