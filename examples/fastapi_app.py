"""A web backend on FastAPI: one PixVerse client for the app, jobs finished by webhooks.

- The client lives in the app's ``lifespan``: opened at startup, closed at shutdown, with the
  background waits cancelled first (a video left generating keeps running on PixVerse and can
  be looked up again by id).
- ``POST /videos`` takes a request as JSON (``{"kind": "text_to_video", "prompt": ...}``;
  ``kind`` defaults to text_to_video), checks it, submits it and answers ``202`` with the
  video id at once; a background task waits for the result. A request that breaks a rule
  answers 400 naming the field; one the service refuses for what it holds (an unknown
  ``img_id``) 4xx; a failing service 502.
- ``GET /videos/{video_id}`` reports ``generating``, ``succeeded`` (with the URL) or ``failed``
  and how the job ended (``finished_by``: ``webhook`` or ``poll``).
- ``POST /pixverse/webhook`` receives PixVerse's signed deliveries: ``WebhookVerifier``
  (framework-agnostic: headers and raw body in, a ``WebhookEvent`` out) checks them, and one
  ``CompletionHub`` shared with the client (``PixVerse(webhooks=hub)``) ends the waiting job
  at once; a slow safety-net poll covers a lost delivery. It answers ``ok`` (200), 401 for a
  bad signature, 400 for a body that is not the documented JSON, 500 if the event could not
  be handed over (PixVerse retries it).

Settings come from the environment: ``PIXVERSE_API_KEY`` (and ``PIXVERSE_BASE_URL``), and
``PIXVERSE_WEBHOOK_ID`` and ``PIXVERSE_WEBHOOK_SECRET`` from PixVerse's console, where the
webhook's URL is this app's ``/pixverse/webhook``; without them jobs are polled. FastAPI and
uvicorn are not dependencies of pixverse-async: ``pip install fastapi uvicorn``. To try it on
the emulator, which signs and delivers webhooks too::

    pixverse emulator --port 8000 --generation-seconds 2 \\
        --webhook 1234=http://127.0.0.1:8080/pixverse/webhook,my-secret &
    PIXVERSE_API_KEY=test-key PIXVERSE_BASE_URL=http://127.0.0.1:8000 \\
        PIXVERSE_WEBHOOK_ID=1234 PIXVERSE_WEBHOOK_SECRET=my-secret \\
        uvicorn fastapi_app:app --app-dir examples --port 8080
    curl -X POST localhost:8080/videos -H 'content-type: application/json' \\
        -d '{"prompt": "a red kite", "model": "v5", "duration": 5, "quality": "540p",
             "aspect_ratio": "16:9"}'
    curl localhost:8080/videos/<video_id>
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from pixverse_async import (
    APIError,
    ContentModerationError,
    InvalidParameterError,
    JobError,
    NotFoundError,
    PixVerse,
    PixVerseError,
    PollPolicy,
    ValidationError,
    WebhookVerificationError,
)
from pixverse_async.constants import Webhook
from pixverse_async.jobs.generation_job import GenerationJob
from pixverse_async.jobs.polling import SafetyNet
from pixverse_async.models import build_request
from pixverse_async.webhooks import CompletionHub, WebhookEvent, WebhookVerifier

WEBHOOK_PATH = "/pixverse/webhook"
#: Deliveries are small flat JSON objects; anything bigger is refused unread.
MAX_WEBHOOK_BODY = 64 * 1024
#: Errors caused by what the caller sent: a 4xx answer; any other API error is upstream's (502).
CALLER_ERRORS: tuple[tuple[type[APIError], int], ...] = (
    (InvalidParameterError, 400),  # e.g. an img_id the service does not know
    (NotFoundError, 404),
    (ContentModerationError, 422),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the app needs; :meth:`from_env` reads it from the environment."""

    api_key: str | None = None
    base_url: str | None = None
    webhook_id: str | None = None
    webhook_secret: str | None = None
    poll: PollPolicy | None = None
    safety_net: SafetyNet | None = None

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            api_key=os.environ.get("PIXVERSE_API_KEY"),
            base_url=os.environ.get("PIXVERSE_BASE_URL"),
            webhook_id=os.environ.get("PIXVERSE_WEBHOOK_ID") or None,
            webhook_secret=os.environ.get("PIXVERSE_WEBHOOK_SECRET") or None,
        )


def record_unclaimed(results: dict[int, dict[str, Any]], event: WebhookEvent) -> None:
    """The hub's ``on_unclaimed``: an event for a video this process does not wait for."""
    results[event.video_id] = {
        "video_id": event.video_id,
        "status": event.status.name.lower(),
        "url": event.url or None,
        "finished_by": "webhook",
    }


