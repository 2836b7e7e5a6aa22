"""``pixverse batch FILE.jsonl``: many generations from a file, resumable through a journal.

One request per line: ``{"kind": "text_to_video", "prompt": ..., ...}`` (``kind`` is a
request kind, or a ``generate`` name such as ``text``); blank lines and lines starting with
``#`` are skipped. Every line is checked before anything is sent: each bad line is reported
with its number and reason, and nothing is sent while any line is bad (unless
``--skip-invalid`` runs the good lines and reports the bad ones as skipped); the run then reads
the file again as it goes, so memory does not grow with its length. The journal (default
``FILE.jsonl.journal.sqlite``) records each request before it is sent, so running the same
command again after an interruption skips what finished, resumes polling what was submitted
and submits only what never was (or was refused with proof that nothing was generated: a
wrong API key, an invalid request, no balance). Failed and unknown requests are not sent
again unless ``--retry-failed`` / ``--retry-unknown`` asks for it. ``--max-credits N`` caps what the
batch spends (the journal's earlier runs included): requests that do not fit end not
submitted, and running again with a higher cap continues from there.

With ``--journal postgresql://...`` the batch lives in PostgreSQL: start the same command on
several machines with the same ``--batch NAME`` and they share the work (each request is sent
by one of them; ``--concurrency`` is then the account's limit for all of them together). When
one dies, the others take over its requests after ``--lease`` seconds; one it was sending
becomes unknown (``pixverse journal requeue KEY`` or ``--retry-unknown`` sends it again under
its own trace id, which PixVerse answers with the first video if there was one). Each worker
prints only the outcomes it produced (``--report own``, the default; ``--report all`` prints
one per line of the file, whoever ran it), then the batch as a whole (its requests by state
and its spend; a rerun of a finished batch says this worker had nothing left to do);
``pixverse journal status --journal URL --batch NAME`` shows it too, with each worker. There
``--max-credits N`` is the batch's cap: all the workers together spend at most ``N`` (give
each the same ``--max-credits`` and ``--prices``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..batch.costs import CostEstimator
from ..batch.spending import SpendingCap
from ..journal import Journal, JournalState, is_postgres_url
from ..journal.finished import FinishedKeys, finished_keys
from ..models import to_json
from .arg_types import credits, positive_float, positive_int
from .batch_file import BatchFile, check_file
from .cmd_dry_run import add_arguments as add_dry_run_arguments
from .cmd_dry_run import run_dry_run, warn_if_cap_above_balance
from .cmd_gallery import add_arguments as add_gallery_arguments
from .cmd_gallery import write_batch_gallery
from .connect import open_client
from .errors import EXIT_FAILED, EXIT_OK, UsageError
from .jobview import RunReport, print_summary, run_jobs
from .output import wants_json
from .prices import load_prices

JOURNAL_SUFFIX = ".journal.sqlite"


async def checked_requests(
    path: Path, *, skip_invalid: bool, done: FinishedKeys | None = None
) -> BatchFile:
    """The file, once every line is valid (or, with ``skip_invalid``, the valid ones); each
    bad line is printed as ``FILE:LINE: reason`` on stderr. No request is kept: the run reads
    them again (:meth:`BatchFile.requests`). ``done``: what the batch's journal holds as
    finished (a resume: those lines need no building, and are noted)."""
    batch = await check_file(path, done)
    for number, reason in batch.bad:
        print(f"{path}:{number}: {reason}", file=sys.stderr)
    if batch.bad and not skip_invalid:
        raise UsageError(
            f"{path}: {len(batch.bad)} bad line(s), nothing was sent; fix them, or pass "
            "--skip-invalid to run the valid lines only"
        )
    if not batch.count:
        raise UsageError(f"{path}: no requests (one JSON object per line)")
    if batch.bad:
        print(f"{path}: skipping {len(batch.bad)} bad line(s)", file=sys.stderr)
    return batch


async def requeue(journal: Journal, states: list[JournalState]) -> int:
    """Move the journal's entries in ``states`` back to pending; return how many."""
    moved = 0
    for state in states:
        for entry in await journal.entries(state):
            await journal.requeue(entry.key)
            moved += 1
    return moved


