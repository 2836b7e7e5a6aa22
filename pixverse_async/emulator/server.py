"""Running the emulator: in-process (``async with Emulator()``) or as a process."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from .app import EmulatorApp, EmulatorConfig
from .credits import Ledger
from .state import EmulatorState
from .webhooks import WebhookSender


class Emulator:
    """A local PixVerse server on 127.0.0.1 for tests, examples and benchmarks.

    Keyword arguments override :class:`EmulatorConfig` fields. ``port=0`` picks a free port;
    ``base_url`` tells where it listens once started, and ``state`` records what it saw.
    ``webhooks={"1234": (url, secret)}`` makes it deliver signed webhooks for generations
    submitted with ``webhook_id="1234"`` (see :mod:`pixverse_async.emulator.webhooks`).

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
        **overrides: Any,
    ) -> None:
        if "api_keys" in overrides:
            overrides["api_keys"] = frozenset(overrides["api_keys"])
        self.config = replace(config or EmulatorConfig(), **overrides)
        self.host = host
        self.port = port
        self.state = EmulatorState(ledger=Ledger(self.config.credits, self.config.credit_package))
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
        self._app = EmulatorApp(self.config, self.state, storage)
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
