"""What the route modules use of the emulator's app: its settings, state and shared checks.

:class:`~.app.EmulatorApp` builds the routes of :mod:`.live_routes` and :mod:`.upload_routes`
and hands itself to them; they see it through :class:`RouteHost`, so they sit below the app
(which imports them) and import nothing of it.

Example::

    from pixverse_async.emulator.host import Handler

    async def ok(request): ...
    handler: Handler = ok
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from .state import EmulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HostConfig(Protocol):
    """The settings the routes read."""

    @property
    def generation_seconds(self) -> float: ...

    @property
    def max_image_bytes(self) -> int: ...

    @property
    def max_media_bytes(self) -> int: ...


class RouteHost(Protocol):
    """The app as its route modules see it."""

    @property
    def config(self) -> HostConfig: ...

    @property
    def state(self) -> EmulatorState: ...

    @property
    def storage(self) -> Path: ...

    @property
    def base_url(self) -> str: ...

    @property
    def _loop_time(self) -> Callable[[], float]: ...

    async def _json_body(self, request: web.Request) -> tuple[Any, web.Response | None]: ...

    def _admit(self, request: web.Request, body: Any) -> web.Response | None: ...

    async def generate(self, request: web.Request) -> web.Response: ...
