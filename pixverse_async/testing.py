"""What the pytest plugin's fixtures are made of, for tests that build their own.

The plugin (:mod:`pytest_pixverse`, loaded by pytest through its ``pytest11`` entry point)
imports this module only when a test asks for ``pixverse_emulator`` or ``pixverse_client``.
Its defaults suit tests: the emulator's clock is manual and generations take no emulator
time (they end as soon as they are submitted, unless the test says otherwise), and the
client polls and retries in milliseconds.

Example::

    import asyncio
    from pixverse_async.testing import client_for, serve_emulator

    with serve_emulator(outcome="failed") as emulator:
        async def main() -> None:
            async with client_for(emulator) as client:
                job = await client.videos.text_to_video(
                    prompt="a cat", model="v5", duration=5, quality="540p", aspect_ratio="16:9")
                print((await client.videos.get(job.video_id)).status)

        asyncio.run(main())
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from .client import PixVerse
from .emulator import Emulator, EmulatorConfig
from .emulator.server import OUTCOMES
from .emulator.threaded import EmulatorThread
from .jobs.generation_job import PollPolicy
from .retry import RetryPolicy

#: The API key the test emulator accepts and the test client sends.
TEST_API_KEY = "pixverse-test-key"
#: Polling for tests: the first status read at once, then every 10 ms.
TEST_POLL = PollPolicy(first_delay=0.0, interval=0.01, factor=1.0, max_delay=0.01, jitter=0.0,
                       timeout=30.0)  # fmt: skip
#: Retries for tests: the SDK's count, waits of milliseconds.
TEST_RETRY = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.01)

_EMULATOR_FIELDS = frozenset(f.name for f in fields(EmulatorConfig))


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """Marker options as (emulator keywords, client keywords, outcome of every generation).

    Raises ``TypeError`` naming an option that is none of them.
    """
    emulator: dict[str, Any] = {"clock": "manual", "generation_seconds": 0.0}
    client = dict(options.get("client") or {})
    outcome = options.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise TypeError(f"outcome: expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
    for name, value in options.items():
        if name in ("client", "outcome"):
            continue
        if name == "api_key":
            emulator["api_keys"] = {value}
        elif name in _EMULATOR_FIELDS or name in ("clock", "host", "port"):
            emulator[name] = value
        else:
            known = ", ".join(sorted({"api_key", "client", "outcome", "clock", *_EMULATOR_FIELDS}))
            raise TypeError(f"pixverse marker: unknown option {name!r}; known: {known}")
    emulator.setdefault("api_keys", {TEST_API_KEY})
    return emulator, client, outcome


@contextmanager
def serve_emulator(**options: Any) -> Iterator[Emulator]:
    """A test emulator served from its own thread, stopped on exit.

    ``options`` are those of the ``pixverse`` marker: ``outcome`` (how every generation
    ends), ``api_key``, ``clock`` ("manual" by default, or "real"), and any
    :class:`~pixverse_async.emulator.EmulatorConfig` field (``credits``,
    ``generation_seconds``, ``max_concurrent_generations``, ...).
    """
    emulator_options, _, outcome = split_options(options)
    emulator = Emulator(**emulator_options)
    if outcome is not None and outcome != "success":
        emulator.faults.add("generate", outcome)
    with EmulatorThread(emulator) as running:
        yield running


def client_for(emulator: Emulator, **options: Any) -> PixVerse:
    """A :class:`PixVerse` client for ``emulator`` with fast polls and retries.

    ``options`` are ``PixVerse`` keywords and override those defaults. The client opens its
    HTTP session in the event loop of its first call; close it with ``aclose``.
    """
    options.setdefault("api_key", next(iter(emulator.config.api_keys)))
    options.setdefault("poll", TEST_POLL)
    if "max_retries" not in options:
        options.setdefault("retry", TEST_RETRY)
    return PixVerse(base_url=emulator.base_url, **options)
