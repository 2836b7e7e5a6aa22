"""Hypothesis strategies shared by the fuzzing tests: arbitrary JSON and rare events."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (hypothesis leans to the first values of a list)."""
    return st.sampled_from([False] * (n - 1) + [True])


def json_scalars(text_size: int) -> st.SearchStrategy[Any]:
    """Any JSON scalar, with huge integers and non-finite floats among them."""
    return (
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=text_size)
    )


def json_values(scalars: st.SearchStrategy[Any], max_leaves: int) -> st.SearchStrategy[Any]:
    """Nested JSON (lists and objects) built from ``scalars``."""
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )
