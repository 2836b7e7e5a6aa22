"""Running many requests through the job runner, with live progress, downloads and a summary.

Shared by ``pixverse batch`` and ``pixverse demo``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ..batch.costs import CostEstimator
from ..batch.runner import Outcome, OutcomeState
from ..client import PixVerse
from ..errors import PixVerseError
from ..journal import Journal
from .errors import describe
from .output import dumps
from .progress import BatchProgress
from .table import format_table

#: Past this many jobs the summary table lists only those that did not succeed.
FULL_TABLE_LIMIT = 50
_DOWNLOADS_AT_ONCE = 4
_PROMPT_WIDTH = 32


@attrs.define
class JobReport:
    """One request's end: its outcome and, with ``--out``, the file written."""

    line: int
    outcome: Outcome
    path: Path | None = None
    download_error: str | None = None

    @property
    def ok(self) -> bool:
        """Succeeded, and downloaded when a download was asked for."""
        return self.outcome.ok and self.download_error is None

    @property
    def kind(self) -> str:
        return str(getattr(self.outcome.request, "kind", "?"))

    @property
    def error(self) -> str | None:
        o = self.outcome
        if o.error is not None:
            return describe(o.error)
        if o.error_type:
            return f"{o.error_type}: {o.error_message}"
        return self.download_error

    def record(self) -> dict[str, Any]:
        """The report as plain data (one ``--json`` line)."""
        video = self.outcome.video
        return {
            "line": self.line,
            "kind": self.kind,
            "state": self.outcome.state.value,
            "video_id": self.outcome.video_id,
            "url": video.url if video is not None else None,
            "path": str(self.path) if self.path is not None else None,
            "error": self.error,
            "resumed": self.outcome.resumed,
            "credits": self.outcome.credits,
            "credits_refunded": self.outcome.credits_refunded,
        }

    def row(self) -> dict[str, Any]:
        """The report as a summary-table row."""
        prompt = getattr(self.outcome.request, "prompt", None) or ""
        if len(prompt) > _PROMPT_WIDTH:
            prompt = prompt[: _PROMPT_WIDTH - 1] + "…"
        state = self.outcome.state.value + (" (resumed)" if self.outcome.resumed else "")
        if self.outcome.ok and self.download_error:
            state = "download failed"
        return {
            "line": self.line,
            "kind": self.kind,
            "prompt": prompt,
            "state": state,
            "video_id": self.outcome.video_id,
            "credits": _credits_cell(self.outcome),
            "file / error": str(self.path) if self.ok and self.path else self.error,
        }


def _credits_cell(outcome: Outcome) -> str | int | None:
    if outcome.credits_refunded:
        return f"{outcome.credits} (refunded)"
    return outcome.credits


async def _save(client: PixVerse, report: JobReport, out: Path, slots: asyncio.Semaphore) -> None:
    outcome = report.outcome
    assert outcome.video_id is not None
    dest = out / f"{outcome.video_id}.mp4"
    if await asyncio.to_thread(dest.exists):  # downloaded by an earlier, interrupted run
        report.path = dest
        return
    async with slots:
        try:
            report.path = await client.videos.download(outcome.video or outcome.video_id, dest)
        except (PixVerseError, OSError) as exc:
            report.download_error = describe(exc)


