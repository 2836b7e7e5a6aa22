"""Streaming upload bodies: aiohttp payloads with a known size and a progress callback.

Each payload streams its source in :data:`CHUNK_SIZE` pieces, calls ``progress(sent, total)``
after every piece, and checks that the source still has the size measured by
:func:`~pixverse_async.uploads.inspect_upload`; if not it raises :class:`FileChangedError`
*before* the last piece is sent, so the service never receives a complete-looking part with
other content. A file is opened afresh on every write (a retry streams it again) and closed
however the write ends. :func:`build_multipart` wraps one in a ``multipart/form-data`` body
whose total size aiohttp can compute, so the request carries ``Content-Length`` rather than
chunked encoding.

aiohttp runs the body write in its own task and wraps an error raised there in a
``ClientConnectionError`` whose ``__cause__`` is the original: use :func:`upload_error_from`
to get the :class:`FileChangedError` back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aiohttp import MultipartWriter
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

from ..errors import PixVerseError
from .exceptions import FileChangedError, SourceConsumedError, UploadError, file_error
from .preflight import AsyncSizedSource, UploadInfo, UploadSource, is_url, open_binary

__all__ = [
    "CHUNK_SIZE",
    "AsyncIterableUploadPayload",
    "BytesUploadPayload",
    "FileUploadPayload",
    "ProgressCallback",
    "UploadPayload",
    "build_multipart",
    "make_payload",
    "upload_error_from",
]

#: Bytes read and written per step.
CHUNK_SIZE = 256 * 1024

#: ``progress(sent, total)``: called after each chunk is handed to the connection. ``sent``
#: restarts from 0 on each attempt. An exception raised here aborts the upload.
ProgressCallback = Callable[[int, int], None]


class UploadPayload(Payload):
    """Base of the upload payloads: a known ``size``, chunked writes, progress, size checks.

    Subclasses implement :meth:`_chunks`, an async generator that yields the content and
    raises :class:`FileChangedError` before yielding its last chunk if the size is wrong.
    """

    _autoclose = True  # no handle is held between writes: nothing to close

    def __init__(
        self,
        value: Any,
        info: UploadInfo,
        progress: ProgressCallback | None = None,
        *,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        super().__init__(value, content_type=info.mime, filename=info.filename)
        self._size = info.size
        self._info = info
        self._progress = progress
        self._chunk_size = chunk_size

    @property
    def info(self) -> UploadInfo:
        """The preflight result this payload streams."""
        return self._info

    def _chunks(self) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError

    def _changed(self, actual: int, detail: str) -> FileChangedError:
        return FileChangedError(
            self._info.field,
            self._info.source_name,
            expected=self._info.size,
            actual=actual,
            detail=detail,
        )

    async def write(self, writer: AbstractStreamWriter) -> None:
        """Stream the whole content into ``writer``."""
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        """Stream the content into ``writer``, at most ``content_length`` bytes if given."""
        total = self._info.size
        sent = 0
        remaining = content_length
        async with contextlib.aclosing(self._chunks()) as chunks:
            async for chunk in chunks:
                if remaining is not None:
                    if remaining <= 0:
                        break
                    chunk = chunk[:remaining]
                    remaining -= len(chunk)
                await writer.write(chunk)
                sent += len(chunk)
                if self._progress is not None:
                    self._progress(sent, total)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """Not available for streamed content: use ``await as_bytes()``."""
        raise TypeError(f"{type(self).__name__} streams its content; use await as_bytes()")

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """Read the whole content into memory (with the same size checks, no progress)."""
        parts: list[bytes] = []
        async with contextlib.aclosing(self._chunks()) as chunks:
            async for chunk in chunks:
                parts.append(bytes(chunk))
        return b"".join(parts)


class FileUploadPayload(UploadPayload):
    """Streams a file from disk with aiofiles; the file is opened on each write.

    Example::

        info = await inspect_upload("cat.png", kind="image")
        payload = FileUploadPayload("cat.png", info, progress=lambda s, t: print(s, t))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        info: UploadInfo,
        progress: ProgressCallback | None = None,
        *,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        super().__init__(os.fspath(path), info, progress, chunk_size=chunk_size)
        self._path: str = os.fspath(path)

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        expected = self._info.size
        try:
            f = await open_binary(self._path)  # not aiofiles.open: see open_binary
        except OSError as exc:  # gone or unreadable since the preflight check
            raise file_error(self._info.field, self._info.source_name, exc) from exc
        try:
            now = os.fstat(f.fileno()).st_size
            if now != expected:
                raise self._changed(now, f"it has {now} bytes now")
            remaining = expected
            while remaining > 0:
                chunk = await f.read(min(self._chunk_size, remaining))
                if not chunk:
                    done = expected - remaining
                    raise self._changed(done, f"it ended after {done} bytes")
                remaining -= len(chunk)
                if remaining == 0 and await f.read(1):
                    raise self._changed(expected + 1, f"it grew past {expected} bytes")
                yield chunk
        finally:
            await f.close()


