"""Preflight checks: what a file is and whether the API will take it, before sending it.

:func:`inspect_upload` measures the size first (``stat`` for a path, no reading), then
reads a bounded prefix to sniff the type and, for images, the dimensions. Sources are a
path, bytes, or an :class:`AsyncSizedSource`; URLs are not inspected (see :func:`is_url`).
"""

from __future__ import annotations

import asyncio
import os
import stat
import struct
from collections.abc import AsyncIterable, AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Union

import aiofiles
import aiofiles.os
import attrs

from ..constants import Limits
from ..errors import ValidationError
from .exceptions import (
    EmptyFileError,
    ExtensionMismatchError,
    FileChangedError,
    FileTooLargeError,
    ImageDimensionsError,
    SourceConsumedError,
    TruncatedFileError,
    UnsupportedFileTypeError,
    UploadError,
    file_error,
)
from .formats import (
    AAC,
    FORMATS,
    ISO_BMFF,
    M4A,
    MOV,
    MP3,
    SNIFF_BYTES,
    WAV,
    WEBP,
    HeaderCorrupt,
    HeaderScanLimit,
    HeaderShortRead,
    HeaderTruncated,
    HeaderUnsupported,
    SniffedType,
    describe_unknown,
    format_for_extension,
    ftyp_brands,
    id3_tag_end,
    read_image_size,
    sniff,
    truncated_signature,
)

if TYPE_CHECKING:
    from aiofiles.threadpool.binary import AsyncBufferedReader

__all__ = [
    "HEADER_READ_LIMIT",
    "AsyncSizedSource",
    "UploadInfo",
    "UploadKind",
    "UploadSource",
    "field_for",
    "inspect_upload",
    "is_url",
]

UploadKind = Literal["image", "media"]

#: At most this many bytes are read (or, for a stream, consumed) to find a header.
HEADER_READ_LIMIT = 1024 * 1024
# Reads of a path or bytes are served from windows of this size; a header parser that
# jumps (JPEG segments) reads a new window only when it lands outside the current one.
_WINDOW = 4096
_IMAGE_FORMATS = tuple(f for f in FORMATS if f.kind == "image")
_MEDIA_FORMATS = tuple(f for f in FORMATS if f.kind != "image")


class AsyncSizedSource:
    """An upload streamed from an async iterable of ``bytes``, with a size known in advance.

    The API wants the size up front (``Content-Length``), and the preflight check must peek
    at the first bytes before the upload streams them all. So give a *factory*: a callable
    that returns a fresh async iterable each time it is called. :func:`inspect_upload` calls it
    once and stops after the header; every upload attempt (retries included) calls it again
    and streams from the start. Iterators that have an ``aclose()`` are closed when dropped.

    If the data can only be read once, :meth:`from_iterable` records the bytes the preflight
    reads (at most about :data:`HEADER_READ_LIMIT`) and replays them ahead of the rest,
    once: a retry of such an upload raises :class:`SourceConsumedError`.

    Example::

        async def chunks():
            async with aiofiles.open("clip.mp4", "rb") as f:
                while chunk := await f.read(1 << 18):
                    yield chunk

        source = AsyncSizedSource(chunks, size=os.path.getsize("clip.mp4"), filename="clip.mp4")
        info = await inspect_upload(source, kind="media")
    """

    def __init__(
        self,
        factory: Callable[[], AsyncIterable[bytes]],
        *,
        size: int,
        filename: str | None = None,
    ) -> None:
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self._factory = factory
        self._once: _OnceStream | None = None
        self.size = size
        self.filename = filename

    @classmethod
    def from_iterable(
        cls, iterable: AsyncIterable[bytes], *, size: int, filename: str | None = None
    ) -> AsyncSizedSource:
        """Wrap a one-shot async iterable: inspectable, then uploadable once (no retries).

        Example::

            source = AsyncSizedSource.from_iterable(response.content.iter_chunked(65536),
                                                    size=response.content_length or 0,
                                                    filename="clip.mp4")
        """
        once = _OnceStream(iterable)
        source = cls(once.open, size=size, filename=filename)
        source._once = once
        return source

    @property
    def reusable(self) -> bool:
        """Whether iterating once more will start from the first byte."""
        return self._once is None or self._once.can_open

    def __aiter__(self) -> AsyncIterator[bytes]:
        return aiter(self._factory())

    def __repr__(self) -> str:
        return f"AsyncSizedSource(size={self.size}, filename={self.filename!r})"