async def run_batch(args: argparse.Namespace) -> int:
    """Run every request of the file; exit 1 if any failed, ended unknown, was not saved or
    was skipped as invalid."""
    path = Path(args.file)
    journal_path = args.journal or str(path) + JOURNAL_SUFFIX
    done = await finished_in(args, journal_path, default_batch=path.name)
    batch = await checked_requests(path, skip_invalid=args.skip_invalid, done=done)
    del done  # 8 bytes a finished request: not kept while the batch runs
    if args.dry_run:
        lines = [batch.line_of(i) for i in range(batch.count)]
        return await run_dry_run(args, path, list(batch.requests()), journal_path, lines)
    out = Path(args.out) if args.out else None
    states = [JournalState.FAILED] * args.retry_failed + [JournalState.UNKNOWN] * args.retry_unknown
    # Opened before anything else: a journal that cannot be opened is one clear error.
    async with open_journal(args, journal_path, default_batch=path.name) as journal:
        shown = journal.path  # a URL without its password
        args.interrupt_hint = f"rerun the same command to resume (journal: {shown})"
        moved = await requeue(journal, states)
        if moved:
            print(f"{shown}: {moved} request(s) will be submitted again", file=sys.stderr)
        costs = CostEstimator(price=load_prices(args.prices) if args.prices else None)
        over = unpriced_risk(args, costs, batch)
        if over:
            print(f"warning: {over}", file=sys.stderr)
        async with open_client(args) as client:
            if args.max_credits is not None:
                await warn_if_cap_above_balance(client, args.max_credits)
            # A resume sends what is left first; a PostgreSQL worker reporting only its own
            # outcomes does not read again what the journal held as finished.
            counted = args.report == "own" and journal.postgres is not None and batch.split
            result = await run_jobs(
                client,
                batch.requests(split=True, finished=not counted),
                batch.run_line,
                total=batch.count,
                skipped=batch.finished if counted else 0,
                out=out,
                concurrency=args.concurrency,
                journal=journal,
                as_json=wants_json(args),
                max_credits=args.max_credits,
                costs=costs,
                allow_unpriced=args.allow_unpriced,
                report=args.report,
            )
        whole = await whole_batch(journal) if args.report == "own" else None
    extra: dict[str, Any] = {"journal": shown, "out": str(out) if out else None}
    if whole is not None:
        extra["elsewhere"] = result.elsewhere
        extra["batch"] = whole
    if batch.bad:
        extra["skipped"] = len(batch.bad)
    if over:
        extra["cap_warning"] = over
    print_summary(result, as_json=wants_json(args), extra=extra)
    if whole is not None and not wants_json(args):
        print_whole_batch(whole, result)
    if over and not wants_json(args):
        print(f"note: {over}")
    await write_batch_gallery(args, journal_path, out)
    if batch.bad and not wants_json(args):
        print(f"{len(batch.bad)} bad line(s) skipped (listed above, on stderr)")
    ok = result.ok and not batch.bad
    return EXIT_OK if ok else EXIT_FAILED


async def whole_batch(journal: Journal) -> dict[str, Any] | None:
    """A PostgreSQL batch as a whole, whoever ran it: its name, its requests by state and its
    spend (None on SQLite, where the run's summary is the whole file's)."""
    store = journal.postgres
    if store is None:
        return None
    counts = await store.summary()
    spend = await store.spending.spend()
    return {
        "name": store.batch,
        "total": sum(counts.values()),
        **{state.value: n for state, n in counts.items()},
        "credits_charged": spend.charged,
        "credits_refunded": spend.refunded,
        "credits_spent": spend.spent,
    }


def print_whole_batch(whole: dict[str, Any], result: RunReport) -> None:
    """The batch's line under this worker's summary (``--report own``), and what this worker
    left to the others (or to earlier runs)."""
    text = (
        f"batch {whole['name']!r} as a whole: {whole['total']} requests, "
        f"{whole['succeeded']} succeeded, {whole['failed']} failed, {whole['unknown']} unknown"
    )
    for state in ("pending", "sending", "submitted"):
        if whole[state]:
            text += f", {whole[state]} {state}"
    print(
        f"{text}; credits: {whole['credits_spent']} spent ({whole['credits_charged']} charged, "
        f"{whole['credits_refunded']} refunded)"
    )
    if result.elsewhere and not result.total:
        print(
            f"this worker had nothing left to do: the file's {result.elsewhere} request(s) "
            "were done by other workers or earlier runs (--report all lists them)"
        )
    elif result.elsewhere:
        print(
            f"{result.elsewhere} request(s) of the file were done by other workers or earlier "
            "runs (--report all lists them)"
        )


def unpriced_risk(args: argparse.Namespace, costs: CostEstimator, batch: BatchFile) -> str | None:
    """What ``--allow-unpriced`` may cost beyond the cap, said before the start and in the
    summary (None: nothing can go over)."""
    if args.max_credits is None or not args.allow_unpriced:
        return None
    cap = SpendingCap(args.max_credits, costs, allow_unpriced=True)
    kinds = cap.unpriced_kinds((r.kind, to_json(r)) for r in batch.requests())
    if not kinds:
        return None
    return (
        f"{kinds} kind(s) of request have no known price (--allow-unpriced): one of each is "
        f"sent alone to learn it, so the spend may go over the cap of {args.max_credits} "
        "credits by what those cost beyond what is left"
    )


