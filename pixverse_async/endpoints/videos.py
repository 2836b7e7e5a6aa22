"""Generations and their status: ``client.videos``."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ..constants import Paths
from ..errors import PixVerseError, SubmissionUnknownError, ValidationError
from ..jobs.downloads import DOWNLOAD_TIMEOUT, destination_for, download_to
from ..jobs.generation_job import GenerationJob, PollPolicy
from ..models import (
    Extend,
    Fusion,
    GenerationRequest,
    GenerationResult,
    ImageToVideo,
    LipSync,
    MaskSelection,
    MaskSelectionResult,
    Mimic,
    Modify,
    MultiTransition,
    PaidRequest,
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
from ..telemetry.jobs import start_job, submitting
from ._coerce import call_options, coerce_request
from ._typed import generation_method

if TYPE_CHECKING:
    from ..webhooks.hub import CompletionHub, CompletionWatch

_P = TypeVar("_P", bound=PaidRequest)
_CALL_OPTIONS = frozenset({"timeout", "max_retries", "extra_headers", "extra_body"})
_SUBMIT_OPTIONS = _CALL_OPTIONS | {"resend_ambiguous"}


def _with_call_options(request: _P, given: dict[str, Any]) -> _P:
    """``request`` with the per-call options given to the method (validated like fields)."""
    options = {k: v for k, v in given.items() if v is not None}
    return attrs.evolve(request, **options) if options else request


class Videos:
    """``client.videos``: submit generations, read their status.

    Every generation method takes either a request object or its fields as keywords (typed:
    the method has the request class's signature) and returns a
    :class:`~pixverse_async.GenerationJob` once the service accepted it. Each also takes
    the per-call options ``timeout``, ``max_retries``, ``extra_headers`` and ``extra_body``,
    and ``resend_ambiguous`` (see :meth:`submit`).

    Example::

        job = await client.videos.text_to_video(
            prompt="a paper boat on a stream", model="v5", duration=5, quality="540p",
            aspect_ratio="16:9", timeout=30)
        video = await job.wait()
    """

    def __init__(
        self, session: Session, poll: PollPolicy, webhooks: CompletionHub | None = None
    ) -> None:
        self._session = session
        self.poll = poll
        #: The hub that finishes this client's jobs from webhook events (``PixVerse(webhooks=)``).
        self.webhooks = webhooks

    def webhook_id_for(self, request: GenerationRequest) -> str | None:
        """The webhook a generation is sent with: its own ``webhook_id``, else the hub's."""
        if request.webhook_id is not None:
            return request.webhook_id
        return None if self.webhooks is None else self.webhooks.webhook_id

    text_to_video = generation_method(TextToVideo)
    image_to_video = generation_method(ImageToVideo)
    transition = generation_method(Transition)
    multi_transition = generation_method(MultiTransition)
    extend = generation_method(Extend)
    fusion = generation_method(Fusion)
    restyle = generation_method(Restyle)
    swap = generation_method(Swap)
    lip_sync = generation_method(LipSync)
    sound_effect = generation_method(SoundEffect)
    mimic = generation_method(Mimic)
    modify = generation_method(Modify)

    async def _generate(
        self, cls: type[GenerationRequest], request: Any = None, /, **fields: Any
    ) -> GenerationJob:
        """The one body of every generation method (see :mod:`._typed`)."""
        resend = fields.pop("resend_ambiguous", None)
        if request is None:
            return await self.submit(coerce_request(cls, None, fields), resend_ambiguous=resend)
        if not fields.keys() <= _CALL_OPTIONS:
            raise TypeError(f"pass either a {cls.__name__} or its fields as keywords, not both")
        if not isinstance(request, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(request).__name__}")
        return await self.submit(request, resend_ambiguous=resend, **fields)

    async def submit(
        self,
        request: GenerationRequest,
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        trace_id: str | None = None,
        resend_ambiguous: bool | None = None,
    ) -> GenerationJob:
        """Submit any generation request object; the service charges for it once accepted.

        Retried only when the service certainly did not act on it (see README, "Retries").
        When the outcome is unknown (a reset or timeout after the request left, a 5xx), the
        same body is resent under the same ``Ai-trace-id``: PixVerse documents that reusing
        it "returns the previous result instead of triggering a new generation", so a resend
        neither generates nor charges twice. Up to the retry policy's ``resends`` (5) within
        its ``resend_window``; then :class:`~pixverse_async.errors.SubmissionUnknownError`.
        ``resend_ambiguous=False`` (or ``PixVerse(resend_ambiguous=False)``) never resends:
        the error is raised at once, and a 5xx answer is raised as it is. The per-call
        options override the request's own.

        Example::

            job = await client.videos.submit(TextToVideo(prompt="a kite"), resend_ambiguous=False)
        """
        if timeout is not None or max_retries is not None or extra_headers or extra_body:
            given = {
                "timeout": timeout,
                "max_retries": max_retries,
                "extra_headers": extra_headers,
                "extra_body": {**(request.extra_body or {}), **extra_body} if extra_body else None,
            }
            request = _with_call_options(request, given)
        sending = self._submit_watched(
            request, max_retries=None, trace_id=trace_id, resend_ambiguous=resend_ambiguous
        )
        return await self._job(request, sending, webhook_id=self.webhook_id_for(request))

    async def _job(
        self,
        request: GenerationRequest | dict[str, Any],
        sending: Awaitable[tuple[Any, CompletionWatch | None]],
        *,
        webhook_id: str | None,
    ) -> GenerationJob:
        """The job of the generation ``sending`` submits (not started yet: it runs under the
        job's span), from its answer and watch: the one path of ``submit``, ``generate`` and
        ``resend``."""
        if isinstance(request, dict):
            span = start_job(request.get("model"), request.get("quality"))
        else:
            span = start_job(getattr(request, "model", None), getattr(request, "quality", None))
        with submitting(span):
            resp, watch = await sending
            result = from_json(GenerationResult, resp)
        if span is not None:
            span.submitted(result.video_id, result.credits)
        return GenerationJob(
            self,
            result.video_id,
            credits=result.credits,
            request=request,
            webhook_id=webhook_id,
            watch=watch,
            span=span,
        )

    async def _submit_raw(
        self,
        request: GenerationRequest,
        *,
        max_retries: int | None,
        trace_id: str | None,
        resend_ambiguous: bool | None = None,
        on_resend: Callable[[], Awaitable[object]] | None = None,
    ) -> Any:
        """The service's ``Resp`` to ``request`` (the job runner journals around this)."""
        webhook_id = self.webhook_id_for(request)
        if webhook_id != request.webhook_id:  # the hub's default
            request = attrs.evolve(request, webhook_id=webhook_id)
        return await self._session.request(
            "POST",
            request.path,
            json_body=to_json(request),
            paid=True,
            max_retries=max_retries,
            trace_id=trace_id,
            options=call_options(request),
            resend_ambiguous=resend_ambiguous is not False,
            on_resend=on_resend,
        )

    async def generate(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        resend_ambiguous: bool | None = None,
    ) -> GenerationJob:
        """Call a generation endpoint the SDK does not type yet, as written.

        ``body`` is sent as the JSON body, unchecked; the answer must carry a ``video_id``
        (and ``credit`` or ``credits``), as every PixVerse generation does. The job polls and
        downloads like any other. For the reported upscale and avatar endpoints, whose
        fields are not published. An unknown outcome is resent under the same trace id as
        in :meth:`submit`.

        Example::

            job = await client.videos.generate(
                "/openapi/v2/video/upscale/generate", {"source_video_id": video.id})
            upscaled = await job.wait()
        """
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValidationError("path", "must be an API path starting with /", path)
        if not isinstance(body, Mapping):
            raise ValidationError("body", f"must be a mapping (got {type(body).__name__})")
        sent = dict(body)

        async def send() -> tuple[Any, None]:
            resp = await self._session.request(
                "POST",
                path,
                json_body=sent,
                paid=True,
                options=RequestOptions(
                    timeout=timeout, max_retries=max_retries, extra_headers=extra_headers
                ),
                resend_ambiguous=resend_ambiguous is not False,
            )
            return resp, None

        return await self._job(sent, send(), webhook_id=None)

    async def resend(self, error: SubmissionUnknownError) -> GenerationJob:
        """Send an ambiguous submit again with the *same* trace id, body, timeout and extra
        headers as the original call.

        PixVerse documents that reusing an ``Ai-trace-id`` "returns the previous result
        instead of triggering a new generation": the answer is the first submit's video when
        it was generated, a new one otherwise, and never a second charge. The SDK already
        resends an unknown outcome a few times on its own (:meth:`submit`); this is for a
        :class:`~pixverse_async.errors.SubmissionUnknownError` that outlived those (or came
        with ``resend_ambiguous=False``). The job is watched by the client's webhook hub like
        any submit's.

        Example::

            try:
                job = await client.videos.text_to_video(prompt="a kite", model="v5")
            except SubmissionUnknownError as exc:
                job = await client.videos.resend(exc)
        """
        if error.request is None:
            raise ValidationError("error", "the failed call had no JSON body to resend")
        body = error.request
        options = error.options if isinstance(error.options, RequestOptions) else None
        webhook_id = body.get("webhook_id")

        async def send() -> Any:
            return await self._session.request(
                "POST",
                error.path,
                json_body=body,
                paid=True,
                trace_id=error.trace_id,
                options=options,
                resend_ambiguous=True,
            )

        hooked = webhook_id if isinstance(webhook_id, str) else None
        return await self._job(dict(body), self._watched(hooked, send), webhook_id=hooked)

    def _hub_for(self, request: GenerationRequest) -> CompletionHub | None:
        """The hub that hears ``request``'s events (None: no hub, no webhook, or another
        webhook than the hub receives): its jobs are watched there, polled only as a safety
        net. The job runner asks it for jobs it resumes from a journal too."""
        return self._hub_for_webhook(self.webhook_id_for(request))

    def _hub_for_webhook(self, webhook_id: str | None) -> CompletionHub | None:
        hub = self.webhooks
        if hub is None or webhook_id is None or hub.webhook_id not in (None, webhook_id):
            return None
        return hub

    async def _submit_watched(
        self,
        request: GenerationRequest,
        *,
        max_retries: int | None,
        trace_id: str | None,
        resend_ambiguous: bool | None = None,
        on_resend: Callable[[], Awaitable[object]] | None = None,
    ) -> tuple[Any, CompletionWatch | None]:
        """Submit; with a hub and a webhook it receives, also watch the new video for its
        event (the submit is marked in flight, so an event that beats the answer is held)."""

        async def send() -> Any:
            return await self._submit_raw(
                request,
                max_retries=max_retries,
                trace_id=trace_id,
                resend_ambiguous=resend_ambiguous,
                on_resend=on_resend,
            )

        return await self._watched(self.webhook_id_for(request), send)

    async def _watched(
        self, webhook_id: str | None, send: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, CompletionWatch | None]:
        hub = self._hub_for_webhook(webhook_id)
        if hub is None:  # polled as usual
            return await send(), None
        await hub.start()  # with a relay: LISTENing before anything is paid for
        with hub.submitting():
            resp = await send()
            video_id = resp.get("video_id") if isinstance(resp, dict) else None
            if not isinstance(video_id, int) or isinstance(video_id, bool):
                return resp, None  # no id to watch: the caller's decoding reports it
            return resp, hub.register(video_id)

    async def _status_raw(
        self, video_id: int, options: RequestOptions | None = None
    ) -> tuple[Video, Any]:
        raw = await self._session.request(
            "GET", Paths.VIDEO_RESULT_PREFIX + str(int(video_id)), options=options
        )
        return from_json(Video, raw), raw

    async def select_mask(
        self,
        request: MaskSelection | None = None,
        /,
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        source_video_id: int | None = None,
        video_media_id: int | None = None,
        keyframe_id: int | None = None,
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
        fields = {
            k: v
            for k, v in (
                ("source_video_id", source_video_id),
                ("video_media_id", video_media_id),
                ("keyframe_id", keyframe_id),
            )
            if v is not None
        }
        req = coerce_request(MaskSelection, request, fields)
        req = _with_call_options(
            req,
            {
                "timeout": timeout,
                "max_retries": max_retries,
                "extra_headers": extra_headers,
                "extra_body": extra_body,
            },
        )
        resp = await self._session.request(
            "POST", req.path, json_body=to_json(req), paid=True, options=call_options(req)
        )
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
        :data:`~pixverse_async.jobs.downloads.DOWNLOAD_TIMEOUT` (no overall deadline, 60 s
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
            raise PixVerseError(f"video {video.id} has no file to download (status {video.status})")
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