#: What :func:`inspect_upload` and :func:`~pixverse_async.uploads.build_multipart` accept.
UploadSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, AsyncSizedSource]


class _OnceStream:
    """Records the first reader's chunks so a second reader gets the whole stream."""

    def __init__(self, iterable: AsyncIterable[bytes]) -> None:
        self._it = aiter(iterable)
        self._chunks: list[bytes] = []
        self._recorded = 0
        self._opens = 0
        self._overflow = False
        self._exhausted = False

    @property
    def can_open(self) -> bool:
        return self._opens == 0 or (self._opens == 1 and not self._overflow)

    def open(self) -> AsyncIterator[bytes]:
        if self._opens == 0:
            self._opens = 1
            return self._record()
        if self._opens == 1 and not self._overflow:
            self._opens = 2
            return self._replay()
        raise SourceConsumedError(
            "this single-use stream was already read; give AsyncSizedSource a factory "
            "that returns a fresh iterable to upload it again"
        )

    async def _record(self) -> AsyncIterator[bytes]:
        while True:
            try:
                chunk = await anext(self._it)
            except StopAsyncIteration:
                self._exhausted = True
                return
            if not self._overflow:
                if self._recorded < HEADER_READ_LIMIT + _WINDOW:
                    self._chunks.append(chunk)
                    self._recorded += len(chunk)
                else:  # read past any header: this was an upload, not a peek
                    self._overflow = True
                    self._chunks.clear()
            yield chunk

    async def _replay(self) -> AsyncIterator[bytes]:
        chunks, self._chunks = self._chunks, []
        try:
            for chunk in chunks:
                yield chunk
            while not self._exhausted:
                try:
                    chunk = await anext(self._it)
                except StopAsyncIteration:
                    self._exhausted = True
                    return
                yield chunk
        finally:
            await _aclose(self._it)


async def _aclose(it: object) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await aclose()


@attrs.frozen(kw_only=True)
class UploadInfo:
    """The result of :func:`inspect_upload`: what will be sent, and under which name.

    ``filename`` is the name sent in the multipart part (the given name, with the format's
    extension appended when it had none the spec knows); ``source_name`` names the source in
    messages (the path as given, ``name=``, ``"<bytes>"`` or ``"<stream>"``); ``field`` is
    the multipart field (``"image"`` or ``"file"``). ``width``/``height`` are set for images
    (``None`` only if the JPEG frame header lies beyond :data:`HEADER_READ_LIMIT`).

    Example::

        info = await inspect_upload("cat.png", kind="image")
        info.mime, info.size, (info.width, info.height)   # ('image/png', 48213, (640, 480))
    """

    filename: str
    size: int
    type: SniffedType
    field: str
    source_name: str
    width: int | None = None
    height: int | None = None

    @property
    def mime(self) -> str:
        """The MIME type sent as the part's ``Content-Type`` (from the content, not the name)."""
        return self.type.mime

    @property
    def kind(self) -> str:
        """``"image"``, ``"video"`` or ``"audio"``."""
        return self.type.kind

    @property
    def format(self) -> str:
        """The sniffed format's short name (``"PNG"``, ``"MP4"``, ...)."""
        return self.type.format


def is_url(source: object) -> bool:
    """Whether ``source`` is an ``http://`` or ``https://`` URL (sent as ``*_url``, unchecked).

    Example::

        >>> is_url("https://example.com/cat.png"), is_url("cat.png")
        (True, False)
    """
    return isinstance(source, str) and source[:8].lower().startswith(("http://", "https://"))


def field_for(kind: UploadKind) -> str:
    """The multipart field name of an upload kind: ``"image"`` or ``"file"``."""
    return "image" if kind == "image" else "file"


async def inspect_upload(
    source: UploadSource, *, kind: UploadKind, name: str | None = None
) -> UploadInfo:
    """Check a file against the upload rules before anything is sent; describe it.

    ``kind="image"`` checks against ``POST /openapi/v2/image/upload`` (PNG, JPEG or WebP,
    under 20 MiB, at most 10000 x 10000 px); ``kind="media"`` against
    ``POST /openapi/v2/media/upload`` (MP4, MOV, WebM, MP3, WAV, M4A or AAC, at most 50 MiB).
    ``name`` overrides the file name sent (default: the path's base name, the stream's
    ``filename``, or ``"upload"``).

    Checks, in this order, each raising its own :class:`~pixverse_async.ValidationError`:

    1. size 0: :class:`EmptyFileError`; over the limit: :class:`FileTooLargeError`
       (the size comes from ``stat``/``len``/the declared size; nothing is read yet);
    2. the type, sniffed from the bytes: unknown or of the other kind:
       :class:`UnsupportedFileTypeError`; too short to hold its signature:
       :class:`TruncatedFileError`;
    3. the name's extension, when it is one the spec names (``.png .jpg .jpeg .webp .mp4
       .mov .webm .mp3 .wav .m4a .aac``), must agree with the content:
       :class:`ExtensionMismatchError`. An unknown or missing extension is allowed: the
       format's extension is appended to the name sent (``photo`` -> ``photo.jpg``).
       MP4, MOV and M4A share one container, so among them the ``ftyp`` brand decides when
       it is specific (``qt``, ``M4A``) and the extension when it is generic (``isom``...);
    4. headers that claim more bytes than the file has, or that cannot be parsed:
       :class:`TruncatedFileError`; images wider or taller than 10000 px:
       :class:`ImageDimensionsError`.

    A file that is shorter than measured while being read raises :class:`FileChangedError`.
    A missing path raises :class:`FileMissingError` (also a ``FileNotFoundError``), any other
    failure to open or read it :class:`FileUnreadableError` (also an ``OSError``). URLs raise
    ``ValidationError``: send them as ``image_url``/``file_url`` instead (see :func:`is_url`).

    Example::

        info = await inspect_upload("cat.png", kind="image")
        form = build_multipart(info.field, info, "cat.png", progress=None)
    """
    if kind not in ("image", "media"):
        raise ValidationError("kind", f"must be 'image' or 'media' (got {kind!r:.60})", kind)
    field = field_for(kind)
    if is_url(source):
        raise ValidationError(
            field, f"URLs are not inspected: send {source!r} as {field}_url", source
        )
    reader: _WindowReader
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source).cast("B")
        size = view.nbytes
        source_name = name or "<bytes>"
        filename = name or "upload"
        reader = _BytesReader(view, size)
    elif isinstance(source, AsyncSizedSource):
        size = source.size
        source_name = name or source.filename or "<stream>"
        filename = name or source.filename or "upload"
        reader = _StreamReader(source, size)
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            st = await aiofiles.os.stat(path)
        except OSError as exc:
            raise file_error(field, path, exc) from exc
        source_name = path
        filename = name or os.path.basename(path)
        if not stat.S_ISREG(st.st_mode):
            formats = _IMAGE_FORMATS if kind == "image" else _MEDIA_FORMATS
            raise UnsupportedFileTypeError(
                field,
                path,
                detected=None,
                accepted=tuple(f.format for f in formats),
                reason="not a regular file",
            )
        size = st.st_size
        reader = _FileReader(path, size)
    else:
        raise TypeError(
            f"source must be a path, bytes or an AsyncSizedSource, not {type(source).__name__}"
        )

    _check_size(field, source_name, size, kind)
    async with reader:
        try:
            return await _inspect_content(reader, field, source_name, filename, size, kind)
        except UploadError:
            raise
        except OSError as exc:  # the file could not be opened or read
            raise file_error(field, source_name, exc) from exc
        except HeaderShortRead as exc:
            raise FileChangedError(
                field,
                source_name,
                expected=size,
                actual=exc.actual,
                detail=f"it ended after {exc.actual} bytes",
            ) from None


def _check_size(field: str, source_name: str, size: int, kind: UploadKind) -> None:
    if size == 0:
        raise EmptyFileError(field, source_name)
    if kind == "image" and size >= Limits.IMAGE_MAX_BYTES:
        raise FileTooLargeError(
            field,
            source_name,
            size=size,
            limit=Limits.IMAGE_MAX_BYTES,
            inclusive=False,
            what="images",
        )
    if kind == "media" and size > Limits.MEDIA_MAX_BYTES:
        raise FileTooLargeError(
            field,
            source_name,
            size=size,
            limit=Limits.MEDIA_MAX_BYTES,
            inclusive=True,
            what="video and audio files",
        )


