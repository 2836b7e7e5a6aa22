"""A web backend on aiohttp: one shared PixVerse client for the whole app.

- The client (and, without PIXVERSE_API_KEY, a local emulator) lives in the app's
  ``cleanup_ctx``: created at startup, closed at shutdown.
- ``POST /videos`` takes a request as JSON (``{"kind": "text_to_video", "prompt": ...}``;
  ``kind`` defaults to text_to_video), submits it and answers ``202`` with the video id at
  once; a background task waits for the result. A request the service rejects for what it
  holds (an unknown ``img_id``, say) answers 4xx; a failing service answers 502.
- ``GET /videos/{id}`` reports the status (``generating``, ``succeeded`` with the URL, or
  ``failed`` with the reason) and ``finished_by`` (``webhook`` or ``poll``).
- ``POST /pixverse/webhook`` receives PixVerse's signed notifications: ``webhook_handler``
  feeds one ``CompletionHub`` shared with the client (``PixVerse(webhooks=hub)``), so each
  background ``job.wait()`` ends as soon as its event arrives; a slow safety-net poll covers a
  lost delivery. Events for videos this process did not submit are recorded too. Set
  ``PIXVERSE_WEBHOOK_ID`` and ``PIXVERSE_WEBHOOK_SECRET`` (from the PixVerse console, with
  this route's public URL); without them jobs are polled. The local emulator delivers to it.
- Background tasks are kept in a set and cancelled at shutdown; a video left generating keeps
  running on PixVerse and can be looked up again by id.

::

    python examples/aiohttp_backend.py --port 8080
    curl -X POST localhost:8080/videos -d '{"prompt": "a red kite", "model": "v5",
         "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}'
    curl localhost:8080/videos/<video_id>

``--selftest`` starts the app on 127.0.0.1 (a free port), makes a few requests to itself and
exits 0 when every answer was right (both jobs finished by their webhook).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from aiohttp import web

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
)
from pixverse_async.emulator import Emulator
from pixverse_async.jobs.generation_job import GenerationJob
from pixverse_async.jobs.polling import SafetyNet
from pixverse_async.models import build_request
from pixverse_async.webhooks import CompletionHub, WebhookEvent, webhook_handler

CLIENT = web.AppKey("client", PixVerse)
#: Errors caused by what the caller sent (their request is wrong, not the service): a 4xx
#: answer; any other API error is the upstream's (502).
CALLER_ERRORS: tuple[tuple[type[APIError], int], ...] = (
    (InvalidParameterError, 400),  # e.g. an img_id the service does not know
    (NotFoundError, 404),
    (ContentModerationError, 422),
)
HUB = web.AppKey("hub", CompletionHub)  # shared by the client and the webhook route
WEBHOOK_URL = web.AppKey("webhook_url", str)  # where the local emulator delivers
WEBHOOK_PATH = "/pixverse/webhook"
RESULTS = web.AppKey("results", dict)  # video id -> what GET /videos/{id} reports
TASKS = web.AppKey("tasks", set)  # background waits, cancelled at shutdown


async def pixverse_client(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one client for the app's lifetime (and an emulator without a key)."""
    hub = app[HUB]
    async with AsyncExitStack() as stack:
        if os.environ.get("PIXVERSE_API_KEY"):
            client = PixVerse(webhooks=hub if hub.webhook_id else None)
        else:
            emu = await stack.enter_async_context(
                Emulator(
                    api_keys={"example-key"},
                    generation_seconds=0.3,
                    webhooks={"1234": (app[WEBHOOK_URL], webhook_secret())},
                )
            )
            fast = PollPolicy(first_delay=0.3, interval=0.1, factor=1.0, max_delay=0.1)
            client = PixVerse(api_key="example-key", base_url=emu.base_url, poll=fast, webhooks=hub)
        app[CLIENT] = await stack.enter_async_context(client)
        app[TASKS] = set()
        yield
        tasks: set[asyncio.Task[None]] = app[TASKS]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        hub.close()


def webhook_secret() -> str:
    """The webhook's signing secret (a made-up one for the local emulator)."""
    return os.environ.get("PIXVERSE_WEBHOOK_SECRET", "example-webhook-secret")


def unclaimed(app: web.Application) -> Callable[[WebhookEvent], None]:
    """The hub's on_unclaimed: an event for a video this process does not wait for."""

    def record(event: WebhookEvent) -> None:
        app[RESULTS][event.video_id] = {
            "video_id": event.video_id,
            "status": event.status.name.lower(),
            "url": event.url or None,
            "finished_by": "webhook",
        }

    return record


async def follow(app: web.Application, job: GenerationJob) -> None:
    """Wait for one generation in the background and record how it ended."""
    results: dict[int, dict[str, Any]] = app[RESULTS]
    try:
        video = await job.wait()
    except JobError as exc:
        results[job.video_id] = {"video_id": job.video_id, "status": "failed", "error": str(exc)}
    except PixVerseError as exc:  # status polls failed for good; the video may still finish
        results[job.video_id] = {"video_id": job.video_id, "status": "unknown", "error": str(exc)}
    else:
        results[job.video_id] = {
            "video_id": video.id,
            "status": "succeeded",
            "url": video.url,
            "finished_by": "webhook" if job.watch is not None and job.watch.done() else "poll",
        }


