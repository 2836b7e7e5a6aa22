"""Image uploads: ``client.images``.

The upload machinery shared with :mod:`.media` lives here too (:func:`send_upload`): check the
file before the first byte leaves (:func:`~pixverse_async.uploads.inspect_upload`), then
stream it as ``multipart/form-data`` with a ``Content-Length`` (never read whole into memory),
or send an http(s) URL as the ``*_url`` form field so the service fetches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
from aiohttp import MultipartWriter

from ..constants import Paths
from ..models import ImageUpload, from_json
from ..options import RequestOptions, Timeout, as_text, merge_extra, request_options
from ..session import Session
from ..uploads import (
    ProgressCallback,
    UploadKind,
    UploadSource,
    build_multipart,
    field_for,
    inspect_upload,
    is_url,
    upload_error_from,
)

__all__ = ["UPLOAD_TIMEOUT", "Images", "send_upload"]

#: Uploads have no overall deadline (50 MB on a slow link takes minutes); a stalled
#: connection still fails after ``sock_read`` seconds without an answer.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=15, sock_read=120)


async def send_upload(
    session: Session,
    path: str,
    kind: UploadKind,
    source: UploadSource,
    *,
    progress: ProgressCallback | None,
    name: str | None,
    options: RequestOptions | None,
    trace_id: str | None,
) -> Any:
    """Upload ``source`` to ``path`` and return the envelope's ``Resp``.

    Everything the service would refuse for the file itself (size, type, extension,
    header, dimensions) raises a :class:`~pixverse_async.ValidationError` here, with nothing
    sent. Uploads count as paid calls: they are retried only when the service certainly did
    not receive them; every retry re-opens the file and streams it from the start.
    ``options.extra_body`` keys are sent as extra text form fields; the timeout defaults to
    :data:`UPLOAD_TIMEOUT` rather than the client's.
    """
    file_field = field_for(kind)
    extra = _form_fields(options, taken=(file_field, file_field + "_url"))
    if isinstance(source, str) and is_url(source):
        url, url_field = source, file_field + "_url"

        def body() -> MultipartWriter:
            form = MultipartWriter("form-data")
            form.append(url).set_content_disposition("form-data", name=url_field)
            return _with_fields(form, extra)

    else:
        info = await inspect_upload(source, kind=kind, name=name)

        def body() -> MultipartWriter:
            return _with_fields(build_multipart(info.field, info, source, progress), extra)

    options = options or RequestOptions()
    # the form carries extra_body already; the upload's own default timeout
    options = attrs.evolve(options, extra_body=None, timeout=options.timeout or UPLOAD_TIMEOUT)
    return await session.request(
        "POST",
        path,
        body=body,
        paid=True,
        options=options,
        trace_id=trace_id,
        body_error=upload_error_from,
    )


def _form_fields(options: RequestOptions | None, taken: tuple[str, ...]) -> list[tuple[str, str]]:
    """``extra_body`` as form fields; a field the upload already sends is a ValidationError."""
    if options is None or not options.extra_body:
        return []
    merge_extra(dict.fromkeys(taken), options.extra_body)  # refuses a collision
    return [(key, as_text(key, value)) for key, value in options.extra_body.items()]


def _with_fields(form: MultipartWriter, fields: list[tuple[str, str]]) -> MultipartWriter:
    for key, text in fields:
        form.append(text).set_content_disposition("form-data", name=key)
    return form


class Images:
    """``client.images``: upload images for image-to-video, transitions, fusion and the like.

    Example::

        import asyncio
        from pixverse_async import PixVerse
        from pixverse_async.emulator import Emulator

        PNG_1x1 = bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")

        async def main() -> None:
            async with Emulator(api_keys={"k"}) as emu:
                async with PixVerse(api_key="k", base_url=emu.base_url) as client:
                    image = await client.images.upload(PNG_1x1, name="dot.png")
                    print(image.img_id, image.img_url)

        asyncio.run(main())
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    async def upload(
        self,
        source: UploadSource,
        *,
        progress: ProgressCallback | None = None,
        name: str | None = None,
        trace_id: str | None = None,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ImageUpload:
        """Upload an image (``POST /openapi/v2/image/upload``); use its ``img_id`` afterwards.

        ``source`` is a path, ``bytes``, an :class:`~pixverse_async.uploads.AsyncSizedSource`
        or an ``http(s)://`` URL (sent as ``image_url`` for the service to fetch; nothing is
        checked or streamed, and ``progress`` and ``name`` are not used). The image must be
        PNG, JPEG or WebP by content, under 20 MiB and at most 10000 x 10000 px; a file that
        breaks a rule raises a :class:`~pixverse_async.uploads.UploadError` (a
        :class:`~pixverse_async.ValidationError`) before anything is sent, and one that
        changes while it streams raises :class:`~pixverse_async.uploads.FileChangedError`.

        ``progress(sent, total)`` is called as the bytes go out (``sent`` restarts at 0 on
        a retry). ``name`` is the file name sent (default: the path's base name). ``timeout``
        (seconds or an ``aiohttp.ClientTimeout``) defaults to :data:`UPLOAD_TIMEOUT` (no
        overall deadline; 120 s without an answer), not to the client's timeout.
        ``max_retries`` and ``extra_headers`` apply to this call; ``extra_body`` keys are sent
        as extra form fields (see :mod:`~pixverse_async.options`).

        Example::

            image = await client.images.upload(
                "cat.png", progress=lambda sent, total: print(f"{sent}/{total}"))
            job = await client.videos.image_to_video(
                img_id=image.img_id, prompt="the cat yawns", model="v5", duration=5,
                quality="540p")
        """
        resp = await send_upload(
            self._session,
            Paths.IMAGE_UPLOAD,
            "image",
            source,
            progress=progress,
            name=name,
            options=request_options(
                timeout=timeout,
                max_retries=max_retries,
                extra_headers=extra_headers,
                extra_body=extra_body,
            ),
            trace_id=trace_id,
        )
        return from_json(ImageUpload, resp)
