"""Scripted faults of the video file route (``/media/videos/{id}.mp4``), for download tests.

Each request to the route takes the next fault from ``queue`` (none left: the normal answer,
with ``Range`` support), and every request is recorded with its ``Range`` header and the
fault it got. The faults:

- ``cut``: the answer (200, or 206 to a ``Range`` request) announces its full length, sends
  half of it and drops the connection (a client may lose what it had not read yet);
- ``stall``: as ``cut``, but instead of dropping the connection it goes silent until the
  next request to the route (the client's retry, once its read timeout gave up on this
  one): the client has everything sent;
- ``error_503``: HTTP 503, nothing sent;
- ``ignore_range``: HTTP 200 with the whole file, whatever ``Range`` asked;
- ``refuse_range``: HTTP 416, whatever ``Range`` asked;
- ``wrong_total``: a 206 with the bytes asked for, whose ``Content-Range`` announces a total
  100 bytes larger than the file.

Example::

    from pixverse_async.emulator import Emulator, MediaFaults

    faults = MediaFaults(queue=["cut"])
    async with Emulator(media_faults=faults) as emu:
        ...  # the first download is cut halfway; faults.requests shows the resume
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

MEDIA_FAULTS = ("cut", "stall", "error_503", "ignore_range", "refuse_range", "wrong_total")
_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class MediaRequest:
    """One request to the video file route: its ``Range`` header and the fault applied."""

    range: str | None
    fault: str | None


@dataclass
class MediaFaults:
    """The queue of faults for the next video file requests, and a record of them all."""

    queue: list[str] = field(default_factory=list)
    requests: list[MediaRequest] = field(default_factory=list)
    _stalled: list[asyncio.Event] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.queue) - set(MEDIA_FAULTS)
        if unknown:
            raise ValueError(f"unknown media faults {sorted(unknown)}; known: {MEDIA_FAULTS}")

    async def respond(self, request: web.Request, path: Path) -> web.StreamResponse | None:
        """The faulty answer for this request, or None for the normal one."""
        while self._stalled:  # a new request ends the stalled ones
            self._stalled.pop().set()
        fault = self.queue.pop(0) if self.queue else None
        asked = request.headers.get("Range")
        self.requests.append(MediaRequest(asked, fault))
        if fault is None:
            return None
        if fault == "error_503":
            return web.Response(status=503, text="media host unavailable")
        if fault == "refuse_range":
            return web.Response(status=416)
        data = await asyncio.to_thread(path.read_bytes)
        match = _RANGE.match(asked or "")
        start = int(match.group(1)) if match and fault != "ignore_range" else 0
        if start >= len(data):
            return web.Response(status=416)
        headers = {"Content-Type": "video/mp4"}
        if start or fault == "wrong_total":
            total = len(data) + (100 if fault == "wrong_total" else 0)
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{total}"
        response = web.StreamResponse(status=206 if "Content-Range" in headers else 200)
        response.headers.update(headers)
        response.content_length = len(data) - start
        await response.prepare(request)
        if fault not in ("cut", "stall"):
            await response.write(data[start:])
            await response.write_eof()
            return response
        await response.write(data[start : start + (len(data) - start) // 2])
        transport = request.transport
        if fault == "stall":
            released = asyncio.Event()
            self._stalled.append(released)
            await released.wait()
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # nothing more can be sent on this connection
