"""``pixverse batch FILE.jsonl --dry-run``: what a batch holds and may cost, before paying.

Every line is checked as the batch itself checks it; nothing is submitted. It prints how
many requests there are of each kind, model, quality and duration, the estimate of their
cost where one is known (the highest cost the journal recorded for the same kind, model,
quality and duration, else the ``--prices`` rules), and the account balance (one read).
With ``--max-credits``, it says when the cap is above the balance (the balance, not the
cap, would stop the batch) and when the estimate is above the cap (the cap would).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ..client import PixVerse
from ..costs import CostEstimator, CostKey, cost_key
from ..errors import PixVerseError
from ..journal_entries import read_entries
from ..models import GenerationRequest, to_json
from .connect import open_client
from .errors import EXIT_OK, describe
from .output import dumps, wants_json
from .prices import load_prices
from .table import format_table


@attrs.define
class Group:
    """The requests of one kind, model, quality and duration, and what they may cost."""

    key: CostKey
    requests: int = 0
    estimate: int = 0
    unpriced: int = 0
    prices: set[int] = attrs.field(factory=set)

    def record(self) -> dict[str, Any]:
        """The group as plain data: ``credits_each`` is a number, ``[low, high]`` or None."""
        kind, model, quality, duration = self.key
        each: int | list[int] | None = None
        if self.prices:
            low, high = min(self.prices), max(self.prices)
            each = low if low == high else [low, high]
        return {
            "kind": kind,
            "model": model,
            "quality": quality,
            "duration": duration,
            "requests": self.requests,
            "credits_each": each,
            "estimate": self.estimate if not self.unpriced else None,
        }

    def row(self) -> dict[str, Any]:
        """The group as a table row."""
        record = self.record()
        each = record.pop("credits_each")
        record["each"] = f"{each[0]}-{each[1]}" if isinstance(each, list) else each
        return record


def add_arguments(batch: argparse.ArgumentParser) -> None:
    """The batch command's ``--dry-run`` and ``--prices`` options."""
    batch.add_argument(
        "--dry-run",
        action="store_true",
        help="check every line and print counts, a cost estimate and the balance; send nothing",
    )
    batch.add_argument(
        "--prices",
        metavar="FILE.json",
        help="price rules for cost estimates, tried before PixVerse's published prices: a JSON "
        "list of {kind, model, quality, duration, when} objects with credits, per_second or "
        "per_text, first match wins (see README, 'What a batch will cost')",
    )


async def _estimator(args: argparse.Namespace, journal: str) -> tuple[CostEstimator, int]:
    """An estimator from ``--prices`` and the journal's earlier costs; how many were seen."""
    estimator = CostEstimator(price=load_prices(args.prices) if args.prices else None)
    try:
        entries = await read_entries(journal)
    except FileNotFoundError:
        return estimator, 0
    known = [(e.kind, e.body, e.credits) for e in entries if e.credits is not None]
    estimator.observe_all(known)
    return estimator, len(known)


def group_requests(requests: Sequence[GenerationRequest], estimator: CostEstimator) -> list[Group]:
    """The requests grouped by kind, model, quality and duration, each with its estimate."""
    groups: dict[CostKey, Group] = {}
    for request in requests:
        body = to_json(request)
        key = cost_key(request.kind, body)
        group = groups.setdefault(key, Group(key))
        group.requests += 1
        price = estimator.estimate(request.kind, body)
        if price is None:
            group.unpriced += 1
        else:
            group.estimate += price
            group.prices.add(price)
    return sorted(groups.values(), key=lambda g: tuple(str(part) for part in g.key))


async def _balance(args: argparse.Namespace) -> tuple[dict[str, int | None] | None, str | None]:
    try:
        async with open_client(args) as client:
            balance = await client.account.balance()
    except PixVerseError as exc:
        return None, describe(exc)
    monthly, package = balance.credit_monthly, balance.credit_package
    return {"credit_monthly": monthly, "credit_package": package}, None


async def warn_if_cap_above_balance(client: PixVerse, cap: int) -> None:
    """Before a capped batch starts: say on stderr when the balance (one read) is below the
    cap, so the balance, not the cap, may stop it. A balance that cannot be read is said too."""
    try:
        balance = await client.account.balance()
    except PixVerseError as exc:
        print(f"warning: the balance could not be read ({describe(exc)})", file=sys.stderr)
        return
    left = (balance.credit_monthly or 0) + (balance.credit_package or 0)
    for warning in _warnings(cap, 0, 0, left, False):
        print(f"warning: {warning}", file=sys.stderr)


