"""``--prices FILE.json``: a price function for cost estimates, written as a list of rules.

Each rule is an object with ``credits`` and any of ``kind``, ``model``, ``quality`` and
``duration``; a request costs the ``credits`` of the first rule whose given fields all match
it (a rule with only ``credits`` matches everything)::

    [
      {"model": "v5", "quality": "540p", "duration": 5, "credits": 30},
      {"kind": "text_to_video", "quality": "1080p", "credits": 80},
      {"credits": 100}
    ]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..costs import PriceFunction, cost_key
from .errors import UsageError

_MATCHED = ("kind", "model", "quality", "duration")


def _rule(index: int, rule: Any, where: str) -> tuple[dict[str, Any], int]:
    if not isinstance(rule, dict):
        raise UsageError(f"{where}: rule {index}: must be an object")
    unknown = set(rule) - {"credits", *_MATCHED}
    if unknown:
        raise UsageError(f"{where}: rule {index}: unknown field {sorted(unknown)[0]!r}")
    credits = rule.get("credits")
    if isinstance(credits, bool) or not isinstance(credits, int) or credits < 0:
        raise UsageError(f"{where}: rule {index}: credits must be an integer >= 0")
    return {k: v for k, v in rule.items() if k != "credits"}, credits


def load_prices(path: str | Path) -> PriceFunction:
    """The price function the rules in ``path`` describe (see the module docstring)."""
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {where}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise UsageError(f"{where}: must be a JSON list of rules")
    rules = [_rule(i, rule, where) for i, rule in enumerate(data)]

    def price(kind: str, body: Mapping[str, Any]) -> int | None:
        fields = dict(zip(_MATCHED, cost_key(kind, body), strict=True))
        for wanted, credits in rules:
            if all(fields[k] == v for k, v in wanted.items()):
                return credits
        return None

    return price
