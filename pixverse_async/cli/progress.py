"""Live progress on stderr, without a dependency.

On a terminal: one line redrawn in place (carriage return and the ANSI erase-line code).
Elsewhere (a pipe, a log file, CI): a plain line every few seconds and a final one, so logs
stay readable. Progress never goes to stdout, which is kept for results.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from ..batch.runner import Progress

_ERASE = "\r\x1b[K"
_BAR_WIDTH = 20


def format_seconds(seconds: float) -> str:
    """A short duration: ``7s``, ``3m05s``, ``2h10m``.

    >>> format_seconds(7.4), format_seconds(185), format_seconds(7800)
    ('7s', '3m05s', '2h10m')
    """
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def format_bytes(size: float) -> str:
    """A byte count for humans: ``512 B``, ``1.5 MB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class BatchProgress:
    """Counts, a bar and an ETA for a run of ``total`` jobs; pass :meth:`update` as the
    runner's ``on_progress``. Call :meth:`resumed` for each outcome read from the journal
    (they do not count toward the rate), :meth:`clear` before printing to the same
    terminal, and :meth:`close` at the end. ``elsewhere``: requests of the ``total`` that
    another worker or an earlier run finished and the run is not given (shown as done, "by
    others")."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        elsewhere: int = 0,
    ) -> None:
        self.total = total
        self.elsewhere = elsewhere  # done by others before the run, not given to it
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _is_tty(self.stream) if tty is None else tty
        self.interval = interval if interval is not None else (0.1 if self.tty else 5.0)
        self.clock = clock
        self.started = clock()
        self.resumed_count = 0
        self.progress = Progress()
        self._last_draw = -math.inf
        self._drawn = False
        self._closed = False

    def update(self, progress: Progress) -> None:
        """Take the runner's latest counts; redraw when the interval has passed."""
        self.progress = progress
        now = self.clock()
        if now - self._last_draw >= self.interval:
            self._draw(now)

    def resumed(self) -> None:
        """Count one outcome that came from the journal rather than from this run's work."""
        self.resumed_count += 1

    def line(self, now: float | None = None, width: int | None = None) -> str:
        """The progress text as it would be drawn now; with ``width``, the trailing parts
        that do not fit are left out."""
        parts = self._parts(self.clock() if now is None else now)
        text = parts[0]
        for part in parts[1:]:
            if width is not None and len(text) + 2 + len(part) > width:
                break
            text += "  " + part
        return text

    def _parts(self, now: float) -> list[str]:
        p = self.progress
        elsewhere = p.elsewhere + self.elsewhere
        done, total = p.done + elsewhere, max(self.total, 1)
        elapsed = now - self.started
        parts = [f"{done}/{self.total}", format_seconds(elapsed)]
        if self.tty:
            filled = min(_BAR_WIDTH, _BAR_WIDTH * done // total)
            parts.insert(0, "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]")
        fresh = p.done - self.resumed_count
        remaining = self.total - done
        if remaining > 0 and fresh > 0 and elapsed >= 1:
            parts.append("ETA " + format_seconds(elapsed / fresh * remaining))
        counts = f"| ok {p.succeeded}  failed {p.failed}  unknown {p.unknown}"
        if p.not_submitted:
            counts += f"  not submitted {p.not_submitted}"
        if elsewhere:
            counts += f"  by others {elsewhere}"
        parts.append(counts)
        parts.append(f"| running {p.running + p.submitting}  queued {p.queued}")
        if p.lease_wait is not None:
            parts.append(
                f"| a worker died: its requests are taken over in {format_seconds(p.lease_wait)}"
            )
        if p.credits_charged:
            parts.append(f"| credits {p.credits_spent}")
        return parts

    def _draw(self, now: float) -> None:
        self._last_draw = now
        if self.tty:
            text = self.line(now, width=shutil.get_terminal_size().columns - 1)
            self.stream.write(_ERASE + text)
            self._drawn = True
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()

    async def keep_drawn(self) -> None:
        """Redraw every half second (on a terminal) so elapsed time and ETA stay current;
        run it as a task and cancel it at the end."""
        while self.tty:
            await asyncio.sleep(0.5)
            self._draw(self.clock())

    def clear(self) -> None:
        """Erase the bar (on a terminal) so other output starts on a clean line."""
        if self.tty and self._drawn:
            self.stream.write(_ERASE)
            self.stream.flush()
            self._drawn = False
            self._last_draw = -math.inf

    def close(self) -> None:
        """Draw the final counts once and end the line."""
        if self._closed:
            return
        self._closed = True
        self._draw(self.clock())
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class BytesProgress:
    """A ``progress(sent, total)`` callback for uploads and downloads; draws only on a
    terminal (elsewhere a transfer's progress is noise)."""

    def __init__(self, label: str, *, stream: TextIO | None = None, tty: bool | None = None):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _is_tty(self.stream) if tty is None else tty
        self._last = -math.inf

    def __call__(self, done: int, total: int | None) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done != total:
            return
        self._last = now
        if total:
            text = (
                f"{self.label}: {100 * done // total}%  {format_bytes(done)}/{format_bytes(total)}"
            )
        else:
            text = f"{self.label}: {format_bytes(done)}"
        self.stream.write(_ERASE + text)
        self.stream.flush()

    def done(self) -> None:
        """Erase the progress line."""
        if self.tty and self._last != -math.inf:
            self.stream.write(_ERASE)
            self.stream.flush()


class Ticker:
    """``async with Ticker("waiting for video 7")``: an elapsed-time line on a terminal while
    the body runs; nothing elsewhere."""

    def __init__(self, label: str, *, stream: TextIO | None = None, tty: bool | None = None):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _is_tty(self.stream) if tty is None else tty
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        started = time.monotonic()
        while True:
            self.stream.write(f"{_ERASE}{self.label}: {format_seconds(time.monotonic() - started)}")
            self.stream.flush()
            await asyncio.sleep(0.5)

    async def __aenter__(self) -> Ticker:
        if self.tty:
            self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self.stream.write(_ERASE)
            self.stream.flush()