class BytesUploadPayload(UploadPayload):
    """Streams in-memory bytes in chunks, so progress is reported as for a file.

    Example::

        info = await inspect_upload(data, kind="image", name="cat.png")
        payload = BytesUploadPayload(data, info)
    """

    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        info: UploadInfo,
        progress: ProgressCallback | None = None,
        *,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        super().__init__(data, info, progress, chunk_size=chunk_size)
        self._data = data

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        expected = self._info.size
        # While the view exists a bytearray cannot be resized under us.
        with memoryview(self._data) as raw, raw.cast("B") as view:
            if view.nbytes != expected:
                raise self._changed(view.nbytes, f"it has {view.nbytes} bytes now")
            for start in range(0, expected, self._chunk_size):
                # A copy: the transport may keep the chunk after write() returns.
                yield bytes(view[start : start + self._chunk_size])

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The bytes decoded as text."""
        return bytes(self._data).decode(encoding, errors)


class AsyncIterableUploadPayload(UploadPayload):
    """Streams an :class:`AsyncSizedSource`, one fresh iteration per write.

    The last chunk is held back until the end of the stream confirms the declared size.
    A source made with :meth:`AsyncSizedSource.from_iterable` can be written once:
    :attr:`consumed` turns true after that, and aiohttp will not replay it.
    """

    def __init__(
        self,
        source: AsyncSizedSource,
        info: UploadInfo,
        progress: ProgressCallback | None = None,
    ) -> None:
        super().__init__(source, info, progress)
        self._source = source

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        expected = self._info.size
        it = aiter(self._source)
        if not self._source.reusable:
            self._consumed = True
        try:
            count = 0
            pending: bytes | None = None
            async for chunk in it:
                if not chunk:
                    continue
                count += len(chunk)
                if count > expected:
                    raise self._changed(count, f"the stream yielded more than {expected} bytes")
                if pending is not None:
                    yield pending
                pending = chunk
            if count != expected:
                raise self._changed(count, f"the stream ended after {count} bytes")
            if pending is not None:
                yield pending
        finally:
            if not self._source.reusable:
                self._consumed = True
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                await aclose()


def make_payload(
    info: UploadInfo, source: UploadSource, progress: ProgressCallback | None = None
) -> UploadPayload:
    """The streaming payload for ``source`` (a path, bytes, or an :class:`AsyncSizedSource`).

    Example::

        payload = make_payload(info, "cat.png")
        assert payload.size == info.size
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return BytesUploadPayload(source, info, progress)
    if isinstance(source, AsyncSizedSource):
        return AsyncIterableUploadPayload(source, info, progress)
    if is_url(source):
        raise TypeError(f"{source!r} is a URL: send it as {info.field}_url, not as a file")
    if isinstance(source, (str, os.PathLike)):
        return FileUploadPayload(source, info, progress)
    raise TypeError(
        f"source must be a path, bytes or an AsyncSizedSource, not {type(source).__name__}"
    )


def build_multipart(
    field: str,
    info: UploadInfo,
    source: UploadSource,
    progress: ProgressCallback | None = None,
) -> MultipartWriter:
    """A ``multipart/form-data`` body with one file part, streamed, of known total size.

    The part is named ``field`` (``"image"`` or ``"file"``; ``info.field`` is the right one),
    carries ``info.filename`` and ``Content-Type: info.mime``. Because the part's size is
    known, ``MultipartWriter.size`` is too, and aiohttp sends ``Content-Length``. The body
    can be sent again (a retry re-opens the file), except for a single-use stream.

    Example::

        info = await inspect_upload("cat.png", kind="image")
        body = build_multipart("image", info, "cat.png", progress=lambda s, t: print(s, t))
        async with http.post(url, data=body, headers=headers) as resp:
            ...
    """
    payload = make_payload(info, source, progress)
    payload.set_content_disposition("form-data", name=field, filename=info.filename)
    writer = MultipartWriter("form-data")
    writer.append_payload(payload)
    return writer


def upload_error_from(exc: BaseException) -> PixVerseError | None:
    """The upload error behind ``exc`` (aiohttp wraps body-write errors), if there is one.

    Finds an :class:`UploadError` (e.g. :class:`FileChangedError`) or a
    :class:`SourceConsumedError` in the ``__cause__``/``__context__`` chain.

    Example::

        try:
            await http.post(url, data=body)
        except aiohttp.ClientError as exc:
            if (cause := upload_error_from(exc)) is not None:
                raise cause from exc
            raise
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (UploadError, SourceConsumedError)):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
