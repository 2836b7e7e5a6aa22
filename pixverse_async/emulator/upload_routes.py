"""The emulator's upload routes: ``POST /openapi/v2/image/upload`` and ``/media/upload``.

Both read a ``multipart/form-data`` body part by part and stream the file part to a temporary
file in the emulator's storage folder (never into memory; the file is named by a UUID and then
by the upload id, never by the client's file name). Limits are enforced while streaming: as
soon as the file part passes the limit the route stops reading and answers (HTTP 413,
``Connection: close``), and a ``Content-Length`` already larger than the limit plus
:data:`MULTIPART_OVERHEAD` is refused before the body is read. The type comes from the
received bytes (:mod:`.sniff`), never from the part's ``Content-Type`` or file name (except
that an audio ``Content-Type`` or a ``.m4a`` name makes a plain-brand ISO-BMFF file M4A).

Form fields: images take ``image`` (file) or ``image_url``; media take ``file`` or
``file_url``. An empty file part counts as absent (the spec's curl example sends an empty
``image`` next to ``image_url``); a non-empty file *and* a URL is refused. Other fields are
read and dropped (together at most the file limit). A URL field holds at most
:data:`FIELD_LIMIT` bytes of UTF-8.

Error codes (``ErrCode``; HTTP 200 unless stated):

=========================================== ============ ============================
failure                                     image        video / audio
=========================================== ============ ============================
neither file nor URL (or an empty file)     400011       400011
file over the limit (HTTP 413, cut off)     500030       500030
header cut short or corrupt                 500031       500031
not an accepted format (sniffed)            500032       400017
image wider or taller than 10000 px         500033       --
file and URL both given, duplicate parts,   400017       400017
URL not http(s), URL extension unknown,
body not multipart, field too long
the client went away mid-body (HTTP 400)    500041       500041
=========================================== ============ ============================

The spec names no media codes; these reuse the image family's "too large" and "unreadable"
codes and the generic invalid-parameter code for a wrong type, the code the media page's
siblings use for values outside a list. Media duration (30 s) and resolution (1920 px) are
not checked: that needs decoding, which the emulator does not do.

URLs (``image_url`` / ``file_url``): the emulator cannot fetch the internet, so any http(s)
URL is registered as an upload of unknown content: an image (MIME from the extension, ``""``
when it says nothing), or for media a video (``.mp4 .mov .webm``) or audio (``.mp3 .wav .m4a
.aac``) by extension, anything else 400017. Such an upload answers with the URL it was given
and its :class:`~.state.Upload` has ``size == 0`` and a ``{id}.url`` file holding the URL.

Stored uploads are served back at ``GET /media/uploads/{id}{ext}`` (the ``img_url`` / ``url``
of the answer), with the sniffed MIME type.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiofiles
from aiohttp import BodyPartReader, web
from yarl import URL

from ..constants import API_KEY_HEADER, ErrCode, Limits, Paths
from .responses import envelope, error

if TYPE_CHECKING:
    from .host import RouteHost
from .sniff import Format, Unreadable, identify, image_size
from .state import Upload, parse_id

__all__ = ["FIELD_LIMIT", "MAX_IMAGE_SIDE", "MULTIPART_OVERHEAD", "SERVE_PREFIX", "UploadRoutes"]

#: Bytes of multipart framing allowed on top of a file's limit before ``Content-Length``
#: alone condemns a request.
MULTIPART_OVERHEAD = 64 * 1024
#: Largest URL field (``image_url``, ``file_url``), in bytes.
FIELD_LIMIT = 8 * 1024
MAX_IMAGE_SIDE = Limits.IMAGE_MAX_SIDE_PX
SERVE_PREFIX = "/media/uploads/"
_READ_CHUNK = 256 * 1024
_URL_MAX_CHARS = 2048
_MEDIA_EXTENSIONS = {
    ".mp4": ("video", "video/mp4"),
    ".mov": ("video", "video/quicktime"),
    ".webm": ("video", "video/webm"),
    ".mp3": ("audio", "audio/mpeg"),
    ".wav": ("audio", "audio/wav"),
    ".m4a": ("audio", "audio/x-m4a"),
    ".aac": ("audio", "audio/aac"),
}
_IMAGE_EXTENSIONS = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


@dataclass(frozen=True)
class _Endpoint:
    image: bool
    file_field: str
    url_field: str
    bad_format: int


_IMAGE = _Endpoint(True, "image", "image_url", ErrCode.IMAGE_BAD_FORMAT)
_MEDIA = _Endpoint(False, "file", "file_url", ErrCode.INVALID_PARAMETER)


class _Reject(Exception):
    def __init__(self, code: int, message: str, *, status: int = 200, close: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.close = close


@dataclass
class _Received:
    """A file part written to ``path``: its size and what its headers hinted."""

    path: Path
    size: int
    audio_hint: bool


class UploadRoutes:
    """Adds the upload routes to the emulator's application."""

    def __init__(self, app: RouteHost) -> None:
        self.app = app

    def add_to(self, web_app: web.Application) -> None:
        web_app.router.add_post(Paths.IMAGE_UPLOAD, self.upload_image)
        web_app.router.add_post(Paths.MEDIA_UPLOAD, self.upload_media)
        web_app.router.add_get(SERVE_PREFIX + "{name}", self.serve)

    async def upload_image(self, request: web.Request) -> web.StreamResponse:
        return await self._upload(request, _IMAGE)

    async def upload_media(self, request: web.Request) -> web.StreamResponse:
        return await self._upload(request, _MEDIA)

    # ------------------------------------------------------------------------- the body

    async def _upload(self, request: web.Request, ep: _Endpoint) -> web.StreamResponse:
        limit = self.app.config.max_image_bytes if ep.image else self.app.config.max_media_bytes
        received: _Received | None = None
        try:
            length = request.content_length
            if length is not None and length > limit + MULTIPART_OVERHEAD:
                raise _Reject(
                    ErrCode.IMAGE_TOO_LARGE,
                    f"the body has {length} bytes; the file may have at most {limit}",
                    status=413,
                    close=True,
                )
            received, url = await self._read_form(request, ep, limit)
            if received is not None:
                if url is not None:
                    raise _Reject(
                        ErrCode.INVALID_PARAMETER,
                        f"give either {ep.file_field} or {ep.url_field}, not both",
                    )
                fmt = await asyncio.to_thread(self._check_file, received, ep)
                upload = self._store(request, received, fmt)
                received = None  # stored: no longer ours to delete
                return envelope(self._answer(upload, fmt.kind, self._url(upload), ep))
            if url is None:
                raise _Reject(
                    ErrCode.EMPTY_PARAMETER,
                    f"either {ep.file_field} or {ep.url_field} is required",
                )
            kind, mime = self._check_url(url, ep)
            upload = self._register_url(request, kind, mime, url)
            return envelope(self._answer(upload, kind, url, ep))
        except _Reject as rej:
            response = error(rej.code, rej.message, status=rej.status)
            if rej.close:
                response.force_close()
            return response
        finally:
            if received is not None:
                received.path.unlink(missing_ok=True)

    async def _read_form(
        self, request: web.Request, ep: _Endpoint, limit: int
    ) -> tuple[_Received | None, str | None]:
        """Every part of the body: the file streamed to disk, the URL, the rest dropped."""
        if request.content_type != "multipart/form-data" or "boundary" not in (
            request.headers.get("Content-Type", "")
        ):
            raise _Reject(ErrCode.INVALID_PARAMETER, "the body must be multipart/form-data")
        received: _Received | None = None
        url: str | None = None
        ignored = 0  # bytes of parts that are not ours, dropped
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise _Reject(ErrCode.INVALID_PARAMETER, "nested multipart is not supported")
                if part.name == ep.file_field:
                    if received is not None:
                        raise _Reject(ErrCode.INVALID_PARAMETER, f"{ep.file_field} given twice")
                    received = await self._receive(part, ep, limit)
                    if received.size == 0:  # an empty file part counts as absent
                        received.path.unlink(missing_ok=True)
                        received = None
                elif part.name == ep.url_field:
                    if url is not None:
                        raise _Reject(ErrCode.INVALID_PARAMETER, f"{ep.url_field} given twice")
                    url = (await _read_field(part)).strip() or None
                else:
                    ignored += await _drain(part, limit - ignored)
        except _Reject:
            if received is not None:
                received.path.unlink(missing_ok=True)
            raise
        except Exception as exc:  # what aiohttp raises for a broken or cut-off body varies
            if received is not None:
                received.path.unlink(missing_ok=True)
            transport = request.transport
            if transport is None or transport.is_closing() or isinstance(exc, OSError):
                raise _Reject(
                    ErrCode.IMAGE_UPLOAD_FAILED,
                    f"the upload was interrupted: {type(exc).__name__}",
                    status=400,
                ) from exc
            raise _Reject(
                ErrCode.INVALID_PARAMETER, f"malformed multipart body: {exc}", status=400
            ) from exc
        return received, url

    async def _receive(self, part: BodyPartReader, ep: _Endpoint, limit: int) -> _Received:
        """Stream one file part to a new file; stop as soon as it passes ``limit``."""
        declared = part.headers.get("Content-Type", "").lower()
        filename = (part.filename or "").lower()
        hint = declared.startswith("audio/") or filename.endswith(".m4a")
        path = self.app.storage / f".incoming-{uuid.uuid4().hex}"
        size = 0
        try:
            async with aiofiles.open(path, "wb") as f:
                while chunk := await part.read_chunk(_READ_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        what = "images must be" if ep.image else "video and audio files must be"
                        raise _Reject(
                            ErrCode.IMAGE_TOO_LARGE,
                            f"the file passed {limit} bytes; {what} at most {limit} bytes",
                            status=413,
                            close=True,
                        )
                    await f.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return _Received(path, size, hint)

    # ----------------------------------------------------------------------- the checks

    @staticmethod
    def _check_file(received: _Received, ep: _Endpoint) -> Format:
        """Sniff the stored bytes; for images read the dimensions. Runs in a thread."""
        unreadable = ErrCode.IMAGE_UNREADABLE
        with open(received.path, "rb") as f:
            try:
                fmt = identify(f, received.size, audio_hint=received.audio_hint)
            except Unreadable as exc:
                raise _Reject(unreadable, f"the file cannot be read: {exc}") from None
            wanted = ("image",) if ep.image else ("video", "audio")
            if fmt is None or fmt.kind not in wanted:
                found = "not a known format" if fmt is None else f"{fmt.name} ({fmt.kind})"
                takes = "png, jpeg or webp" if ep.image else "mp4, mov, webm, mp3, wav, m4a or aac"
                raise _Reject(ep.bad_format, f"the file is {found}; this upload takes {takes}")
            if fmt.kind == "image":
                try:
                    width, height = image_size(f, fmt)
                except Unreadable as exc:
                    raise _Reject(unreadable, f"the {fmt.name} header: {exc}") from None
                if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
                    raise _Reject(
                        ErrCode.IMAGE_BAD_DIMENSIONS,
                        f"the image is {width}x{height} px; at most "
                        f"{MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} px",
                    )
        return fmt

    @staticmethod
    def _check_url(url: str, ep: _Endpoint) -> tuple[str, str]:
        """``(kind, mime)`` of an upload by URL; what the extension says, nothing fetched."""
        field = ep.url_field
        try:
            parsed = URL(url)
        except ValueError:
            parsed = None
        if (
            parsed is None
            or len(url) > _URL_MAX_CHARS
            or parsed.scheme not in ("http", "https")
            or not parsed.host
        ):
            raise _Reject(ErrCode.INVALID_PARAMETER, f"{field} must be an http(s) URL")
        suffix = Path(parsed.path).suffix.lower()
        if ep.image:
            return "image", _IMAGE_EXTENSIONS.get(suffix, "")
        if suffix not in _MEDIA_EXTENSIONS:
            raise _Reject(
                ErrCode.INVALID_PARAMETER,
                f"{field}: cannot tell the media type of {suffix or 'a URL without extension'}; "
                "use .mp4, .mov, .webm, .mp3, .wav, .m4a or .aac",
            )
        return _MEDIA_EXTENSIONS[suffix]

    # ---------------------------------------------------------------------- state, answers

    def _store(self, request: web.Request, received: _Received, fmt: Format) -> Upload:
        upload_id = self.app.state.next_id()
        path = self.app.storage / f"{upload_id}{fmt.ext}"
        received.path.rename(path)
        upload = Upload(
            upload_id=upload_id,
            kind=fmt.kind,
            mime=fmt.mime,
            path=path,
            size=received.size,
            api_key=request.headers[API_KEY_HEADER],
        )
        self.app.state.uploads[upload_id] = upload
        return upload

    def _register_url(self, request: web.Request, kind: str, mime: str, url: str) -> Upload:
        upload_id = self.app.state.next_id()
        path = self.app.storage / f"{upload_id}.url"
        path.write_text(url + "\n", encoding="utf-8")
        upload = Upload(
            upload_id=upload_id,
            kind=kind,
            mime=mime,
            path=path,
            size=0,
            api_key=request.headers[API_KEY_HEADER],
        )
        self.app.state.uploads[upload_id] = upload
        return upload

    def _url(self, upload: Upload) -> str:
        return f"{self.app.base_url}{SERVE_PREFIX}{upload.path.name}"

    @staticmethod
    def _answer(upload: Upload, kind: str, url: str, ep: _Endpoint) -> dict[str, object]:
        if ep.image:
            return {"img_id": upload.upload_id, "img_url": url}
        return {"media_id": upload.upload_id, "media_type": kind, "url": url}

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """``GET /media/uploads/{id}{ext}``: a stored upload's bytes."""
        name = request.match_info["name"]
        stem = name.split(".", 1)[0]
        upload_id = parse_id(stem)
        upload = None if upload_id is None else self.app.state.uploads.get(upload_id)
        if upload is None or upload.size == 0 or upload.path.name != name:
            raise web.HTTPNotFound()
        return web.FileResponse(upload.path, headers={"Content-Type": upload.mime})


async def _read_field(part: BodyPartReader) -> str:
    """A URL part, at most :data:`FIELD_LIMIT` bytes, as UTF-8."""
    data = bytearray()
    while chunk := await part.read_chunk(FIELD_LIMIT):
        data += chunk
        if len(data) > FIELD_LIMIT:
            raise _Reject(
                ErrCode.INVALID_PARAMETER,
                f"field {part.name!r} is longer than {FIELD_LIMIT} bytes",
            )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Reject(ErrCode.INVALID_PARAMETER, f"field {part.name!r} is not UTF-8") from None


async def _drain(part: BodyPartReader, budget: int) -> int:
    """Read and drop a part this upload does not take; at most ``budget`` bytes."""
    size = 0
    while chunk := await part.read_chunk(_READ_CHUNK):
        size += len(chunk)
        if size > budget:
            raise _Reject(
                ErrCode.IMAGE_TOO_LARGE,
                f"the unexpected field {part.name!r} passed {budget} bytes",
                status=413,
                close=True,
            )
    return size