async def run_dry_run(
    args: argparse.Namespace,
    path: Path,
    requests: Sequence[GenerationRequest],
    journal: str,
    lines: Sequence[int] | None = None,
) -> int:
    """Print what the batch in ``path`` holds and may cost, and the balance; send nothing.
    ``lines[i]`` is request ``i``'s line in the file (the lines nothing prices are listed)."""
    estimator, seen = await _estimator(args, journal)
    groups = group_requests(requests, estimator)
    numbers = lines if lines is not None else range(1, len(requests) + 1)
    unpriced_lines = [
        n for n, r in zip(numbers, requests, strict=True)
        if estimator.estimate(r.kind, to_json(r)) is None
    ]  # fmt: skip
    unpriced = sum(g.unpriced for g in groups)
    estimate = sum(g.estimate for g in groups)
    balance, balance_error = await _balance(args)
    left = None
    if balance is not None:
        left = sum(v or 0 for v in balance.values())
    report: dict[str, Any] = {
        "file": str(path),
        "requests": len(requests),
        "groups": [g.record() for g in groups],
        "estimate": estimate if not unpriced else None,
        "estimate_known_part": estimate,
        "unpriced": unpriced,
        "unpriced_lines": unpriced_lines,
        "costs_from_journal": seen,
        "balance": balance,
        "balance_total": left,
        "balance_error": balance_error,
        "max_credits": args.max_credits,
        "warnings": _warnings(
            args.max_credits, estimate, unpriced, left, getattr(args, "allow_unpriced", False)
        ),
    }
    if wants_json(args):
        print(dumps({"dry_run": report}), flush=True)
    else:
        _print_report(report, groups)
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _warnings(
    cap: int | None, estimate: int, unpriced: int, left: int | None, allow_unpriced: bool
) -> list[str]:
    """What may stop the batch before its end (the balance, the cap), and what may take it
    over its cap."""
    warnings = []
    if cap is not None and unpriced and allow_unpriced:
        warnings.append(
            f"{unpriced} request(s) have no known price and --allow-unpriced sends one of each "
            f"kind alone to learn it: the spend may go over the cap ({cap}) by what they cost "
            "beyond what is left"
        )
    elif cap is not None and unpriced:
        warnings.append(
            f"{unpriced} request(s) have no known price: under the spending cap they are not "
            "sent (give their prices with --prices FILE, or --allow-unpriced to pay to learn "
            "them)"
        )
    at_least = "at least " if unpriced else ""
    if left is not None and estimate > left:
        warnings.append(
            f"the estimated cost ({at_least}{estimate}) is above the balance ({left}); "
            "the batch would run out of credits"
        )
    if cap is not None and left is not None and cap > left:
        warnings.append(
            f"the spending cap ({cap}) is above the balance ({left}): the balance, not the "
            "cap, may stop the batch (what is not sent ends not submitted)"
        )
    if cap is not None and estimate > cap:
        warnings.append(
            f"the estimated cost ({at_least}{estimate}) is above the spending cap ({cap}): "
            "the cap will stop the batch before its end"
        )
    return warnings


def _print_report(report: dict[str, Any], groups: Sequence[Group]) -> None:
    columns = ["kind", "model", "quality", "duration", "requests", "each", "estimate"]
    print(format_table(columns, [g.row() for g in groups]))
    n, unpriced, estimate = report["requests"], report["unpriced"], report["estimate_known_part"]
    if not unpriced:
        text = f"{n} requests, estimated cost {estimate} credits"
    elif unpriced == n:
        text = f"{n} requests, no cost estimate (give --prices, or run some of them first)"
    else:
        text = (
            f"{n} requests, estimated cost at least {estimate} credits "
            f"({unpriced} without an estimate: give --prices, or run some of them first)"
        )
    if report["costs_from_journal"]:
        text += f"; {report['costs_from_journal']} earlier costs from the journal"
    if report["max_credits"] is not None:
        text += f"; spending cap {report['max_credits']} credits"
    if report["unpriced_lines"]:
        text += "\nno price for line(s) " + ", ".join(map(str, report["unpriced_lines"]))
    print(text)
    balance = report["balance"]
    if balance is None:
        print(f"balance: not read ({report['balance_error']})")
    else:
        print(
            f"balance: {report['balance_total']} credits (monthly {balance['credit_monthly']}, "
            f"package {balance['credit_package']})"
        )
    print("dry run: nothing was sent")
