"""Running many requests through the job runner, with live progress, downloads and a summary.

Shared by ``pixverse batch`` and ``pixverse demo``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterable, Callable, Iterable
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
#: Past the full table, at most this many reports that did not succeed are listed.
LISTED_AT_MOST = 1000
_DOWNLOADS_AT_ONCE = 4
#: Downloads waiting for a slot at most; the run's outcomes wait beyond that.
_SAVES_QUEUED = 64
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


@attrs.define
class RunReport:
    """What :func:`run_jobs` keeps of a run: the counts of every report, and the reports a
    summary lists (the first :data:`FULL_TABLE_LIMIT`, and those that did not succeed, up to
    :data:`LISTED_AT_MOST`), not one per request: a batch of 100,000 lines keeps a few."""

    total: int = 0
    states: dict[str, int] = attrs.Factory(lambda: {s.value: 0 for s in OutcomeState})
    resumed: int = 0
    downloaded: int = 0
    download_failed: int = 0
    charged: int = 0
    refunded: int = 0
    #: Requests of the input another worker (or an earlier run) ended, not reported here.
    elsewhere: int = 0
    listed: list[JobReport] = attrs.Factory(list)
    #: Reports that did not succeed and were not kept (past :data:`LISTED_AT_MOST`).
    unlisted_failures: int = 0

    @property
    def ok(self) -> bool:
        """Every report succeeded (and was downloaded when asked)."""
        return self.states["succeeded"] == self.total and not self.download_failed

    def add(self, report: JobReport) -> None:
        """Count ``report`` (its download done), keeping it if a summary may list it."""
        outcome = report.outcome
        self.total += 1
        self.states[outcome.state.value] += 1
        self.resumed += outcome.resumed
        self.downloaded += report.path is not None
        self.download_failed += report.download_error is not None
        self.charged += outcome.credits or 0
        self.refunded += outcome.credits_refunded
        if self.total <= FULL_TABLE_LIMIT:
            self.listed.append(report)
            return
        if self.total == FULL_TABLE_LIMIT + 1:  # past the limit only failures are listed
            self.listed = [r for r in self.listed if not r.ok]
        if report.ok:
            return
        if len(self.listed) < LISTED_AT_MOST:
            self.listed.append(report)
        else:
            self.unlisted_failures += 1

    def totals(self) -> dict[str, int]:
        """Counts by state, plus resumed and saved files, and credits charged, refunded and
        spent (what the journal recorded for resumed requests included)."""
        return {
            "total": self.total,
            **self.states,
            "resumed": self.resumed,
            "downloaded": self.downloaded,
            "download_failed": self.download_failed,
            "credits_charged": self.charged,
            "credits_refunded": self.refunded,
            "credits_spent": self.charged - self.refunded,
        }


async def run_jobs(
    client: PixVerse,
    requests: Iterable[Any] | AsyncIterable[Any],
    line_of: Callable[[int], int],
    *,
    total: int,
    skipped: int = 0,
    out: Path | None,
    concurrency: int,
    journal: Journal | str | os.PathLike[str] | None,
    as_json: bool,
    max_credits: int | None = None,
    costs: CostEstimator | None = None,
    allow_unpriced: bool = False,
    report: str = "all",
) -> RunReport:
    """Run ``requests`` (``total`` of them, ``skipped`` of which are not given: another
    worker or an earlier run finished them; request ``i`` is labelled line ``line_of(i)``)
    and return what a summary needs of their reports.

    ``requests`` are read as the run goes (an iterator is not turned into a list), and no
    report is kept beyond what the summary lists: memory follows what is in flight, not the
    number of requests. ``max_credits``, ``costs`` and ``allow_unpriced`` are the runner's
    spending cap, cost estimator and whether it may pay to learn a price; ``report`` the
    runner's (``"own"``: on a PostgreSQL journal, only what this worker ended).

    With ``out``, successful videos are saved there as ``<video_id>.mp4`` while the rest
    still run. With ``as_json``, one JSON line per job is printed as it ends.
    """
    bar = BatchProgress(total, elsewhere=skipped)
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
    result = RunReport()
    pending: set[asyncio.Task[None]] = set()

    def done(report: JobReport) -> None:
        result.add(report)
        if as_json:
            bar.clear()
            print(dumps(report.record()), flush=True)

    async def save(report: JobReport) -> None:
        await _save(client, report, out, slots)  # type: ignore[arg-type]
        done(report)

    redraw = asyncio.create_task(bar.keep_drawn())
    try:
        async with runner.run(requests) as outcomes:
            async for outcome in outcomes:
                if outcome.resumed:
                    bar.resumed()
                job = JobReport(line_of(outcome.index), outcome)
                if out is None or not outcome.ok:
                    done(job)
                    continue
                if len(pending) >= _SAVES_QUEUED:  # downloads behind: let them catch up
                    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                task = asyncio.create_task(save(job))
                pending.add(task)
                task.add_done_callback(pending.discard)
            result.elsewhere = skipped + outcomes.progress.elsewhere
        if pending:
            await asyncio.gather(*pending)
    finally:
        left = [redraw, *pending]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        bar.close()
    return result


def print_summary(result: RunReport, *, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    """The summary table and totals on stdout (or, with ``as_json``, one summary object)."""
    totals = {**result.totals(), **(extra or {})}
    if as_json:
        print(dumps({"summary": totals}), flush=True)
        return
    shown = sorted(result.listed, key=lambda r: r.line)
    if shown:
        columns = ["line", "kind", "prompt", "state", "video_id", "credits", "file / error"]
        print(format_table(columns, [r.row() for r in shown]))
    if result.unlisted_failures:
        print(f"({result.unlisted_failures} more that did not succeed not listed; --json lists "
              "all)")  # fmt: skip
    if len(shown) + result.unlisted_failures < result.total:
        print(
            f"({result.total - len(shown) - result.unlisted_failures} successful jobs not "
            "listed; --json lists all)"
        )
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