async def create_video(request: web.Request) -> web.Response:
    """POST /videos: validate, submit, answer 202 with the id; waiting goes on in a task."""
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "the body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    try:
        generation = build_request({"kind": "text_to_video", **body})
    except ValidationError as exc:
        return web.json_response({"error": str(exc), "field": exc.field}, status=400)
    client = request.app[CLIENT]
    try:
        job = await client.videos.submit(generation)
    except APIError as exc:
        status = next((code for cls, code in CALLER_ERRORS if isinstance(exc, cls)), 502)
        return web.json_response(
            {"error": exc.err_msg, "err_code": exc.err_code, "trace_id": exc.trace_id},
            status=status,
        )
    request.app[RESULTS][job.video_id] = {"video_id": job.video_id, "status": "generating"}
    tasks: set[asyncio.Task[None]] = request.app[TASKS]
    task = asyncio.create_task(follow(request.app, job))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return web.json_response(
        {"video_id": job.video_id, "credits": job.credits, "status_url": f"/videos/{job.video_id}"},
        status=202,
    )


async def get_video(request: web.Request) -> web.Response:
    """GET /videos/{id}: what the background task learned, or the service's answer."""
    raw = request.match_info["video_id"]
    if not raw.isdigit():
        return web.json_response({"error": "the id must be a number"}, status=400)
    video_id = int(raw)
    known = request.app[RESULTS].get(video_id)
    if known is not None:
        return web.json_response(known)
    try:  # submitted elsewhere (or before a restart): ask the service
        video = await request.app[CLIENT].videos.get(video_id)
    except NotFoundError:
        return web.json_response({"error": f"no video {video_id}"}, status=404)
    return web.json_response(
        {"video_id": video.id, "status": video.status.name.lower(), "url": video.url or None}
    )


def make_app(webhook_url: str) -> web.Application:
    """The application: routes, the webhook hub and the client's lifecycle.

    ``webhook_url``: this app's webhook route as the local emulator reaches it.
    """
    app = web.Application()
    app[WEBHOOK_URL] = webhook_url
    app[RESULTS] = {}
    if os.environ.get("PIXVERSE_API_KEY"):
        hub = CompletionHub(
            webhook_id=os.environ.get("PIXVERSE_WEBHOOK_ID") or None, on_unclaimed=unclaimed(app)
        )
    else:  # the local emulator's webhook "1234"; its 0.3 s jobs get a quicker safety net
        net = SafetyNet(factor=3.0, expected=2.0, interval=2.0)
        hub = CompletionHub(webhook_id="1234", safety_net=net, on_unclaimed=unclaimed(app))
    app[HUB] = hub
    app.cleanup_ctx.append(pixverse_client)
    app.router.add_post("/videos", create_video)
    app.router.add_get("/videos/{video_id}", get_video)
    app.router.add_post(WEBHOOK_PATH, webhook_handler(webhook_secret(), hub.deliver))
    return app


async def selftest() -> int:
    """Serve on a free port, exercise every route, report, stop."""
    sock = socket.socket()  # bound first: the emulator must know the webhook's URL
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    runner = web.AppRunner(make_app(base + WEBHOOK_PATH))
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        ok = True
        async with aiohttp.ClientSession(base) as http:
            good = {
                "prompt": "a red kite over the sea",
                "model": "v5",
                "duration": 5,
                "quality": "540p",
                "aspect_ratio": "16:9",
            }
            ids = []
            for body in (good, {**good, "prompt": "a paper boat"}):
                async with http.post("/videos", json=body) as resp:
                    answer = await resp.json()
                    print("POST /videos ->", resp.status, answer)
                    ok &= resp.status == 202
                    ids.append(answer["video_id"])
            async with http.post(
                "/videos", json={**good, "duration": 8, "quality": "1080p"}
            ) as resp:
                print("POST /videos (invalid) ->", resp.status, await resp.json())
                ok &= resp.status == 400
            unknown_image = {**good, "kind": "image_to_video", "img_id": 999_999_999}
            del unknown_image["aspect_ratio"]
            async with http.post("/videos", json=unknown_image) as resp:
                print("POST /videos (unknown img_id) ->", resp.status, await resp.json())
                ok &= resp.status == 400
            async with http.get("/videos/123") as resp:
                print("GET /videos/123 ->", resp.status)
                ok &= resp.status == 404
            async with http.post(WEBHOOK_PATH, json={"id": "1", "status": 1}) as resp:
                print(f"POST {WEBHOOK_PATH} (unsigned) ->", resp.status)
                ok &= resp.status == 401
            for video_id in ids:
                for _ in range(100):
                    async with http.get(f"/videos/{video_id}") as resp:
                        answer = await resp.json()
                    if answer["status"] != "generating":
                        break
                    await asyncio.sleep(0.1)
                print(f"GET /videos/{video_id} ->", answer)
                ok &= answer["status"] == "succeeded" and bool(answer["url"])
                ok &= answer["finished_by"] == "webhook"
    finally:
        await runner.cleanup()
    print("selftest", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--selftest", action="store_true", help="request itself, then exit")
    args = parser.parse_args()
    if args.selftest:
        sys.exit(asyncio.run(selftest()))
    hook = f"http://127.0.0.1:{args.port}{WEBHOOK_PATH}"
    web.run_app(make_app(hook), host="127.0.0.1", port=args.port)
