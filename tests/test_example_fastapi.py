"""examples/fastapi_app.py served by a real uvicorn on loopback, with the emulator sending its
signed webhooks to it: submit, status, and the job ended by the webhook route (never polled)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

from pixverse_async import PixVerseError
from pixverse_async.emulator import Emulator
from pixverse_async.jobs.polling import SafetyNet


def _require(name: str) -> None:
    """FastAPI and uvicorn are dev dependencies (``pip install -e '.[dev]'``): without them
    the test says so and skips; under ``CI=true`` it fails instead."""
    if importlib.util.find_spec(name) is not None:
        return
    reason = f"the FastAPI example's test needs {name} (pip install -e '.[dev]')"
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fastapi_app.py"
KEY = "fastapi-example-key"
SECRET = "fastapi-example-webhook-secret"


def load_example() -> ModuleType:
    _require("fastapi")
    _require("uvicorn")
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@contextlib.asynccontextmanager
async def serving(app: Any, sock: socket.socket) -> AsyncIterator[str]:
    """``app`` served by uvicorn on ``sock`` (lifespan included) until the block ends."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # startup (the lifespan) done, the socket served
            assert not task.done(), task.exception() if not task.cancelled() else "cancelled"
            await asyncio.sleep(0.01)
        host, port = sock.getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def test_submit_status_and_a_signed_webhook_end_the_job() -> None:
    example = load_example()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        hook = f"http://127.0.0.1:{sock.getsockname()[1]}{example.WEBHOOK_PATH}"
        async with Emulator(
            api_keys={KEY}, clock="manual", webhooks={"1234": (hook, SECRET)}
        ) as emu:
            settings = example.Settings(
                api_key=KEY,
                base_url=emu.base_url,
                webhook_id="1234",
                webhook_secret=SECRET,
                # no safety-net poll within the test: only the webhook can end the job
                safety_net=SafetyNet(factor=1.0, expected=3600.0, interval=3600.0),
            )
            app = example.create_app(settings)
            async with serving(app, sock) as base, aiohttp.ClientSession(base) as http:
                good = {"prompt": "a red kite", "model": "v5", "duration": 5,
                        "quality": "540p", "aspect_ratio": "16:9"}  # fmt: skip
                async with http.post("/videos", json=good) as resp:
                    assert resp.status == 202, await resp.text()
                    submitted = await resp.json()
                video_id = submitted["video_id"]
                assert submitted["status_url"] == f"/videos/{video_id}"
                assert emu.state.generations[video_id].body["webhook_id"] == "1234"
                async with http.get(f"/videos/{video_id}") as resp:
                    assert (await resp.json())["status"] == "generating"

                bad = {**good, "duration": 8, "quality": "1080p"}
                async with http.post("/videos", json=bad) as resp:
                    assert resp.status == 400 and (await resp.json())["field"] == "duration"
                async with http.post(example.WEBHOOK_PATH, json={"id": "1", "status": 1}) as resp:
                    assert resp.status == 401
                    assert "Webhook-Timestamp header is missing" in await resp.text()

                backend = app.state.backend
                waiting = list(backend.tasks)
                emu.finish(video_id)  # the emulator signs and posts the webhook to the app
                await asyncio.wait_for(asyncio.gather(*waiting), 10)
                async with http.get(f"/videos/{video_id}") as resp:
                    done = await resp.json()
                assert done["status"] == "succeeded" and done["url"].endswith(".mp4")
                assert done["finished_by"] == "webhook"
                assert emu.requests_to("status") == []  # ended by the delivery, never polled
                async with http.get("/videos/123") as resp:
                    assert resp.status == 404
            with pytest.raises(PixVerseError, match="this client is closed"):
                await backend.client.account.balance()  # the lifespan closed it at shutdown
