"""The JSON Lines file of ``pixverse batch``: checked whole before anything is sent, then read
again as the run goes, so that neither the file nor its requests are held in memory.

:func:`check_file` reads every line once and keeps only what the rest of the command needs:
the number of requests, the bad lines (number and reason) and where the skipped lines are
(to label request ``i`` with its line number). :meth:`BatchFile.requests` then reads the file a
second time, one request at a time, for the runner, which takes them as it has room.

Example::

    batch = check_file(Path("jobs.jsonl"))
    for number, reason in batch.bad:
        print(f"jobs.jsonl:{number}: {reason}")
    for index, request in enumerate(batch.requests()):
        print(batch.line_of(index), request.kind)
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from ..errors import ValidationError
from ..models import REQUEST_KINDS, GenerationRequest, build_request
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

    def line_of(self, index: int) -> int:
        """The line number of request ``index`` (counted from 0, valid requests only)."""
        return index + 1 + self._shifts[bisect.bisect_right(self._starts, index) - 1]

    def requests(self) -> Iterator[GenerationRequest]:
        """The valid requests, read from the file again one at a time (the bad lines
        skipped). Raises :class:`UsageError` if the file changed since it was checked."""
        if _stamp(self.path) != self._stamp:
            raise UsageError(f"{self.path} changed while the batch was starting; run it again")
        bad = {number for number, _ in self.bad}
        for number, line in _lines(self.path):
            if number in bad:
                continue
            try:
                yield parse_line(json.loads(line))
            except ValueError as exc:
                raise UsageError(
                    f"{self.path}:{number}: changed while the batch ran: {exc}"
                ) from None

    def _add(self, number: int) -> None:
        shift = number - 1 - self.count
        if not self._shifts or self._shifts[-1] != shift:
            self._starts.append(self.count)
            self._shifts.append(shift)
        self.count += 1


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return st.st_size, st.st_mtime_ns


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(number, text)`` of each line that is not blank or a ``#`` comment, numbered as
    :meth:`str.splitlines` numbers them; a line that is not UTF-8 raises :class:`UsageError`."""
    try:
        f = path.open("rb")
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


def check_file(path: Path) -> BatchFile:
    """Check every line of a JSON Lines file; nothing is sent, no request is kept.

    A file that cannot be read raises :class:`UsageError`; bad lines are collected (all of
    them, not only the first) for the caller to report.
    """
    batch = BatchFile(path, stamp=_stamp(path))
    for number, line in _lines(path):
        try:
            parse_line(json.loads(line))
        except ValueError as exc:  # JSON errors and ValidationError
            what = "ValidationError" if isinstance(exc, ValidationError) else "not valid JSON"
            batch.bad.append((number, f"{what}: {exc}"))
            continue
        batch._add(number)
    return batch
