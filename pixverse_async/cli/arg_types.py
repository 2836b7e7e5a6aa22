"""Option value types: each parses one value or says, in the option's error, what it expects.

argparse names the function in its message when a type raises ``ValueError`` ("invalid
_credits value"), so these raise ``ArgumentTypeError`` with the rule instead.
"""

from __future__ import annotations

import argparse


def _number(text: str, cast: type[int] | type[float], what: str) -> float:
    try:
        return cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_float(text: str) -> float:
    """A number more than 0 (seconds)."""
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def positive_int(text: str) -> int:
    """A whole number, at least 1."""
    value = int(_number(text, int, "a whole number"))
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def credits(text: str) -> int:
    """A whole number of credits, at least 0."""
    value = int(_number(text, int, "a whole number of credits"))
    if value < 0:
        raise argparse.ArgumentTypeError("must be a whole number of credits, at least 0")
    return value
