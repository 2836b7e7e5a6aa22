"""Headless Chromium driven through its DevTools protocol over a websocket (aiohttp), for tests.

No browser-automation package: Chromium prints its DevTools websocket address on stderr, a
page target is created and attached in flat mode, and commands are JSON messages matched to
their answers by id. Debian's ``chromium`` package is enough (``.ci/run`` installs it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
    "--remote-debugging-port=0",
)
_LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")

# For Page.evaluate: back to the top, then wait (bounded) until the videos in view show a
# frame (or fail to load); the videos' readyStates.
TOP_FRAMES_JS = """(async () => {
  window.scrollTo(0, 0);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const inView = Array.from(document.querySelectorAll('video'))
    .filter(v => {
      const r = v.getBoundingClientRect();  // a card off the page has an empty box
      return r.height > 0 && r.top < innerHeight;
    });
  await Promise.all(inView.map(v => new Promise((resolve) => {
    if (v.readyState >= 2) return resolve();
    v.addEventListener('loadeddata', resolve, {once: true});
    v.addEventListener('error', resolve, {once: true});
    setTimeout(resolve, 15000);
  })));
  return inView.map(v => v.readyState);
})()"""


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One attached page: ``call`` sends a DevTools command and returns its result."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.session_id: str | None = None
        self._events: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            for waiter in self._events.pop(data.get("method", ""), []):
                if not waiter.done():
                    waiter.set_result(data.get("params", {}))
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("DevTools connection closed"))

    async def call(
        self, method: str, session: bool = True, timeout: float = 60, **params: Any
    ) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if session and self.session_id is not None:
            message["sessionId"] = self.session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        await self._ws.send_str(json.dumps(message))
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def expect(self, event: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next ``event`` (register it before the command that causes it)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._events.setdefault(event, []).append(future)
        return future

    async def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression (promises are awaited, ``timeout`` seconds)."""
        result = await self.call(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> Path:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def open_page(url: str, *, width: int = 1280, height: int = 900) -> AsyncIterator[Page]:
    """Start headless Chromium, open ``url`` in a page of ``width`` x ``height`` and yield it."""
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("Chromium is not installed: apt-get install -y chromium")
    with tempfile.TemporaryDirectory(prefix="pixverse-chromium-") as profile:
        process = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        drain: asyncio.Task[None] | None = None
        try:
            address = await asyncio.wait_for(_devtools_address(process.stderr), 60)
            drain = asyncio.create_task(_drain(process.stderr))
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(address, max_msg_size=0) as ws,
            ):
                page = Page(ws)
                try:
                    target = await page.call("Target.createTarget", url="about:blank")
                    attached = await page.call(
                        "Target.attachToTarget", targetId=target["targetId"], flatten=True
                    )
                    page.session_id = attached["sessionId"]
                    await page.call(
                        "Emulation.setDeviceMetricsOverride",
                        width=width,
                        height=height,
                        deviceScaleFactor=1,
                        mobile=False,
                    )
                    await page.call("Page.enable")
                    loaded = page.expect("Page.loadEventFired")
                    await page.call("Page.navigate", url=url)
                    await asyncio.wait_for(loaded, 60)
                    yield page
                    with contextlib.suppress(RuntimeError, ConnectionError):
                        await page.call("Browser.close", session=False)
                finally:
                    await page.close()
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 20)
            if process.returncode is None:
                process.kill()
                await process.wait()
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain


async def _devtools_address(stderr: asyncio.StreamReader) -> str:
    while True:
        line = await stderr.readline()
        if not line:
            raise RuntimeError("Chromium exited before opening its DevTools port")
        found = _LISTENING.search(line)
        if found:
            return found.group(1).decode()


async def _drain(stderr: asyncio.StreamReader) -> None:
    while await stderr.readline():
        pass
