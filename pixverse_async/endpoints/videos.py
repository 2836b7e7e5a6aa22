"""Generations and their status: ``client.videos``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from ..constants import Paths
from ..downloads import destination_for, download_to
from ..errors import PixVerseError
from ..jobs import GenerationJob, PollPolicy
from ..models import GenerationResult, TextToVideo, Video, from_json, to_json
from ..session import Session

DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=15, sock_read=60)


class Videos:
    """``client.videos``: submit generations, read their status.

    Every generation method takes either a request object or its fields as keywords and
    returns a :class:`~pixverse_async.jobs.GenerationJob` once the service accepted it.

    Example::

        job = await client.videos.text_to_video(
            prompt="a paper boat on a stream", model="v5", duration=5, quality="540p",
            aspect_ratio="16:9")
        video = await job.wait()
    """

    def __init__(self, session: Session, poll: PollPolicy) -> None:
        self._session = session
        self.poll = poll

    async def submit(
        self, request: Any, *, max_retries: int | None = None, trace_id: str | None = None
    ) -> GenerationJob:
        """Submit any generation request object; the service charges for it once accepted."""
        resp = await self._submit_raw(request, max_retries=max_retries, trace_id=trace_id)
        result = from_json(GenerationResult, resp)
        return GenerationJob(self, result.video_id, credits=result.credits, request=request)

    async def _submit_raw(
        self, request: Any, *, max_retries: int | None, trace_id: str | None
    ) -> Any:
        return await self._session.request(
            "POST",
            request.path,
            json_body=to_json(request),
            paid=True,
            max_retries=max_retries,
            trace_id=trace_id,
        )

    async def _status_raw(self, video_id: int) -> tuple[Video, Any]:
        raw = await self._session.request("GET", Paths.VIDEO_RESULT_PREFIX + str(int(video_id)))
        return from_json(Video, raw), raw

    async def text_to_video(
        self, request: TextToVideo | None = None, /, **fields: Any
    ) -> GenerationJob:
        """Text-to-video (``POST /openapi/v2/video/text/generate``)."""
        return await self.submit(request if request is not None else TextToVideo(**fields))

    async def download(
        self,
        video: Video | int,
        path: str | os.PathLike[str],
        *,
        progress: Callable[[int, int | None], None] | None = None,
        max_retries: int = 3,
    ) -> Path:
        """Stream a finished video's MP4 to ``path`` (atomically, resuming a partial file).

        ``video`` is a :class:`~pixverse_async.models.Video` or a video id (its status is
        fetched first). When ``path`` is an existing folder the file is
        ``<path>/<video_id>.mp4``. Returns the path written.

        Example::

            video = await job.wait()
            saved = await client.videos.download(video, "videos/")
        """
        if not isinstance(video, Video):
            video = await self.get(video)
        if not video.is_successful or not video.url:
            raise PixVerseError(
                f"video {video.id} has no file to download (status {video.status!r})"
            )
        return await download_to(
            self._session.client_session(),
            video.url,
            destination_for(path, video.id),
            max_retries=max_retries,
            timeout=DOWNLOAD_TIMEOUT,
            progress=progress,
        )

    async def get(self, video_id: int) -> Video:
        """The status of one video (``GET /openapi/v2/video/result/{video_id}``)."""
        video, _ = await self._status_raw(video_id)
        return video
