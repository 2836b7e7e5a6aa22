"""Streaming a finished video to disk: atomic, resumable, constant memory.

The file is written to ``<path>.part`` in chunks through aiofiles and renamed onto ``path``
only when complete, so ``path`` never holds half a video. A partial ``.part`` left by an
interrupted download is resumed with an HTTP ``Range`` request when the server supports it
(``206 Partial Content``); otherwise the download starts over. The result URL is fetched
without the ``API-KEY`` header: media hosts have no business seeing it.

Example::

    video = await job.wait()
    path = await client.videos.download(video, "out/cat.mp4")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import aiofiles
import aiofiles.os
import aiohttp

from .errors import PixVerseError, TransportError

logger = logging.getLogger("pixverse_async")

CHUNK_SIZE = 256 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadError(TransportError):
    """The video could not be downloaded completely."""


def destination_for(path: str | os.PathLike[str], video_id: int) -> Path:
    """``path`` itself, or ``path/<video_id>.mp4`` when ``path`` is an existing folder.

    The name never comes from the server, so a download cannot land outside ``path``.
    """
    dest = Path(path)
    if dest.is_dir():
        dest = dest / f"{int(video_id)}.mp4"
    return dest


async def download_to(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    max_retries: int = 3,
    timeout: aiohttp.ClientTimeout | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically; resume from ``dest.part`` when possible."""
    if not url.startswith(("http://", "https://")):
        raise PixVerseError(f"cannot download from {url!r}: not an http(s) URL")
    part = dest.with_name(dest.name + ".part")
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    attempt = 0
    while True:
        attempt += 1
        try:
            total = await _fetch_into(session, url, part, timeout, progress)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, aiohttp.ClientError):
                raise DownloadError(f"writing {part} failed: {exc}") from exc
            if attempt > max_retries:
                raise DownloadError(
                    f"downloading {url} failed after {attempt} attempts: {exc!r}"
                ) from exc
            logger.debug("download of %s interrupted (%r); resuming", url, exc)
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
            continue
        size = (await aiofiles.os.stat(part)).st_size
        if total is not None and size != total:
            if attempt > max_retries:
                raise DownloadError(f"{url}: got {size} of {total} bytes")
            continue
        await aiofiles.os.replace(part, dest)
        return dest


async def _fetch_into(
    session: aiohttp.ClientSession,
    url: str,
    part: Path,
    timeout: aiohttp.ClientTimeout | None,
    progress: Callable[[int, int | None], None] | None,
) -> int | None:
    """One GET into ``part``; returns the full size when the server told it."""
    have = 0
    with contextlib.suppress(FileNotFoundError):
        have = (await aiofiles.os.stat(part)).st_size
    headers = {"Range": f"bytes={have}-"} if have else {}
    async with session.get(url, headers=headers, timeout=timeout) as resp:
        if resp.status == 416 and have:
            # The part file is already complete (or larger than the resource): start over.
            await aiofiles.os.remove(part)
            raise aiohttp.ClientPayloadError("range not satisfiable; restarting")
        if resp.status not in (200, 206):
            raise DownloadError(f"downloading {url} answered HTTP {resp.status}")
        total: int | None
        if resp.status == 206:
            match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != have:
                raise DownloadError(f"{url}: unexpected Content-Range")
            total = int(match.group(3)) if match.group(3) != "*" else None
            append = True
        else:
            have = 0
            total = resp.content_length
            append = False
        written = have
        async with aiofiles.open(part, "ab" if append else "wb") as out:
            async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
                await out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(written, total)
        return total