async def _inspect_content(
    reader: _WindowReader,
    field: str,
    source_name: str,
    filename: str,
    size: int,
    kind: UploadKind,
) -> UploadInfo:
    accepted = _IMAGE_FORMATS if kind == "image" else _MEDIA_FORMATS
    accepted_names = tuple(f.format for f in accepted)
    head = await reader.read(0, min(size, SNIFF_BYTES))

    # 2. the type, from the bytes
    sniffed = sniff(head)
    if sniffed is MP3 and head.startswith(b"ID3"):
        sniffed = await _after_id3(reader, head, size, field, source_name)
    if sniffed is None:
        partial = truncated_signature(head)
        if partial is not None:
            raise TruncatedFileError(
                field, source_name, format=partial[0], size=size, needed=partial[1]
            )
        raise UnsupportedFileTypeError(
            field, source_name, detected=describe_unknown(head), accepted=accepted_names
        )
    if sniffed not in accepted:
        detected = f"{sniffed.format} ({sniffed.kind})"
        raise UnsupportedFileTypeError(
            field, source_name, detected=detected, accepted=accepted_names
        )

    # 3. the name's extension against the content
    declared = format_for_extension(filename)
    if declared is None:
        filename += sniffed.extension
    elif sniffed in ISO_BMFF and declared in ISO_BMFF:
        sniffed = _refine_isobmff(head, declared)
    elif declared is not sniffed:
        raise ExtensionMismatchError(
            field,
            source_name,
            extension=filename[filename.rfind(".") :],
            declared=declared.format,
            detected=sniffed.format,
        )

    # 4. headers against the file's size; image dimensions
    _check_container_size(head, sniffed, size, field, source_name)
    width = height = None
    if sniffed.kind == "image":
        try:
            width, height = await read_image_size(sniffed, reader)
        except HeaderTruncated as exc:
            raise TruncatedFileError(
                field, source_name, format=sniffed.format, size=size, needed=exc.needed
            ) from None
        except HeaderCorrupt as exc:
            raise TruncatedFileError(
                field, source_name, format=sniffed.format, size=size, reason=str(exc)
            ) from None
        except HeaderUnsupported as exc:
            raise UnsupportedFileTypeError(
                field,
                source_name,
                detected=sniffed.format,
                accepted=accepted_names,
                reason=f"this {sniffed.format} cannot be read: {exc}",
            ) from None
        except HeaderScanLimit:
            pass  # dimensions unknown: the service still checks them
        side = Limits.IMAGE_MAX_SIDE_PX
        if width is not None and height is not None and (width > side or height > side):
            raise ImageDimensionsError(
                field, source_name, width=width, height=height, max_side=side
            )
    return UploadInfo(
        filename=filename,
        size=size,
        type=sniffed,
        field=field,
        source_name=source_name,
        width=width,
        height=height,
    )


async def _after_id3(
    reader: _WindowReader, head: bytes, size: int, field: str, source_name: str
) -> SniffedType:
    """An ID3 tag may front ADTS AAC as well as MP3: look at the first frame after it."""
    end = id3_tag_end(head)
    if end is None:
        return MP3
    if end > size:
        raise TruncatedFileError(field, source_name, format="MP3", size=size, needed=end)
    if end + 7 <= len(head):
        return sniff(head[end : end + 7]) or MP3
    if end + 7 > size:
        return MP3
    try:
        frame = await reader.read(end, 7)
    except HeaderScanLimit:
        return MP3
    return AAC if sniff(frame) is AAC else MP3


def _refine_isobmff(head: bytes, declared: SniffedType) -> SniffedType:
    brands = ftyp_brands(head)
    major = brands[0] if brands else b""
    if major == b"qt  ":
        return MOV
    if major in (b"M4A ", b"M4B "):
        return M4A
    return declared  # generic brand (isom, mp42...): the extension says which


def _check_container_size(
    head: bytes, sniffed: SniffedType, size: int, field: str, source_name: str
) -> None:
    claimed: int | None = None
    if sniffed in (WEBP, WAV) and len(head) >= 8:
        (riff,) = struct.unpack("<I", head[4:8])
        if riff not in (0, 0xFFFFFFFF):  # streaming writers leave these placeholders
            claimed = riff + 8
    elif sniffed in ISO_BMFF and len(head) >= 8:
        (box,) = struct.unpack(">I", head[:4])
        if box > 1:  # 0: to end of file, 1: 64-bit size follows
            claimed = box
    if claimed is not None and claimed > size:
        raise TruncatedFileError(
            field, source_name, format=sniffed.format, size=size, needed=claimed
        )


