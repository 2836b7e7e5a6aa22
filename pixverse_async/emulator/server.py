"""Running the emulator: in-process (``async with Emulator()``) or as a process."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from .app import EmulatorApp, EmulatorConfig
from .clock import ClockMode, EmulatorClock, as_clock
from .credits import Ledger
from .faults import FaultConfig, endpoint_paths
from .state import EmulatorState, Generation, RequestRecord
from .webhooks import WebhookSender

OUTCOMES = ("success", "failed", "moderated", "deleted")


class Emulator:
    """A local PixVerse server on 127.0.0.1 for tests, examples and benchmarks.

    Keyword arguments override :class:`EmulatorConfig` fields. ``port=0`` picks a free port;
    ``base_url`` tells where it listens once started, and ``state`` records what it saw.
    ``webhooks={"1234": (url, secret)}`` makes it deliver signed webhooks for generations
    submitted with ``webhook_id="1234"`` (see :mod:`pixverse_async.emulator.webhooks`).
    ``clock="manual"`` (or an :class:`~.clock.EmulatorClock`) stops time until the test moves
    it: :meth:`advance`, :meth:`finish`, :meth:`finish_all`; ``faults`` injects failures.

    Example::

        import asyncio
        from pixverse_async import PixVerse
        from pixverse_async.emulator import Emulator

        async def main() -> None:
            async with Emulator(api_keys={"k"}) as emu:
                async with PixVerse(api_key="k", base_url=emu.base_url) as client:
                    job = await client.videos.text_to_video(
                        prompt="a cat", model="v5", duration=5, quality="540p",
                        aspect_ratio="16:9")
                    print((await job.wait()).url)

        asyncio.run(main())
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: EmulatorClock | ClockMode | None = None,
        **overrides: Any,
    ) -> None:
        if "api_keys" in overrides:
            overrides["api_keys"] = frozenset(overrides["api_keys"])
        self.config = replace(config or EmulatorConfig(), **overrides)
        self.host = host
        self.port = port
        self.clock = as_clock(clock)
        ledger = Ledger(self.config.credits, self.config.credit_package, clock=self.clock.now)
        self.state = EmulatorState(ledger=ledger)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._runner: web.AppRunner | None = None
        self._app: EmulatorApp | None = None
        self.base_url = ""

    @property
    def app(self) -> EmulatorApp:
        if self._app is None:
            raise RuntimeError("the emulator is not started")
        return self._app

    async def start(self) -> Emulator:
        storage = self.config.storage_dir
        if storage is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="pixverse-emulator-")
            storage = Path(self._tmp.name)
        storage.mkdir(parents=True, exist_ok=True)
        self._app = EmulatorApp(self.config, self.state, storage, self.clock)
        web_app = self._app.build()
        self._runner = web.AppRunner(
            web_app, access_log=None, shutdown_timeout=1.0, handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=2048)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{host}:{self.port}"
        self._app.base_url = self.base_url
        return self

    @property
    def webhooks(self) -> WebhookSender:
        """The webhook deliveries (``await emu.webhooks.drain()`` waits for pending ones)."""
        return self.app.webhooks

    @property
    def faults(self) -> FaultConfig:
        """The fault injection in force (``emu.faults.add("status", "delay", seconds=1)``)."""
        return self.config.faults

    def requests_to(self, endpoint: str, method: str | None = None) -> list[RequestRecord]:
        """The requests received for ``endpoint`` (a short name such as "text_to_video" or
        "status", or a path), in order, of ``method`` if given."""
        paths = endpoint_paths(endpoint)
        return [r for r in list(self.state.requests)
                if r.path.startswith(paths) and method in (None, r.method)]  # fmt: skip

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock ``seconds`` forward: generations due by then end."""
        self.clock.advance(seconds)

    def finish(self, video_id: int, outcome: str | None = None) -> Generation:
        """End generation ``video_id`` now, as ``outcome`` if given (success, failed,
        moderated, deleted; else as it was going to end). Raises KeyError for an unknown id."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
        generation = self.state.finish(video_id, self.clock.now(), outcome)
        self.clock.changed()
        return generation

    def finish_all(self, outcome: str | None = None) -> list[Generation]:
        """End every generation still running now (as ``outcome`` if given); return them."""
        now = self.clock.now()
        running = [g.video_id for g in list(self.state.generations.values()) if g.done_at > now]
        return [self.finish(video_id, outcome) for video_id in running]

    async def stop(self) -> None:
        if self._app is not None:
            await self._app.webhooks.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