@dataclasses.dataclass
class Backend:
    """What the routes share for the app's lifetime (``app.state.backend``)."""

    client: PixVerse
    hub: CompletionHub
    verifier: WebhookVerifier | None
    results: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = dataclasses.field(default_factory=set)

    async def follow(self, job: GenerationJob) -> None:
        """Wait for one generation in the background and record how it ended."""
        try:
            video = await job.wait()
        except JobError as exc:
            self.results[job.video_id] = {
                "video_id": job.video_id,
                "status": "failed",
                "error": str(exc),
            }
        except PixVerseError as exc:  # status polls failed for good; it may still finish
            self.results[job.video_id] = {
                "video_id": job.video_id,
                "status": "unknown",
                "error": str(exc),
            }
        else:
            self.results[job.video_id] = {
                "video_id": video.id,
                "status": "succeeded",
                "url": video.url,
                "finished_by": "webhook" if job.watch is not None and job.watch.done() else "poll",
            }


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; ``settings`` default to :meth:`Settings.from_env` at startup."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = settings or Settings.from_env()
        results: dict[int, dict[str, Any]] = {}
        hub = CompletionHub(
            webhook_id=config.webhook_id,
            safety_net=config.safety_net,
            on_unclaimed=functools.partial(record_unclaimed, results),
        )
        verifier = WebhookVerifier(config.webhook_secret) if config.webhook_secret else None
        async with PixVerse(
            api_key=config.api_key,
            base_url=config.base_url,
            poll=config.poll,
            webhooks=hub if config.webhook_id and verifier else None,
        ) as client:
            backend = Backend(client, hub, verifier, results)
            app.state.backend = backend
            try:
                yield
            finally:
                for task in backend.tasks:
                    task.cancel()
                await asyncio.gather(*backend.tasks, return_exceptions=True)
                hub.close()

    app = FastAPI(title="pixverse-async on FastAPI", lifespan=lifespan)

    @app.post("/videos", status_code=202)
    async def create_video(request: Request) -> JSONResponse:
        backend: Backend = request.app.state.backend
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        try:
            generation = build_request({"kind": "text_to_video", **body})
        except ValidationError as exc:
            return JSONResponse({"error": str(exc), "field": exc.field}, status_code=400)
        try:
            job = await backend.client.videos.submit(generation)
        except APIError as exc:
            status = next((code for cls, code in CALLER_ERRORS if isinstance(exc, cls)), 502)
            answer = {"error": exc.err_msg, "err_code": exc.err_code, "trace_id": exc.trace_id}
            return JSONResponse(answer, status_code=status)
        backend.results[job.video_id] = {"video_id": job.video_id, "status": "generating"}
        task = asyncio.create_task(backend.follow(job))
        backend.tasks.add(task)
        task.add_done_callback(backend.tasks.discard)
        return JSONResponse(
            {
                "video_id": job.video_id,
                "credits": job.credits,
                "status_url": f"/videos/{job.video_id}",
            },
            status_code=202,
        )

    @app.get("/videos/{video_id}")
    async def get_video(video_id: int, request: Request) -> JSONResponse:
        backend: Backend = request.app.state.backend
        known = backend.results.get(video_id)
        if known is not None:
            return JSONResponse(known)
        try:  # submitted elsewhere (or before a restart): ask the service
            video = await backend.client.videos.get(video_id)
        except NotFoundError:
            return JSONResponse({"error": f"no video {video_id}"}, status_code=404)
        status = video.status.name.lower()
        return JSONResponse({"video_id": video.id, "status": status, "url": video.url or None})

    @app.post(WEBHOOK_PATH, response_class=PlainTextResponse)
    async def pixverse_webhook(request: Request) -> PlainTextResponse:
        backend: Backend = request.app.state.backend
        if backend.verifier is None:
            return PlainTextResponse("no webhook secret configured", status_code=404)
        if int(request.headers.get("content-length") or 0) > MAX_WEBHOOK_BODY:
            return PlainTextResponse("body too large", status_code=413)
        try:
            event = backend.verifier.verify(request.headers, await request.body())
        except WebhookVerificationError as exc:
            return PlainTextResponse(str(exc), status_code=400 if exc.bad_body else 401)
        try:
            await backend.hub.deliver(event)
        except PixVerseError:  # the hub is closing or full: let PixVerse deliver it again
            backend.verifier.forget_nonce(event.nonce)
            return PlainTextResponse("retry later", status_code=500)
        return PlainTextResponse(Webhook.ACK_BODY)

    return app


#: ``uvicorn fastapi_app:app``: settings from the environment at startup.
app = create_app()
