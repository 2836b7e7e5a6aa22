"""Plain aligned text tables (no dependency): a header, a rule, one line per row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def cell(value: Any) -> str:
    """How one value reads in a table: empty for None, lower-case booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def format_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows (mappings keyed by column) as aligned text; numbers are right-aligned.

    >>> print(format_table(["id", "name"], [{"id": 7, "name": "Harper"}, {"id": 10}]))
    id  name
    --  ------
     7  Harper
    10
    """
    texts = [[cell(row.get(col)) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(t[i]) for t in texts]) for i, col in enumerate(columns)]
    numeric = [bool(rows) and all(_is_number(row.get(col)) for row in rows) for col in columns]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), line(["-" * w for w in widths])]
    out.extend(line(t) for t in texts)
    return "\n".join(out)


def format_fields(record: Mapping[str, Any]) -> str:
    """One object as a two-column ``field  value`` listing (None values left out).

    >>> print(format_fields({"video_id": 42, "status": "successful", "url": None}))
    video_id  42
    status    successful
    """
    items = [(k, cell(v)) for k, v in record.items() if v is not None]
    width = max((len(k) for k, _ in items), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}".rstrip() for k, v in items)
