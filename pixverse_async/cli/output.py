"""Printing results to stdout: aligned tables for people, JSON lines with ``--json``."""

from __future__ import annotations

import argparse
import enum
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..models import Video
from .table import format_fields, format_table


def _json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


def dumps(record: Any) -> str:
    """One JSON line."""
    return json.dumps(record, default=_json_default, ensure_ascii=False)


def wants_json(args: argparse.Namespace) -> bool:
    """Whether ``--json`` was given."""
    return bool(getattr(args, "json", False))


def show_object(args: argparse.Namespace, record: Mapping[str, Any]) -> None:
    """One result: a JSON object, or a ``field  value`` listing."""
    print(dumps(dict(record)) if wants_json(args) else format_fields(record), flush=True)


def show_rows(
    args: argparse.Namespace, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Many results: one JSON object per line, or an aligned table."""
    if wants_json(args):
        for row in rows:
            print(dumps(dict(row)))
    else:
        print(format_table(columns, rows))


def video_record(video: Video) -> dict[str, Any]:
    """A video's state as plain data (``status`` by name, e.g. ``successful``)."""
    return {
        "video_id": video.id,
        "status": str(video.status),
        "status_code": int(video.status),
        "url": video.url or None,
        "width": video.output_width or None,
        "height": video.output_height or None,
        "size": video.size or None,
        "seed": video.seed,
        "prompt": video.prompt or None,
        "create_time": video.create_time or None,
        "modify_time": video.modify_time or None,
    }
