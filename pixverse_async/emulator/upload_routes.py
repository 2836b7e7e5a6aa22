"""Upload routes (placeholder until the streaming implementation lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .app import EmulatorApp


class UploadRoutes:
    def __init__(self, app: EmulatorApp) -> None:
        self.app = app

    def add_to(self, web_app: web.Application) -> None:
        return None
