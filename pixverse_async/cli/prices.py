"""``--prices FILE.json``: prices for cost estimates, written as a list of rules.

The format of PixVerse's published table (:mod:`pixverse_async.price_rules`, which the
estimates use anyway): each rule matches any of ``kind``, ``model``, ``quality``,
``duration`` and ``when`` (body fields) and gives ``credits``, ``per_second`` or ``per_text``;
``"add": true`` makes it a surcharge. The file's rules are tried before the published table,
so they extend it, or override it where they match (a last rule with only ``credits`` prices
everything the file does not, so the table is never reached)::

    [
      {"model": "v5", "quality": "540p", "duration": 5, "credits": 30},
      {"kind": "text_to_video", "quality": "1080p", "credits": 80},
      {"model": "v6", "quality": "720p", "per_second": 9},
      {"credits": 100}
    ]
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ValidationError
from ..price_rules import PriceRules
from .errors import UsageError


def load_prices(path: str | Path) -> PriceRules:
    """The price rules in ``path`` (see the module docstring)."""
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {where}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{where}: not valid JSON: {exc}") from None
    try:
        return PriceRules.from_data(data, where)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None
