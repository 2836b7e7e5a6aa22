"""Streaming a finished video to disk: atomic, resumable, constant memory.

The file is written to ``<path>.part`` in chunks through aiofiles and renamed onto ``path``
only when complete, so ``path`` never holds half a video. An interrupted transfer is retried
through the one retry path (:func:`~pixverse_async.retry.call_with_retries`, the client's
:class:`~pixverse_async.retry.RetryPolicy`), resuming the ``.part`` with an HTTP ``Range``
request when the server supports it (``206 Partial Content``); otherwise it starts over. A
``416`` answer to a resume (the part is no prefix of the file) restarts at once from the
first byte. The result URL is fetched without the ``API-KEY`` header: media hosts have no
business seeing it.

Example::

    video = await job.wait()
    path = await client.videos.download(video, "out/")   # out/<video_id>.mp4
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import aiofiles
import aiofiles.os
import aiohttp
import attrs

from ..errors import DownloadError, PixVerseError
from ..retry import RetryableFailure, RetryPolicy, call_with_retries

__all__ = ["CHUNK_SIZE", "DOWNLOAD_TIMEOUT", "DownloadError", "destination_for", "download_to"]

CHUNK_SIZE = 256 * 1024
#: Downloads have no overall deadline (a large video on a slow link takes long); a stalled
#: transfer still fails after ``sock_read`` seconds without data.
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=15, sock_read=60)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep)


def destination_for(path: str | os.PathLike[str], video_id: int) -> Path:
    """``path`` itself, or ``path/<video_id>.mp4`` when ``path`` names a folder.

    A folder is an existing directory, or a string ending in a path separator (``"out/"``;
    created when the download starts). The name never comes from the server, so a download
    cannot land outside ``path``.
    """
    dest = Path(path)
    if os.fspath(path).endswith(_SEPARATORS) or dest.is_dir():
        dest = dest / f"{int(video_id)}.mp4"
    return dest


@attrs.define(eq=False, repr=False)
class _Download:
    """One download's settings and attempt count; its repr names it in the retry log line."""

    session: aiohttp.ClientSession
    url: str
    part: Path
    timeout: aiohttp.ClientTimeout
    headers: Mapping[str, str] | None
    params: Mapping[str, str] | None
    progress: Callable[[int, int | None], None] | None
    number: int = 0

    def __repr__(self) -> str:
        return f"download of {self.url}"

    def failed(self, what: str) -> DownloadError:
        return DownloadError(
            f"downloading {self.url} failed at attempt {self.number}: {what}", attempts=self.number
        )


async def download_to(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    policy: RetryPolicy,
    max_retries: int | None = None,
    timeout: aiohttp.ClientTimeout = DOWNLOAD_TIMEOUT,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically; resume from ``dest.part`` when possible.

    Retried by ``policy`` (``max_retries`` replaces its count) after connection errors,
    timeouts, HTTP 5xx and 429, a transfer cut short and a size that disagrees with the
    announced one; anything else raises :class:`~pixverse_async.errors.DownloadError` at once.
    """
    if not url.startswith(("http://", "https://")):
        raise PixVerseError(f"cannot download from {url!r}: not an http(s) URL")
    part = dest.with_name(dest.name + ".part")
    try:
        await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the folder {dest.parent}: {exc}") from exc
    download = _Download(session, url, part, timeout, headers, params, progress)
    await call_with_retries(policy, _attempt, download, max_retries=max_retries)
    try:
        await aiofiles.os.replace(part, dest)
    except OSError as exc:
        raise DownloadError(f"moving {part} to {dest} failed: {exc}") from exc
    return dest


async def _attempt(download: _Download) -> None:
    """One GET into the part file; a :class:`RetryableFailure` when another may succeed."""
    download.number += 1
    try:
        total = await _fetch_into(download)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise RetryableFailure(download.failed(repr(exc))) from exc
    except OSError as exc:
        raise DownloadError(f"writing {download.part} failed: {exc}") from exc
    size = (await aiofiles.os.stat(download.part)).st_size
    if total is not None and size != total:
        raise RetryableFailure(download.failed(f"got {size} of {total} bytes"))


async def _fetch_into(download: _Download) -> int | None:
    """One GET into the part file; returns the full size when the server told it."""
    have = 0
    with contextlib.suppress(FileNotFoundError):
        have = (await aiofiles.os.stat(download.part)).st_size
    headers = dict(download.headers or {})
    if have:
        headers["Range"] = f"bytes={have}-"
    async with download.session.get(
        download.url, headers=headers, params=download.params, timeout=download.timeout
    ) as resp:
        if resp.status == 416 and have:
            # The part is not a prefix of the file (complete, or from another file): restart
            # from the first byte at once.
            await aiofiles.os.remove(download.part)
            raise RetryableFailure(download.failed("HTTP 416 to a resume"), retry_after=0.0)
        if resp.status == 429 or resp.status >= 500:
            raise RetryableFailure(download.failed(f"HTTP {resp.status}"))
        if resp.status not in (200, 206):
            raise download.failed(f"HTTP {resp.status}")
        total: int | None
        if resp.status == 206:
            match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != have:
                raise download.failed("unexpected Content-Range")
            total = int(match.group(3)) if match.group(3) != "*" else None
            append = True
        else:
            have = 0
            total = resp.content_length
            append = False
        written = have
        async with aiofiles.open(download.part, "ab" if append else "wb") as out:
            async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
                await out.write(chunk)
                written += len(chunk)
                if download.progress is not None:
                    download.progress(written, total)
        return total
