"""The span of one runner run (``pixverse.run``), current while it runs: the jobs' spans are
its children. It ends with the run's counts by outcome state and its spend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from .instruments import current

__all__ = ["RunSpan", "run_span"]


class RunSpan:
    """Holds the run's counts until the run ends."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Mapping[str, int] = {}


@contextlib.contextmanager
def run_span(concurrency: int) -> Iterator[RunSpan | None]:
    """The run's span while inside; set ``counts`` before leaving (each becomes a
    ``pixverse.run.<name>`` attribute). Yields ``None`` when telemetry is off."""
    inst = current()
    if inst is None:
        yield None
        return
    holder = RunSpan()
    with inst.tracer.start_as_current_span(
        "pixverse.run", attributes={"pixverse.run.concurrency": concurrency}
    ) as span:
        try:
            yield holder
        finally:
            for name, value in holder.counts.items():
                span.set_attribute(f"pixverse.run.{name}", value)