# ------------------------------------------------------------------------------ readers


class _WindowReader:
    """Bounded random access to a source's first bytes (implements ``HeaderSource``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._used = 0
        self._window = b""
        self._window_start = 0

    async def read(self, offset: int, n: int) -> bytes:
        end = offset + n
        if end > self.size:
            raise HeaderTruncated(end)
        rel = offset - self._window_start
        if rel >= 0 and end <= self._window_start + len(self._window):
            return self._window[rel : rel + n]
        want = max(n, min(_WINDOW, self.size - offset))
        if self._used >= HEADER_READ_LIMIT:
            raise HeaderScanLimit()
        data = await self._fetch(offset, want)
        if len(data) < n:
            raise HeaderShortRead(offset + len(data))
        self._window, self._window_start = data, offset
        return data[:n]

    async def _fetch(self, offset: int, n: int) -> bytes:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the reader holds."""

    async def __aenter__(self) -> _WindowReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _BytesReader(_WindowReader):
    def __init__(self, view: memoryview, size: int) -> None:
        super().__init__(size)
        self._view = view

    async def _fetch(self, offset: int, n: int) -> bytes:
        self._used += n
        return bytes(self._view[offset : offset + n])


_ORPHAN_CLOSES: set[asyncio.Task[None]] = set()


async def open_binary(path: str) -> AsyncBufferedReader:
    """``aiofiles.open(path, "rb")``, without leaking the file if the caller is cancelled.

    aiofiles opens in a worker thread; a cancellation that lands while the thread runs drops
    its result, and the file it opened stays open until garbage collection (ResourceWarning).
    That happens to an upload whose body write aiohttp cancels as the answer arrives early
    (a 429, or a refusal before the body was read). Here the open is shielded and, if the
    caller was cancelled, the file is closed as soon as it exists.
    """
    opening = asyncio.ensure_future(_open_binary(path))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_orphan)
        raise


async def _open_binary(path: str) -> AsyncBufferedReader:
    return await aiofiles.open(path, "rb")


def _close_orphan(opening: asyncio.Future[AsyncBufferedReader]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    task = asyncio.ensure_future(_close(opening.result()))
    _ORPHAN_CLOSES.add(task)
    task.add_done_callback(_ORPHAN_CLOSES.discard)


async def _close(file: AsyncBufferedReader) -> None:
    await file.close()


class _FileReader(_WindowReader):
    def __init__(self, path: str, size: int) -> None:
        super().__init__(size)
        self._path = path
        self._file: AsyncBufferedReader | None = None

    async def _fetch(self, offset: int, n: int) -> bytes:
        if self._file is None:
            self._file = await open_binary(self._path)
        await self._file.seek(offset)
        data = await self._file.read(n)
        self._used += len(data)
        return data

    async def aclose(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            await file.close()


class _StreamReader(_WindowReader):
    """Forward-only: bytes skipped over count against the read budget too."""

    def __init__(self, source: AsyncSizedSource, size: int) -> None:
        super().__init__(size)
        self._source = source
        self._it: AsyncIterator[bytes] | None = None
        self._buf = bytearray()
        self._buf_start = 0
        self._done = False

    async def _fetch(self, offset: int, n: int) -> bytes:
        if offset < self._buf_start:
            raise RuntimeError("stream header reads must move forward")  # pragma: no cover
        if self._it is None:
            self._it = aiter(self._source)
        drop = min(offset - self._buf_start, len(self._buf))
        del self._buf[:drop]
        self._buf_start += drop
        while not self._done and self._buf_start + len(self._buf) < offset + n:
            if self._used >= HEADER_READ_LIMIT:
                raise HeaderScanLimit()
            try:
                chunk = await anext(self._it)
            except StopAsyncIteration:
                self._done = True
                break
            self._used += len(chunk)
            self._buf += chunk
            if self._buf_start + len(self._buf) <= offset:  # still skipping
                self._buf_start += len(self._buf)
                self._buf.clear()
        available = self._buf_start + len(self._buf)
        if available < offset + n:
            raise HeaderShortRead(available)
        rel = offset - self._buf_start
        return bytes(self._buf[rel : rel + n])

    async def aclose(self) -> None:
        if self._it is not None:
            it, self._it = self._it, None
            await _aclose(it)
