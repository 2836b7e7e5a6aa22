"""Generations and their status: ``client.videos``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..constants import Paths
from ..downloads import DOWNLOAD_TIMEOUT, destination_for, download_to
from ..errors import PixVerseError, ValidationError
from ..jobs import GenerationJob, PollPolicy
from ..models import (
    Extend,
    Fusion,
    GenerationRequest,
    GenerationResult,
    ImageToVideo,
    LipSync,
    MaskSelection,
    MaskSelectionResult,
    MultiTransition,
    Restyle,
    SoundEffect,
    Swap,
    TextToVideo,
    Transition,
    Video,
    from_json,
    to_json,
)
from ..options import RequestOptions, Timeout, merge_query, request_options
from ..session import Session
from ._coerce import coerce_request


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
        self,
        request: GenerationRequest,
        *,
        max_retries: int | None = None,
        trace_id: str | None = None,
    ) -> GenerationJob:
        """Submit any generation request object; the service charges for it once accepted.

        Retried only when the service certainly did not act on it (see README, "Retries");
        an ambiguous failure raises :class:`~pixverse_async.errors.SubmissionUnknownError`.
        """
        if isinstance(request, MaskSelection):
            raise ValidationError("kind", "mask selection is not a generation: use select_mask()")
        resp = await self._submit_raw(request, max_retries=max_retries, trace_id=trace_id)
        result = from_json(GenerationResult, resp)
        return GenerationJob(self, result.video_id, credits=result.credits, request=request)

    async def _submit_raw(
        self, request: GenerationRequest, *, max_retries: int | None, trace_id: str | None
    ) -> Any:
        return await self._session.request(
            "POST",
            request.path,
            json_body=to_json(request),
            paid=True,
            max_retries=max_retries,
            trace_id=trace_id,
        )

    async def _status_raw(
        self, video_id: int, options: RequestOptions | None = None
    ) -> tuple[Video, Any]:
        raw = await self._session.request(
            "GET", Paths.VIDEO_RESULT_PREFIX + str(int(video_id)), options=options
        )
        return from_json(Video, raw), raw

    async def text_to_video(
        self, request: TextToVideo | None = None, /, **fields: Any
    ) -> GenerationJob:
        """Text-to-video (``POST /openapi/v2/video/text/generate``).

        Takes a :class:`~pixverse_async.models.TextToVideo` or its fields as keywords.
        """
        return await self.submit(coerce_request(TextToVideo, request, fields))

    async def image_to_video(
        self, request: ImageToVideo | None = None, /, **fields: Any
    ) -> GenerationJob:
        """Image-to-video from an uploaded image (``POST /openapi/v2/video/img/generate``).

        Takes a :class:`~pixverse_async.models.ImageToVideo` or its fields as keywords.
        """
        return await self.submit(coerce_request(ImageToVideo, request, fields))

    async def transition(
        self, request: Transition | None = None, /, **fields: Any
    ) -> GenerationJob:
        """First-to-last-frame transition (``POST /openapi/v2/video/transition/generate``).

        Takes a :class:`~pixverse_async.models.Transition` or its fields as keywords.
        """
        return await self.submit(coerce_request(Transition, request, fields))

    async def multi_transition(
        self, request: MultiTransition | None = None, /, **fields: Any
    ) -> GenerationJob:
        """A video through 2 to 7 keyframes (``POST .../multi_transition/generate``).

        Takes a :class:`~pixverse_async.models.MultiTransition` or its fields as keywords.
        """
        return await self.submit(coerce_request(MultiTransition, request, fields))

    async def extend(self, request: Extend | None = None, /, **fields: Any) -> GenerationJob:
        """Extend a generated or uploaded video (``POST /openapi/v2/video/extend/generate``).

        Takes a :class:`~pixverse_async.models.Extend` or its fields as keywords.
        """
        return await self.submit(coerce_request(Extend, request, fields))

    async def fusion(self, request: Fusion | None = None, /, **fields: Any) -> GenerationJob:
        """Reference-to-video from subject and background images (``POST .../fusion/generate``).

        Takes a :class:`~pixverse_async.models.Fusion` or its fields as keywords.
        """
        return await self.submit(coerce_request(Fusion, request, fields))

    async def restyle(self, request: Restyle | None = None, /, **fields: Any) -> GenerationJob:
        """Restyle a video with an effect or a prompt (``POST /openapi/v2/video/restyle/generate``).

        Takes a :class:`~pixverse_async.models.Restyle` or its fields as keywords.
        """
        return await self.submit(coerce_request(Restyle, request, fields))

    async def swap(self, request: Swap | None = None, /, **fields: Any) -> GenerationJob:
        """Swap a masked object for an image (``POST /openapi/v2/video/swap/generate``).

        Takes a :class:`~pixverse_async.models.Swap` or its fields as keywords.
        """
        return await self.submit(coerce_request(Swap, request, fields))

    async def lip_sync(self, request: LipSync | None = None, /, **fields: Any) -> GenerationJob:
        """Lip-sync a video to audio or TTS (``POST /openapi/v2/video/lip_sync/generate``).

        Takes a :class:`~pixverse_async.models.LipSync` or its fields as keywords.
        """
        return await self.submit(coerce_request(LipSync, request, fields))

    async def sound_effect(
        self, request: SoundEffect | None = None, /, **fields: Any
    ) -> GenerationJob:
        """Add sound effects to a video (``POST /openapi/v2/video/sound_effect/generate``).

        Takes a :class:`~pixverse_async.models.SoundEffect` or its fields as keywords.
        """
        return await self.submit(coerce_request(SoundEffect, request, fields))

    async def select_mask(
        self, request: MaskSelection | None = None, /, **fields: Any
    ) -> MaskSelectionResult:
        """Find swappable objects in a video (``POST /openapi/v2/video/mask/selection``).

        Paid, and never retried once the service may have acted. Pass a returned
        ``mask_id`` with the same source and ``keyframe_id`` to :meth:`swap`.

        Example::

            masks = await client.videos.select_mask(video_media_id=media.media_id)
            job = await client.videos.swap(
                video_media_id=media.media_id, keyframe_id=masks.keyframe_id,
                mask_id=masks.mask_info[0].mask_id, img_id=image.img_id, quality="540p")
        """
        req = coerce_request(MaskSelection, request, fields)
        resp = await self._session.request("POST", req.path, json_body=to_json(req), paid=True)
        return from_json(MaskSelectionResult, resp)

    async def download(
        self,
        video: Video | int,
        path: str | os.PathLike[str],
        *,
        progress: Callable[[int, int | None], None] | None = None,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Path:
        """Stream a finished video's MP4 to ``path`` (atomically, resuming a partial file).

        ``video`` is a :class:`~pixverse_async.models.Video` or a video id (its status is
        fetched first). ``path`` names the file, or a folder when it is an existing folder
        or a string ending in a separator (``"out/"``, created if needed): the file is then
        ``<folder>/<video_id>.mp4``. Returns the path written.

        An interrupted transfer is retried by the client's retry policy (``max_retries``
        replaces its count), resuming where it stopped. ``timeout`` replaces
        :data:`~pixverse_async.downloads.DOWNLOAD_TIMEOUT` (no overall deadline, 60 s
        without data). ``extra_headers`` go to the media host (never the API key) and to
        the status call; ``extra_body`` keys are added to the media URL's query string.

        Example::

            video = await job.wait()
            saved = await client.videos.download(video, "videos/")  # videos/<id>.mp4
        """
        options = request_options(
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_body=extra_body,
        )
        if not isinstance(video, Video):
            video = await self.get(
                video, timeout=timeout, max_retries=max_retries, extra_headers=extra_headers
            )
        if not video.is_successful or not video.url:
            raise PixVerseError(
                f"video {video.id} has no file to download (status {video.status})"
            )
        media_timeout, media_query = DOWNLOAD_TIMEOUT, None
        if options is not None:
            media_timeout = options.client_timeout() or DOWNLOAD_TIMEOUT
            if options.extra_body is not None:
                media_query = merge_query(None, options.extra_body)
        return await download_to(
            self._session.client_session(),
            video.url,
            destination_for(path, video.id),
            policy=self._session.retry,
            max_retries=max_retries,
            timeout=media_timeout,
            headers=extra_headers,
            params=media_query,
            progress=progress,
        )

    async def get(
        self,
        video_id: int,
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Video:
        """The status of one video (``GET /openapi/v2/video/result/{video_id}``).

        ``timeout``, ``max_retries``, ``extra_headers`` and ``extra_body`` (sent as query
        parameters: a GET has no body) apply to this call only; see
        :mod:`~pixverse_async.options`.

        Example::

            video = await client.videos.get(job.video_id, timeout=5, max_retries=0)
        """
        options = request_options(
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_body=extra_body,
        )
        video, _ = await self._status_raw(video_id, options)
        return video
