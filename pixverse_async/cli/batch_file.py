"""The JSON Lines file of ``pixverse batch``: checked whole before anything is sent, then read
again as the run goes, so that neither the file nor its requests are held in memory.

:func:`check_file` reads every line once and keeps only what the rest of the command needs:
the number of requests, the bad lines (number and reason) and where the skipped lines are
(to label request ``i`` with its line number). :meth:`BatchFile.requests` then reads the file a
second time, one request at a time, for the runner, which takes them as it has room. What
cannot be read twice (a pipe, ``<(command)``) is kept in memory as bytes.

Example::

    batch = check_file(Path("jobs.jsonl"))
    for number, reason in batch.bad:
        print(f"jobs.jsonl:{number}: {reason}")
    for index, request in enumerate(batch.requests()):
        print(batch.line_of(index), request.kind)
"""

from __future__ import annotations

import asyncio
import bisect
import io
import itertools
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from ..batch.intake import Occurrences
from ..errors import ValidationError
from ..journal import request_key
from ..journal.finished import FinishedKeys
from ..models import REQUEST_KINDS, GenerationRequest, build_request, to_json
from .errors import UsageError
from .options import CLI_KINDS, GENERATE_KINDS

__all__ = ["BatchFile", "check_file", "parse_line"]


def parse_line(data: Any) -> GenerationRequest:
    """The request one parsed line of the file describes (``kind`` may be a ``generate``
    name); raises :class:`ValidationError`."""
    if isinstance(data, dict):
        kind = data.get("kind")
        if kind in GENERATE_KINDS:
            data = {**data, "kind": GENERATE_KINDS[kind]}
        elif kind not in CLI_KINDS:  # build_request explains mask_selection
            rule = (
                f"must be one of {', '.join(GENERATE_KINDS)} "
                f"(or a request kind: {', '.join(REQUEST_KINDS)})"
            )
            raise ValidationError("kind", ("missing: " if kind is None else "") + rule, kind)
    return build_request(data)


@attrs.define
class BatchFile:
    """A JSON Lines file of requests as checked: how many are valid, every bad line, and
    where the lines that are not requests are (nothing per request)."""

    path: Path
    #: How many lines are valid requests.
    count: int = 0
    #: ``(line number, reason)`` of every line that is not a valid request.
    bad: list[tuple[int, str]] = attrs.Factory(list)
    # Request i is on line i + 1 + _shifts[j], j the last with _starts[j] <= i: one pair per
    # run of requests that follows a skipped line (blank, comment, bad).
    _starts: list[int] = attrs.Factory(list)
    _shifts: list[int] = attrs.Factory(list)
    _stamp: tuple[int, int] = (0, 0)
    # The file's bytes when it cannot be read twice (a pipe: ``<(...)``); None for a file.
    _data: bytes | None = None
    #: Requests the journal held as finished when the file was checked (with a lookup).
    finished: int = 0
    #: Whether the run may take the unfinished requests first (:meth:`requests`): some are
    #: finished, and no request is listed twice (whose journal keys follow the input's order).
    split: bool = False
    # The finished requests as runs of indices: run r starts at _run_start[r], has
    # _run_before[r] finished requests before it and _run_open[r] unfinished ones.
    _run_start: list[int] = attrs.Factory(list)
    _run_before: list[int] = attrs.Factory(list)
    _run_open: list[int] = attrs.Factory(list)
    _run_end: int = -1
    _split_run: bool = False  # requests(split=True) gave them in that order

    def line_of(self, index: int) -> int:
        """The line number of request ``index`` (counted from 0, valid requests only)."""
        return index + 1 + self._shifts[bisect.bisect_right(self._starts, index) - 1]

    def run_line(self, position: int) -> int:
        """The line number of the request a run got at ``position`` from
        :meth:`requests` (``split`` as given there)."""
        return self.line_of(self._index(position) if self._split_run else position)

    def _index(self, position: int) -> int:
        front = self.count - self.finished
        if position < front:  # the unfinished, in order, then every finished one
            runs = bisect.bisect_right(self._run_open, position)
            before = self._run_before[runs] if runs < len(self._run_before) else self.finished
            return position + before
        rank = position - front
        run = bisect.bisect_right(self._run_before, rank) - 1
        return self._run_start[run] + rank - self._run_before[run]

    def requests(
        self, *, split: bool = False, finished: bool = True
    ) -> Iterator[GenerationRequest]:
        """The valid requests, read from the file again one at a time (the bad lines
        skipped). With ``split`` (and :attr:`split`), those the journal did not hold as
        finished come first, then the finished ones (unless not ``finished``: a run that
        would only count them); :meth:`run_line` then labels them. Raises
        :class:`UsageError` if the file changed since it was checked."""
        if not (split and self.split):
            return self._read(lambda index: True)
        self._split_run = True
        starts = self._run_start
        nexts = [*self._run_before[1:], self.finished]
        ends = [s + n - b for s, n, b in zip(starts, nexts, self._run_before, strict=True)]

        def done(index: int) -> bool:
            run = bisect.bisect_right(starts, index) - 1
            return run >= 0 and index < ends[run]

        unfinished = self._read(lambda index: not done(index))
        return itertools.chain(unfinished, self._read(done)) if finished else unfinished

    def _read(self, wanted: Callable[[int], bool]) -> Iterator[GenerationRequest]:
        if self._data is None and _stamp(self.path) != self._stamp:
            raise UsageError(f"{self.path} changed while the batch was starting; run it again")
        bad = {number for number, _ in self.bad}
        index = -1
        for number, line in _lines(self.path, self._data):
            if number in bad:
                continue
            index += 1
            if not wanted(index):
                continue
            try:
                yield parse_line(json.loads(line))
            except ValueError as exc:
                raise UsageError(
                    f"{self.path}:{number}: changed while the batch ran: {exc}"
                ) from None

    def _add_finished(self) -> None:
        """Request :attr:`count` (about to be added) is finished in the journal."""
        if self._run_end != self.count:
            self._run_start.append(self.count)
            self._run_before.append(self.finished)
            self._run_open.append(self.count - self.finished)
        self._run_end = self.count + 1
        self.finished += 1

    def _add(self, number: int) -> None:
        shift = number - 1 - self.count
        if not self._shifts or self._shifts[-1] != shift:
            self._starts.append(self.count)
            self._shifts.append(shift)
        self.count += 1


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _stamp(path: Path) -> tuple[int, int]:
    st = _stat(path)
    return st.st_size, st.st_mtime_ns


