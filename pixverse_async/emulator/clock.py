"""The emulator's clock: when generations end, as real time or as the test decides.

By default the emulator reads real monotonic time, so a generation ends
``generation_seconds`` after it was submitted. A *manual* clock stands still until the test
moves it with :meth:`EmulatorClock.advance`; either clock can be moved forward, and any
generation can be ended at once with :meth:`~pixverse_async.emulator.Emulator.finish`. Time
is read with :func:`time.monotonic` (what asyncio's loop time is), so the clock may be moved
from any thread, also while the emulator serves from another one.

Example::

    import asyncio
    from pixverse_async.emulator import Emulator

    async def main() -> None:
        async with Emulator(clock="manual", generation_seconds=60) as emu:
            emu.advance(59)  # what was submitted before has 1 s to go
            print(emu.clock.now() - emu.clock.started)  # 59.0

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Literal

ClockMode = Literal["real", "manual"]


class EmulatorClock:
    """Emulator time in seconds: real monotonic time, or a manual time the test moves.

    ``advance`` moves either clock forward (a real clock then runs ahead of real time).
    """

    def __init__(self, mode: ClockMode = "real") -> None:
        if mode not in ("real", "manual"):
            raise ValueError(f"clock: expected 'real' or 'manual', got {mode!r}")
        self.mode: ClockMode = mode
        #: The moment the clock was made (its time then), for tests that measure from it.
        self.started = time.monotonic()
        self._offset = 0.0
        self._sleepers: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    @property
    def manual(self) -> bool:
        """Whether time stands still until :meth:`advance`."""
        return self.mode == "manual"

    def now(self) -> float:
        """The emulator's current time."""
        base = self.started if self.manual else time.monotonic()
        return base + self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward (never back); return the new time."""
        if not seconds >= 0:
            raise ValueError(f"seconds: must be 0 or more, got {seconds!r}")
        self._offset += seconds
        self.changed()
        return self.now()

    def changed(self) -> None:
        """Wake :meth:`sleep_until` sleepers to look again (time moved or a deadline did)."""
        for loop, future in list(self._sleepers):
            with contextlib.suppress(RuntimeError):  # that loop has closed meanwhile
                loop.call_soon_threadsafe(_wake, future)

    async def sleep_until(self, deadline: Callable[[], float]) -> None:
        """Sleep until this clock reaches ``deadline()``, read again whenever it may have moved
        (:meth:`advance`, :meth:`changed`), so a generation ended early wakes its sleeper."""
        loop = asyncio.get_running_loop()
        while (remaining := deadline() - self.now()) > 0:
            future = loop.create_future()
            timer = None if self.manual else loop.call_later(remaining, _wake, future)
            sleeper = (loop, future)
            self._sleepers.add(sleeper)
            try:
                await future
            finally:
                self._sleepers.discard(sleeper)
                if timer is not None:
                    timer.cancel()

    def __repr__(self) -> str:
        return f"EmulatorClock(mode={self.mode!r}, offset={self._offset:g})"


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def as_clock(clock: EmulatorClock | ClockMode | None) -> EmulatorClock:
    """An :class:`EmulatorClock` from what ``Emulator(clock=...)`` accepts."""
    if isinstance(clock, EmulatorClock):
        return clock
    return EmulatorClock(clock or "real")
