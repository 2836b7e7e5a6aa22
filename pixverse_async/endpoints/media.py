"""Video and audio uploads: ``client.media``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..constants import Paths
from ..models import MediaUpload, from_json
from ..options import Timeout, request_options
from ..session import Session
from ..uploads import ProgressCallback, UploadSource
from .images import send_upload

__all__ = ["Media"]


class Media:
    """``client.media``: upload video and audio for lip sync, extend, swap and the like.

    Example::

        import asyncio
        from pixverse_async import PixVerse
        from pixverse_async.emulator import Emulator

        # the start of an MP4 (an ftyp box); the emulator checks only the header
        CLIP = bytes.fromhex("000000146674797069736f6d0000020069736f6d") + bytes(1000)

        async def main() -> None:
            async with Emulator(api_keys={"k"}) as emu:
                async with PixVerse(api_key="k", base_url=emu.base_url) as client:
                    media = await client.media.upload(CLIP, name="clip.mp4")
                    print(media.media_id, media.media_type, media.url)

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
    ) -> MediaUpload:
        """Upload a video or audio file (``POST /openapi/v2/media/upload``).

        ``source`` is a path, ``bytes``, an :class:`~pixverse_async.uploads.AsyncSizedSource`
        or an ``http(s)://`` URL (sent as ``file_url`` for the service to fetch; nothing is
        checked or streamed). Accepted by content: MP4, MOV, WebM video; MP3, WAV, M4A, AAC
        audio; at most 50 MiB. The answer's ``media_type`` says ``"video"`` or ``"audio"``;
        pass ``media_id`` as ``video_media_id`` / ``audio_media_id`` later. The 30 s and
        1920 px limits are the service's to check (they need decoding).

        Rule breaks raise a :class:`~pixverse_async.uploads.UploadError` (a
        :class:`~pixverse_async.ValidationError`) before anything is sent; a file that changes
        while it streams raises :class:`~pixverse_async.uploads.FileChangedError`.
        ``progress(sent, total)``, ``name``, ``timeout``, ``max_retries``, ``extra_headers``
        and ``extra_body`` are as for
        :meth:`Images.upload <pixverse_async.endpoints.images.Images.upload>`.

        Example::

            audio = await client.media.upload("voice.mp3")
            assert audio.media_type == "audio"
        """
        resp = await send_upload(
            self._session,
            Paths.MEDIA_UPLOAD,
            "media",
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
        return from_json(MediaUpload, resp)
