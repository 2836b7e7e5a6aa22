"""The client fixture for pytest-asyncio; registered only when pytest-asyncio is active."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from . import make_client

if TYPE_CHECKING:
    from pixverse_async import PixVerse
    from pixverse_async.emulator import Emulator


@pytest_asyncio.fixture
async def _pixverse_client_asyncio(
    request: pytest.FixtureRequest, pixverse_emulator: Emulator
) -> AsyncIterator[PixVerse]:
    """The client of a pytest-asyncio test, in its event loop (strict and auto mode)."""
    async with make_client(request, pixverse_emulator) as client:
        yield client
