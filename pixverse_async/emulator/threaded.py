"""An emulator served from its own thread and event loop, started and stopped without await.

For callers that have no event loop of their own to lend (synchronous tests, a CLI under
test, a pytest fixture that must suit any async test framework). The :class:`Emulator` it
serves is used as usual: ``base_url``, ``state``, ``faults``, ``finish``, ``advance``.

Example::

    from pixverse_async.emulator import Emulator
    from pixverse_async.emulator.threaded import EmulatorThread

    with EmulatorThread(Emulator(api_keys={"k"})) as emu:
        print(emu.base_url)
"""

from __future__ import annotations

import asyncio
import threading

from .server import Emulator


class EmulatorThread:
    """Runs ``emulator`` in a daemon thread with its own event loop until :meth:`stop`."""

    def __init__(self, emulator: Emulator, *, start_timeout: float = 10.0) -> None:
        self.emulator = emulator
        self.start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def start(self) -> Emulator:
        """Start serving; return the emulator once it listens (its ``base_url`` is set)."""
        if self._thread is not None:
            raise RuntimeError("this emulator thread was already started")
        self._thread = threading.Thread(target=self._serve, name="pixverse-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            raise RuntimeError(f"the emulator did not start within {self.start_timeout:g} s")
        if self._failure is not None:
            self._thread.join()
            raise RuntimeError("the emulator failed to start") from self._failure
        return self.emulator

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self.emulator.start())
            except BaseException as exc:  # reported to start() in the caller's thread
                self._failure = exc
                return
            finally:
                self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.emulator.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def stop(self) -> None:
        """Stop the emulator, its loop and its thread. Safe to call twice."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(self.start_timeout)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
