"""The adaptive concurrency target: shrink to what the service accepted, grow back slowly.

One rule for the runner's own target and the target PostgreSQL workers share.

Example::

    from pixverse_async.batch.limit_rule import grown, shrunk

    assert shrunk(in_flight=0) == 1.0
    assert grown(4.0, limit=10) == 4.25
    assert grown(10.0, limit=10) == 10.0
"""

from __future__ import annotations


def shrunk(in_flight: int) -> float:
    """The target after a limit answer: what is in flight now, at least 1."""
    return max(1.0, float(in_flight))


def grown(target: float, limit: int) -> float:
    """The target after an accepted submit: ``1 / target`` more, never past ``limit``."""
    return min(float(limit), target + 1 / target)
