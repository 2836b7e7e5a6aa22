"""Prices written as rules: the format of the built-in published table and of ``--prices FILE``.

A price list is a JSON list of rules. Each rule matches requests by any of ``kind``,
``model``, ``quality``, ``duration`` and ``when`` (body fields that must equal the given
values, e.g. ``{"motion_mode": "fast"}``) and prices them by exactly one of:

- ``credits``: a flat price;
- ``per_second``: credits per second of the request's ``duration`` (no duration: no price);
- ``per_text``: ``{"field": F, "bytes": B, "credits": C}``: ``C`` credits per started ``B``
  bytes of the UTF-8 text in body field ``F`` (no text: no price).

The first matching rule without ``"add": true`` gives the base price; every matching rule with
``"add": true`` is a surcharge added to it. A request no base rule prices has no price (None).

Example::

    >>> rules = PriceRules.from_data([
    ...     {"model": "v5", "quality": "540p", "duration": 5, "credits": 45},
    ...     {"model": "v6", "quality": "540p", "per_second": 7},
    ...     {"when": {"sound_effect_switch": True}, "duration": 5, "credits": 10, "add": True},
    ... ])
    >>> rules.price("text_to_video", {"model": "v5", "quality": "540p", "duration": 5})
    45
    >>> rules.price("text_to_video", {"model": "v6", "quality": "540p", "duration": 10})
    70
    >>> rules.price("image_to_video", {"model": "v5", "quality": "540p", "duration": 5,
    ...                                "sound_effect_switch": True})
    55
    >>> rules.price("text_to_video", {"model": "v9", "quality": "540p", "duration": 5}) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .errors import ValidationError

__all__ = ["PriceRule", "PriceRules"]

_MATCHED = ("kind", "model", "quality", "duration")
_PRICED = ("credits", "per_second", "per_text")
_FIELDS = frozenset({*_MATCHED, *_PRICED, "when", "add"})


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@attrs.frozen
class PriceRule:
    """One rule of a price list (see the module docstring)."""

    match: Mapping[str, Any]
    when: Mapping[str, Any]
    credits: int | None = None
    per_second: int | None = None
    per_text: tuple[str, int, int] | None = None
    add: bool = False

    @classmethod
    def from_data(cls, data: object, where: str) -> PriceRule:
        """A rule from its JSON object; a :class:`~pixverse_async.errors.ValidationError`
        naming ``where`` and the field otherwise."""
        if not isinstance(data, Mapping):
            raise ValidationError(where, "must be an object")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise ValidationError(f"{where}.{unknown[0]}", "is not a price rule field")
        priced = [name for name in _PRICED if name in data]
        if len(priced) != 1:
            raise ValidationError(where, "needs exactly one of credits, per_second, per_text")
        when = data.get("when", {})
        if not isinstance(when, Mapping) or not all(isinstance(k, str) for k in when):
            raise ValidationError(f"{where}.when", "must be an object of body fields")
        add = data.get("add", False)
        if not isinstance(add, bool):
            raise ValidationError(f"{where}.add", "must be true or false")
        per_text = None
        if "per_text" in data:
            spec = data["per_text"]
            if (
                not isinstance(spec, Mapping)
                or set(spec) != {"field", "bytes", "credits"}
                or not isinstance(spec["field"], str)
                or not _count(spec["bytes"])
                or spec["bytes"] == 0
                or not _count(spec["credits"])
            ):
                raise ValidationError(
                    f"{where}.per_text", 'must be {"field": name, "bytes": N >= 1, "credits": N}'
                )
            per_text = (spec["field"], spec["bytes"], spec["credits"])
        for name in ("credits", "per_second"):
            if name in data and not _count(data[name]):
                raise ValidationError(f"{where}.{name}", "must be an integer >= 0")
        return cls(
            match={k: data[k] for k in _MATCHED if k in data},
            when=dict(when),
            credits=data.get("credits"),
            per_second=data.get("per_second"),
            per_text=per_text,
            add=add,
        )

    def matches(self, fields: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
        """Whether the request (``fields``: its kind, model, quality, duration) matches."""
        return all(fields[k] == v for k, v in self.match.items()) and all(
            k in body and body[k] == v and type(body[k]) is type(v) for k, v in self.when.items()
        )

    def amount(self, duration: int | None, body: Mapping[str, Any]) -> int | None:
        """The credits this rule charges for the request, or None when it cannot price it."""
        if self.credits is not None:
            return self.credits
        if self.per_second is not None:
            return None if duration is None else self.per_second * duration
        assert self.per_text is not None
        field, size, credits = self.per_text
        text = body.get(field)
        if not isinstance(text, str) or not text:
            return None
        return math.ceil(len(text.encode("utf-8")) / size) * credits


@attrs.frozen
class PriceRules:
    """A price list: ``price(kind, body)`` is a :data:`~pixverse_async.costs.PriceFunction`."""

    rules: tuple[PriceRule, ...]

    @classmethod
    def from_data(cls, data: object, where: str = "prices") -> PriceRules:
        """The rules of a JSON list (see the module docstring)."""
        if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
            raise ValidationError(where, "must be a list of price rules")
        return cls(tuple(PriceRule.from_data(rule, f"{where}[{i}]") for i, rule in enumerate(data)))

    def then(self, other: PriceRules) -> PriceRules:
        """These rules first, then ``other``'s: a user's list extending (and, where its base
        rules match first, overriding) a table."""
        return PriceRules(self.rules + other.rules)

    def price(self, kind: str, body: Mapping[str, Any]) -> int | None:
        """The credits ``body`` (a request of ``kind``) costs, or None when no rule says."""
        model, quality, duration = body.get("model"), body.get("quality"), body.get("duration")
        seconds = duration if _count(duration) else None
        fields = {"kind": kind, "model": model, "quality": quality, "duration": seconds}
        base: int | None = None
        extra = 0
        for rule in self.rules:
            if rule.add:
                if rule.matches(fields, body):
                    extra += rule.amount(seconds, body) or 0
            elif base is None and rule.matches(fields, body):
                base = rule.amount(seconds, body)
        return None if base is None else base + extra

    __call__ = price
