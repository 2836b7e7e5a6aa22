"""The emulator's routes beyond the spec pages (docs/api-notes.md) and its trace-id memory.

- ``POST /openapi/v2/video/mimic/generate`` (motion control) is a generation like the others
  (validated in :mod:`.validation`), refused with 701002 for an image marked as having no
  clear subject and 701003 for a video marked as having no person (tests mark them:
  ``emulator.app.live.no_subject_images.add(img_id)``); its answer carries ``credit``.
- ``POST /openapi/v2/image/template/generate`` answers ``{image_id, credit}``; the image is
  polled at ``GET /openapi/v2/image/result/{image_id}`` (status codes as for videos) and served
  at ``/media/images/{image_id}``.
- A generation submitted again with an ``Ai-trace-id`` already used by the same key starts no
  second video: the answer is the first video's id (PixVerse: "if you use the same
  ai-trace-id multiple times, you won't get a new video generated").

It imports nothing from the client but :mod:`pixverse_async.constants`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from ..constants import API_KEY_HEADER, ErrCode, Paths, VideoStatusCode
from .responses import envelope, error, rejection
from .validation import VALIDATORS

if TYPE_CHECKING:
    from .host import Handler, RouteHost

#: Paths whose submit answer names the cost ``credit`` (docs/api-notes.md) instead of ``credits``.
CREDIT_KEY_PATHS = frozenset({Paths.MIMIC, Paths.IMAGE_TEMPLATE})
IMAGE_TEMPLATE_CREDITS = 10


@dataclass
class ImageGeneration:
    """One image template generation."""

    image_id: int
    api_key: str
    source_img_id: int
    done_at: float


class LiveRoutes:
    """Mimic, image templates and the trace-id memory of an :class:`~.app.EmulatorApp`."""

    def __init__(self, app: RouteHost) -> None:
        self.app = app
        self.no_subject_images: set[int] = set()
        self.no_person_videos: set[int] = set()
        self.images: dict[int, ImageGeneration] = {}
        self._by_trace: dict[tuple[str, str], int] = {}

    def json_routes(self) -> dict[str, Handler]:
        """Handlers of the JSON POST routes this module answers (the app adds them)."""
        return {Paths.MIMIC: self.mimic, Paths.IMAGE_TEMPLATE: self.image_template}

    def add_to(self, web_app: web.Application) -> None:
        """Add the GET routes."""
        web_app.router.add_get(Paths.IMAGE_RESULT, self.image_result)
        web_app.router.add_get("/media/images/{image_id}", self.serve_image)

    # Trace ids ------------------------------------------------------------------------------

    def earlier_video(self, api_key: str, trace_id: str | None) -> int | None:
        """The video an earlier generation with this key and trace id started, if any."""
        return None if trace_id is None else self._by_trace.get((api_key, trace_id))

    def remember(self, api_key: str, trace_id: str | None, video_id: int) -> None:
        if trace_id is not None:
            self._by_trace[(api_key, trace_id)] = video_id

    # Mimic -----------------------------------------------------------------------------------

    async def mimic(self, request: web.Request) -> web.StreamResponse:
        body, bad = await self.app._json_body(request)
        if bad is not None:
            return bad
        rej = VALIDATORS[Paths.MIMIC](body)
        if rej is not None:
            return rejection(rej)
        if body["img_id"] in self.no_subject_images:
            return error(
                ErrCode.MOTION_CONTROL_INPUT_REJECTED,
                "Please upload a photo with a clear subject, like a person or an animal.",
            )
        video = body.get("video_media_id") or body.get("source_video_id")
        if video in self.no_person_videos:
            return error(
                ErrCode.MOTION_CONTROL_INPUT_REJECTED_2,
                "The video must have a person as its main subject.",
            )
        return await self.app.generate(request)

    # Image templates -------------------------------------------------------------------------

    async def image_template(self, request: web.Request) -> web.StreamResponse:
        body, bad = await self.app._json_body(request)
        if bad is not None:
            return bad
        refused = self.app._admit(request, body)
        if refused is not None:
            return refused
        api_key = request.headers[API_KEY_HEADER]
        now = self.app._loop_time()
        image = ImageGeneration(
            image_id=self.app.state.next_id(),
            api_key=api_key,
            source_img_id=body["img_ids"][0],
            done_at=now + self.app.config.generation_seconds,
        )
        charged = self.app.state.ledger.charge(
            api_key,
            IMAGE_TEMPLATE_CREDITS,
            video_id=image.image_id,
            refund_at=None,
            reason="image template",
            now=now,
        )
        if charged is None:
            return error(ErrCode.INSUFFICIENT_BALANCE, "insufficient balance")
        self.images[image.image_id] = image
        return envelope({"image_id": image.image_id, "credit": IMAGE_TEMPLATE_CREDITS})

    async def image_result(self, request: web.Request) -> web.StreamResponse:
        raw_id = request.match_info["image_id"]
        if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 20):
            return error(ErrCode.INVALID_PARAMETER, "image_id must be an integer")
        image = self.images.get(int(raw_id))
        if image is None or image.api_key != request.headers[API_KEY_HEADER]:
            return error(ErrCode.NOT_FOUND, "requested data not found")
        done = self.app._loop_time() >= image.done_at
        return envelope(
            {
                "image_id": image.image_id,
                "status": VideoStatusCode.SUCCESSFUL if done else VideoStatusCode.GENERATING,
                "url": f"{self.app.base_url}/media/images/{image.image_id}" if done else "",
                "credit": IMAGE_TEMPLATE_CREDITS,
            }
        )

    async def serve_image(self, request: web.Request) -> web.StreamResponse:
        raw_id = request.match_info["image_id"]
        image = self.images.get(int(raw_id)) if raw_id.isascii() and raw_id.isdigit() else None
        upload = None if image is None else self.app.state.uploads.get(image.source_img_id)
        if upload is None or not upload.path.exists():
            raise web.HTTPNotFound()
        return web.FileResponse(upload.path, headers={"Content-Type": upload.mime})
