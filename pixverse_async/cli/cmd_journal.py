"""``pixverse journal status|requeue``: look into a batch's journal and act on one request.

``status`` prints how many requests are in each state and, on PostgreSQL, what each worker of
the batch holds (all batches of the schema when ``--batch`` is not given). ``requeue KEY``
moves an UNKNOWN (or FAILED) request back to pending: the next ``pixverse batch`` run sends it
again. An UNKNOWN one is sent under its own trace id, which PixVerse answers with the video the
first send created, if any (never paid twice); a FAILED one is a new, paid generation.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..journal import Journal, JournalState, is_postgres_url
from .cmd_batch import add_postgres_options
from .errors import EXIT_OK, UsageError
from .output import show_object, show_rows

_STATES = [state.value for state in JournalState]


def _open(args: argparse.Namespace, batch: str | None) -> Journal:
    if is_postgres_url(args.journal):
        # recover=False: a report or a requeue never takes over another worker's requests.
        return Journal(args.journal, batch=batch, schema=args.journal_schema, recover=False)
    if args.batch or args.journal_schema:
        raise UsageError("--batch and --journal-schema need a postgresql:// --journal")
    if not Path(args.journal).is_file():  # opening it would create an empty journal
        raise UsageError(f"no journal at {args.journal} (a batch creates it: pixverse batch)")
    return Journal(args.journal, recover=False)


async def run_status(args: argparse.Namespace) -> int:
    """Counts per state (per batch), then the workers and what each holds."""
    async with _open(args, args.batch) as journal:
        store = journal.postgres
        if store is None:
            counts = await journal.summary()
            show_object(args, {s.value: counts[s] for s in JournalState})
            return EXIT_OK
        batches = [args.batch] if args.batch else await store.batches()
        rows: list[dict[str, Any]] = []
        workers: list[dict[str, Any]] = []
        for batch in batches:
            counts = await store.summary(batch)
            if not args.batch and not any(counts.values()):
                continue  # e.g. the batch this command registered under to read the schema
            rows.append({"batch": batch, **{s.value: counts[s] for s in JournalState}})
            for w in await store.workers(batch):
                if w.id == store.worker_id or not (w.alive or any(w.held.values())):
                    continue  # this command itself, and workers gone with nothing held
                workers.append(
                    {
                        "batch": batch,
                        "worker": w.id,
                        "alive": w.alive,
                        **{s: w.held.get(JournalState(s), 0) for s in ("pending", "sending",
                                                                        "submitted")},
                    }
                )  # fmt: skip
    show_rows(args, ["batch", *_STATES], rows)
    if workers:
        print()
        show_rows(args, ["batch", "worker", "alive", "pending", "sending", "submitted"], workers)
    return EXIT_OK


async def run_requeue(args: argparse.Namespace) -> int:
    """UNKNOWN or FAILED -> PENDING for one key: the next run sends it again."""
    if is_postgres_url(args.journal) and not args.batch:
        raise UsageError("requeue on a postgresql:// journal needs --batch NAME")
    async with _open(args, args.batch) as journal:
        entry = await journal.requeue(args.key)
    show_object(args, {"key": entry.key, "state": entry.state.value, "kind": entry.kind})
    return EXIT_OK


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``journal status`` and ``journal requeue``."""
    journal = commands.add_parser(
        "journal",
        help="inspect a batch journal, requeue an unknown request",
        description=(__doc__ or "").split("\n\n", 1)[1].strip(),
    )
    actions = journal.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--journal", required=True, metavar="FILE|URL", help="SQLite file or postgresql:// URL"
        )
        add_postgres_options(parser, lease=False)

    status = actions.add_parser(
        "status", parents=[common], help="requests per state, and per worker on PostgreSQL"
    )
    common_options(status)
    status.set_defaults(run=run_status)
    requeue = actions.add_parser(
        "requeue",
        parents=[common],
        help="send an UNKNOWN request again under its trace id, or a FAILED one (paid)",
    )
    requeue.add_argument("key", metavar="KEY", help="the request's journal key")
    common_options(requeue)
    requeue.set_defaults(run=run_requeue)