async def finished_in(
    args: argparse.Namespace, target: str, *, default_batch: str
) -> FinishedKeys | None:
    """What the journal ``--journal`` names holds as finished, read only, to check the file
    against (None: a dry run, a run that requeues what finished first, no journal yet)."""
    if args.dry_run or args.retry_failed or args.retry_unknown:
        return None
    batch = getattr(args, "batch", None) or default_batch
    return await finished_keys(target, batch=batch, schema=getattr(args, "journal_schema", None))


def open_journal(args: argparse.Namespace, target: str, *, default_batch: str) -> Journal:
    """The journal ``--journal`` names, with the PostgreSQL options given (unopened)."""
    postgres = is_postgres_url(target)
    options = {
        "batch": getattr(args, "batch", None),
        "schema": getattr(args, "journal_schema", None),
        "lease": getattr(args, "lease", None),
    }
    given = [name for name, value in options.items() if value is not None]
    if not postgres:
        if given:
            raise UsageError(f"--{given[0].replace('_', '-')} needs a postgresql:// --journal")
        Path(target).parent.mkdir(parents=True, exist_ok=True)  # as --out and --download do
        return Journal(target)
    return Journal(
        target,
        batch=args.batch or default_batch,
        schema=options["schema"],
        lease=options["lease"],
    )


def add_postgres_options(parser: argparse.ArgumentParser, *, lease: bool) -> None:
    """``--batch`` and ``--journal-schema`` (and ``--lease``) for a PostgreSQL journal."""
    parser.add_argument(
        "--batch",
        metavar="NAME",
        help="PostgreSQL journal: the batch the cooperating workers share "
        "(default: the file's name)",
    )
    parser.add_argument(
        "--journal-schema",
        metavar="NAME",
        help="PostgreSQL journal: the schema of its tables (default public)",
    )
    if lease:
        parser.add_argument(
            "--lease",
            type=positive_float,
            metavar="SECONDS",
            help="PostgreSQL journal: how long a silent worker keeps its requests before the "
            "others take over (default 30)",
        )


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
        type=positive_int,
        default=16,
        metavar="N",
        help="generations in flight at most (default 16)",
    )
    batch.add_argument(
        "--journal",
        metavar="FILE|URL",
        help=f"journal file (default: FILE.jsonl{JOURNAL_SUFFIX}) or postgresql:// URL "
        "(several workers share the batch)",
    )
    add_postgres_options(batch, lease=True)
    batch.add_argument(
        "--report",
        choices=("own", "all"),
        default="own",
        help="PostgreSQL journal: print the outcomes this worker produced (own, the default) "
        "or one per line of the file, whoever ran it (all); `pixverse journal status` shows "
        "the whole batch",
    )
    batch.add_argument("--out", metavar="DIR", help="save successful videos to DIR/<id>.mp4")
    batch.add_argument(
        "--skip-invalid",
        action="store_true",
        help="run the valid lines when some are bad (each bad line is reported and skipped; "
        "the exit status is 1)",
    )
    batch.add_argument(
        "--retry-failed",
        action="store_true",
        help="submit again the requests the journal records as failed (new, paid generations)",
    )
    batch.add_argument(
        "--retry-unknown",
        action="store_true",
        help="send again the requests whose outcome is unknown, each under its own trace id: "
        "PixVerse answers with the video the first send created, if any, so none is paid twice "
        "(unless the batch ran with --no-resend against a service that does not do so)",
    )
    batch.add_argument(
        "--max-credits",
        type=credits,
        metavar="N",
        help="spending cap: never send a request that could take the batch's spend (charged "
        "minus refunded, earlier runs of the journal included; with a PostgreSQL journal, "
        "every worker's of the batch) over N credits; the rest end "
        "not submitted (rerun with a higher cap to continue). Costs are estimated from "
        "earlier costs, then --prices, then PixVerse's published prices; a request none of "
        "them prices is not sent (see --allow-unpriced)",
    )
    batch.add_argument(
        "--allow-unpriced",
        action="store_true",
        help="with --max-credits: send one request of each kind nothing can price, alone, to "
        "learn its price (each may take the spend over the cap by what it costs beyond what is "
        "left; said before the batch starts and in the summary)",
    )
    add_dry_run_arguments(batch)
    add_gallery_arguments(batch)
    batch.set_defaults(run=run_batch)