async def run_jobs(
    client: PixVerse,
    requests: Sequence[Any],
    lines: Sequence[int],
    *,
    out: Path | None,
    concurrency: int,
    journal: Journal | str | os.PathLike[str] | None,
    as_json: bool,
    max_credits: int | None = None,
    costs: CostEstimator | None = None,
    allow_unpriced: bool = False,
    report: str = "all",
) -> list[JobReport]:
    """Run ``requests`` (``lines[i]`` labels request ``i``); return reports in input order.

    ``max_credits``, ``costs`` and ``allow_unpriced`` are the runner's spending cap, cost
    estimator and whether it may pay to learn a price; ``report`` the runner's (``"own"``:
    on a PostgreSQL journal, only what this worker ended).

    With ``out``, successful videos are saved there as ``<video_id>.mp4`` while the rest
    still run. With ``as_json``, one JSON line per job is printed as it ends.
    """
    bar = BatchProgress(len(requests))
    runner = client.runner(
        concurrency=concurrency,
        journal=journal,
        on_progress=bar.update,
        max_credits=max_credits,
        costs=costs,
        allow_unpriced=allow_unpriced,
        report=report,
    )
    slots = asyncio.Semaphore(_DOWNLOADS_AT_ONCE)
    if out is not None:
        await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    reports: list[JobReport] = []
    pending: set[asyncio.Task[None]] = set()

    async def finish(report: JobReport) -> None:
        if out is not None and report.outcome.ok:
            await _save(client, report, out, slots)
        reports.append(report)
        if as_json:
            bar.clear()
            print(dumps(report.record()), flush=True)

    redraw = asyncio.create_task(bar.keep_drawn())
    try:
        async with runner.run(requests) as outcomes:
            async for outcome in outcomes:
                if outcome.resumed:
                    bar.resumed()
                task = asyncio.create_task(finish(JobReport(lines[outcome.index], outcome)))
                pending.add(task)
                task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
    finally:
        left = [redraw, *pending]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        bar.close()
    reports.sort(key=lambda r: r.line)
    return reports


def summary(reports: Sequence[JobReport]) -> dict[str, int]:
    """Counts by state, plus resumed and saved files, and credits charged, refunded and spent
    (what the journal recorded for resumed requests included)."""
    counts = {state.value: 0 for state in OutcomeState}
    for r in reports:
        counts[r.outcome.state.value] += 1
    charged = sum(r.outcome.credits or 0 for r in reports)
    refunded = sum(r.outcome.credits_refunded for r in reports)
    return {
        "total": len(reports),
        **counts,
        "resumed": sum(r.outcome.resumed for r in reports),
        "downloaded": sum(r.path is not None for r in reports),
        "download_failed": sum(r.download_error is not None for r in reports),
        "credits_charged": charged,
        "credits_refunded": refunded,
        "credits_spent": charged - refunded,
    }


def print_summary(
    reports: Sequence[JobReport], *, as_json: bool, extra: dict[str, Any] | None = None
) -> None:
    """The summary table and totals on stdout (or, with ``as_json``, one summary object)."""
    totals = {**summary(reports), **(extra or {})}
    if as_json:
        print(dumps({"summary": totals}), flush=True)
        return
    shown = list(reports)
    if len(reports) > FULL_TABLE_LIMIT:
        shown = [r for r in reports if not r.ok]
    if shown:
        columns = ["line", "kind", "prompt", "state", "video_id", "credits", "file / error"]
        print(format_table(columns, [r.row() for r in shown]))
    if len(shown) < len(reports):
        print(f"({len(reports) - len(shown)} successful jobs not listed; --json lists all)")
    text = (
        f"{totals['total']} jobs: {totals['succeeded']} succeeded, {totals['failed']} failed, "
        f"{totals['unknown']} unknown"
    )
    if totals["not_submitted"]:
        text += f", {totals['not_submitted']} not submitted"
    if totals["resumed"]:
        text += f" ({totals['resumed']} from the journal)"
    if totals["downloaded"] or totals["download_failed"]:
        text += f"; {totals['downloaded']} saved"
        if totals["download_failed"]:
            text += f", {totals['download_failed']} downloads failed"
    print(text)
    print(
        f"credits: {totals['credits_spent']} spent ({totals['credits_charged']} charged, "
        f"{totals['credits_refunded']} refunded)"
    )
    if totals["not_submitted"]:
        print(
            "not submitted: the spending cap or the balance stopped them, nothing was charged "
            "for them; run again with the same journal (and a higher --max-credits, or after a "
            "top-up) to continue",
            file=sys.stderr,
        )
    if totals["unknown"]:
        print(
            "unknown: sent, but whether the service created the video is unknown; it is never "
            "resubmitted automatically. Check your PixVerse dashboard before sending it again.",
            file=sys.stderr,
        )
