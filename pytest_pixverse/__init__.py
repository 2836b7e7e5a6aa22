"""pytest plugin for code built on pixverse-async: a PixVerse emulator and a client per test.

Loaded by pytest through the ``pytest11`` entry point ``pixverse`` (disable it with
``-p no:pixverse``). It imports nothing of the SDK until a test asks for a fixture, so test
suites that do not use it start as fast as without it (see ``benchmarks/``).

Fixtures:

- ``pixverse_emulator``: a running :class:`pixverse_async.emulator.Emulator` for the test,
  served from its own thread (so it suits any event loop, or none). Its clock is manual and
  generations end as soon as they are submitted; ``finish``, ``finish_all`` and ``advance``
  move it, ``faults`` injects failures, ``state`` / ``requests_to`` show what it received.
- ``pixverse_client``: a :class:`pixverse_async.PixVerse` client pointed at it, with fast
  polls and retries, closed after the test in the test's own event loop. Async tests only,
  run by pytest-asyncio (strict or auto mode) or by anyio's plugin.

Marker ``@pytest.mark.pixverse(**options)`` configures both: ``outcome`` ("success",
"failed", "moderated", "deleted": how every generation ends), ``credits``,
``generation_seconds``, ``webhooks`` (``{"1234": (url, secret)}``), ``clock`` ("manual" or
"real"), ``api_key``, ``client`` (a dict of ``PixVerse`` keywords), and any other
``EmulatorConfig`` field.

Example (``pixverse_client`` and ``pixverse_emulator`` need no import)::

    import pytest
    from pixverse_async import VideoFailedError

    @pytest.mark.asyncio
    @pytest.mark.pixverse(outcome="failed")
    async def test_a_failed_video_raises(pixverse_client) -> None:
        job = await pixverse_client.videos.text_to_video(
            prompt="a cat", model="v5", duration=5, quality="540p", aspect_ratio="16:9")
        with pytest.raises(VideoFailedError):
            await job.wait()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pixverse_async import PixVerse
    from pixverse_async.emulator import Emulator

MARKER = "pixverse"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): configure the pixverse_emulator and pixverse_client fixtures "
        "(outcome=, credits=, generation_seconds=, clock=, api_key=, client={...}, and any "
        "EmulatorConfig field)",
    )
    if config.pluginmanager.hasplugin("asyncio"):
        from . import _asyncio

        config.pluginmanager.register(_asyncio, "pixverse-asyncio")


def marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``pixverse`` marker's options for this test, the closest marker winning."""
    options: dict[str, Any] = {}
    for mark in reversed(list(request.node.iter_markers(MARKER))):
        if mark.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword options only")
        options.update(mark.kwargs)
    return options


@pytest.fixture
def pixverse_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A running PixVerse emulator for this test (see the module's documentation)."""
    from pixverse_async.testing import serve_emulator

    try:
        context = serve_emulator(**marker_options(request))
        emulator = context.__enter__()
    except TypeError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        yield emulator
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
def pixverse_client(request: pytest.FixtureRequest, pixverse_emulator: Emulator) -> PixVerse:
    """A PixVerse client for ``pixverse_emulator``, closed in the test's event loop."""
    if "anyio_backend" in request.fixturenames:
        client: PixVerse = request.getfixturevalue("_pixverse_client_anyio")
        return client
    if request.config.pluginmanager.hasplugin("pixverse-asyncio"):
        client = request.getfixturevalue("_pixverse_client_asyncio")
        return client
    raise pytest.UsageError(
        "pixverse_client needs an async test run by pytest-asyncio or anyio's pytest plugin; "
        "sync tests can use pixverse_emulator.base_url"
    )


def make_client(request: pytest.FixtureRequest, emulator: Emulator) -> PixVerse:
    """The test's client, with the marker's ``client`` options; its session opens lazily."""
    from pixverse_async.testing import client_for

    return client_for(emulator, **dict(marker_options(request).get("client") or {}))


@pytest.fixture
async def _pixverse_client_anyio(
    request: pytest.FixtureRequest, pixverse_emulator: Emulator
) -> AsyncIterator[PixVerse]:
    """The client of an anyio test: anyio runs this in the test's event loop."""
    async with make_client(request, pixverse_emulator) as client:
        yield client