def _lines(path: Path, data: bytes | None = None) -> Iterator[tuple[int, str]]:
    """``(number, text)`` of each line that is not blank or a ``#`` comment, numbered as
    :meth:`str.splitlines` numbers them (from ``data``, the file's bytes, if given); a line
    that is not UTF-8 raises :class:`UsageError`."""
    try:
        f = io.BytesIO(data) if data is not None else path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    number = 0
    with f:
        for raw in f:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError(
                    f"{path}:{number + 1}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                    "save the file as UTF-8"
                ) from None
            for line in text.splitlines() or [""]:
                number += 1
                line = line.strip()
                if line and not line.startswith("#"):
                    yield number, line


async def check_file(path: Path, done: FinishedKeys | None = None) -> BatchFile:
    """Check every line of a JSON Lines file; nothing is sent, no request is kept.

    A file that cannot be read raises :class:`UsageError`; bad lines are collected (all of
    them, not only the first) for the caller to report. With ``done`` (what the batch's
    journal holds as finished), a line whose request finished is known valid without being
    built, and noted (8 bytes a line; see :meth:`BatchFile.requests`).
    """
    st = _stat(path)
    if stat.S_ISREG(st.st_mode):
        batch = BatchFile(path, stamp=(st.st_size, st.st_mtime_ns))
    else:  # a pipe is read once: its bytes are kept for the run
        try:
            batch = BatchFile(path, data=await asyncio.to_thread(path.read_bytes))
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    seen = Occurrences()
    repeated = False  # a request is listed twice: the run keeps the file's order

    for number, line in _lines(path, batch._data):
        try:
            data = json.loads(line)
        except ValueError as exc:
            batch.bad.append((number, f"not valid JSON: {exc}"))
            continue
        key = _raw_key(data) if done is not None else None
        if key is None or done is None or key not in done:
            request = _check(batch, number, data)
            if request is None:
                continue
            if done is not None:
                key = request_key(request.kind, to_json(request))
        else:  # the journal holds it: valid, and finished
            batch._add_finished()
        batch._add(number)
        if key is not None and seen.add(key):
            repeated = True
    batch.split = bool(batch.finished) and not repeated
    return batch


def _check(batch: BatchFile, number: int, data: Any) -> GenerationRequest | None:
    try:
        return parse_line(data)
    except ValueError as exc:
        what = "ValidationError" if isinstance(exc, ValidationError) else "not valid JSON"
        batch.bad.append((number, f"{what}: {exc}"))
        return None


def _raw_key(data: Any) -> str | None:
    """The journal key of a line written as its request's body (``kind`` plus the fields
    the request sends, as most files are): the key the journal has if it holds the request.
    None when the line cannot be one (not an object, an unknown kind, a value JSON cannot
    key)."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    kind = GENERATE_KINDS.get(kind, kind) if isinstance(kind, str) else None
    if kind not in CLI_KINDS:
        return None
    try:
        return request_key(kind, {k: v for k, v in data.items() if k != "kind"})
    except (TypeError, ValueError):
        return None
