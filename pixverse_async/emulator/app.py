"""The emulator's aiohttp.web application: PixVerse's routes, answers and lifecycle.

It imports nothing from the client but :mod:`pixverse_async.constants`; request rules are
checked by :mod:`.validation`, written from the spec independently of the client's models.
"""

from __future__ import annotations

import asyncio
import datetime
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from ..constants import API_KEY_HEADER, TRACE_ID_HEADER, ErrCode, Paths, VideoStatusCode
from .clock import EmulatorClock
from .credits import PriceTable, cost_answer, refund_time
from .faults import FaultConfig, answer_with_fault
from .host import Handler
from .live_routes import CREDIT_KEY_PATHS, LiveRoutes
from .media_faults import MediaFaults
from .rate_limit import RequestRateLimit, rate_limit_from
from .responses import (
    ErrorResponse,
    envelope,
    error,
    moderation_error,
    rejection,
)
from .state import EmulatorState, Generation, MaskSelection, RequestRecord, parse_id
from .upload_routes import UploadRoutes
from .validation import VALIDATORS, referenced_ids, validate_list_query
from .videos import DEFAULT_QUALITY, frame_size, render
from .webhooks import WebhookEndpoint, WebhookFaults, WebhookSender, endpoints_from

SPEAKERS = (
    ("7", "Harper"), ("8", "Ava"), ("3", "Isabella"), ("9", "Sophia"), ("1", "Emily"),
    ("5", "Chloe"), ("10", "Julia"), ("11", "Mason"), ("12", "Jack"), ("4", "Liam"),
    ("2", "James"), ("13", "Oliver"), ("6", "Adrian"), ("14", "Ethan"), ("Auto", "Auto"),
)  # fmt: skip
RESTYLES = tuple(
    (index + 1, name)
    for index, name in enumerate(
        ("Anime", "Clay", "Comic", "Cyberpunk", "Oil painting", "Pixel art", "Sketch",
         "Watercolor", "Origami", "Lego", "Vintage film", "Neon")
    )
)  # fmt: skip

MARKERS = {"#fail": "failed", "#moderated": "moderated", "#deleted": "deleted"}
REJECT_MARKER = "#reject"


@dataclass
class EmulatorConfig:
    """How the emulator behaves. Every field has a default suited to fast tests."""

    api_keys: frozenset[str] = frozenset({"test-key"})
    #: How long a generation runs before its final status, in seconds.
    generation_seconds: float = 0.05
    #: Seconds each generation runs, given its request body (overrides generation_seconds),
    #: e.g. drawn from a distribution for benchmarks.
    generation_time: Callable[[dict[str, Any]], float] | None = None
    #: Generations one key may have running at once (ErrCode 500044 past it).
    max_concurrent_generations: int = 100
    #: Chance that an unmarked generation fails or is moderated.
    failure_rate: float = 0.0
    moderation_rate: float = 0.0
    #: Monthly and package credits each key starts with (see :mod:`.credits`); a submit
    #: that costs more than what is left answers 500090 (insufficient balance).
    credits: int = 10**9
    credit_package: int = 0
    #: What generations cost: PixVerse's published prices by default
    #: (:meth:`PriceTable.published`); :meth:`PriceTable.flat` for the emulator's own flat table.
    prices: PriceTable = field(default_factory=PriceTable.published)
    #: Paths whose submit answer names the cost ``credit`` instead of ``credits``.
    credit_field_paths: frozenset[str] = frozenset()
    faults: FaultConfig = field(default_factory=FaultConfig)
    #: Scripted faults of the video file route (for download tests).
    media_faults: MediaFaults = field(default_factory=MediaFaults)
    #: Largest accepted upload bodies (bytes); bigger bodies are cut off while streaming.
    max_image_bytes: int = 20 * 1024 * 1024 - 1
    max_media_bytes: int = 50 * 1024 * 1024
    #: Folder for uploads (a temporary one by default).
    storage_dir: Path | None = None
    seed: int | None = None
    #: Webhooks by id, as created in the console: ``{"1234": WebhookEndpoint(url, secret)}``
    #: (``Emulator(webhooks={"1234": (url, secret)})`` converts tuples).
    webhooks: dict[str, WebhookEndpoint] = field(default_factory=dict, repr=False)
    #: Factor on PixVerse's retry delays (2 s ... 4 h); e.g. 0.001 in tests.
    webhook_retry_scale: float = 1.0
    webhook_faults: WebhookFaults = field(default_factory=WebhookFaults)
    #: Key order of the signed fields: "body" or "sorted" (PixVerse's examples show both).
    webhook_key_order: str = "body"
    #: API requests one key may make per window (see :mod:`.rate_limit`); None: no limit.
    #: Also given as ``(requests, seconds)`` or ``"requests/seconds"``.
    rate_limit: RequestRateLimit | None = None
    #: A submit under a trace id the key already used answers the first result and charges
    #: nothing (PixVerse documents it); False models a service that would generate again.
    dedup_trace_ids: bool = True

    def __post_init__(self) -> None:
        self.webhooks = endpoints_from(self.webhooks)
        self.rate_limit = rate_limit_from(self.rate_limit)
        if self.webhook_key_order not in ("body", "sorted"):
            raise ValueError("webhook_key_order must be 'body' or 'sorted'")


class EmulatorApp:
    """Builds the ``web.Application`` and holds its state."""

    def __init__(
        self,
        config: EmulatorConfig,
        state: EmulatorState,
        storage: Path,
        clock: EmulatorClock | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.storage = storage
        self.base_url = ""
        self._random = random.Random(config.seed)
        self.clock = clock or EmulatorClock()
        self._loop_time: Callable[[], float] = self.clock.now
        self.webhooks = WebhookSender(
            config.webhooks,
            state,
            retry_scale=config.webhook_retry_scale,
            faults=config.webhook_faults,
            key_order=config.webhook_key_order,
            seed=config.seed,
            clock=self.clock,
        )

    def _generation_seconds(self, body: dict[str, Any]) -> float:
        timing = self.config.generation_time
        return self.config.generation_seconds if timing is None else timing(body)

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=1024 * 1024)
        self.live = LiveRoutes(self)
        json_routes: dict[str, Handler] = {
            Paths.MASK_SELECTION: self.mask_selection,
            **self.live.json_routes(),
        }
        for path in VALIDATORS:
            app.router.add_post(path, json_routes.get(path, self.generate))
        app.router.add_get(Paths.VIDEO_RESULT, self.video_result)
        app.router.add_get(Paths.BALANCE, self.balance)
        app.router.add_get(Paths.TTS_LIST, self.tts_list)
        app.router.add_get(Paths.RESTYLE_LIST, self.restyle_list)
        app.router.add_get("/media/videos/{name}", self.serve_video)
        UploadRoutes(self).add_to(app)
        self.live.add_to(app)
        return app

    # Middleware: records, authentication, faults ------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/openapi/"):
            return await handler(request)
        trace_id = request.headers.get(TRACE_ID_HEADER)
        record = RequestRecord(request.method, request.path, trace_id)
        record.headers = {k: v for k, v in request.headers.items() if k.lower() != "api-key"}
        self.state.requests.append(record)
        response = await self._checked(request, handler, record)
        record.status = response.status
        if isinstance(response, ErrorResponse):
            record.err_code = response.err_code
        return response

    async def _checked(
        self, request: web.Request, handler: Handler, record: RequestRecord
    ) -> web.StreamResponse:
        key = request.headers.get(API_KEY_HEADER)
        if not key:
            return error(ErrCode.API_KEY_MISSING, "API-KEY is missing", status=401)
        if key not in self.config.api_keys:
            return error(ErrCode.API_KEY_INVALID, "API-KEY is invalid", status=401)
        if not record.trace_id:
            return error(ErrCode.EMPTY_PARAMETER, "Ai-trace-id is required", status=400)
        try:
            uuid.UUID(record.trace_id)
        except ValueError:
            return error(ErrCode.INVALID_PARAMETER, "Ai-trace-id must be a UUID", status=400)
        limit = self.config.rate_limit
        wait = None if limit is None else limit.admit(key, now=self._loop_time())
        if wait is not None:  # the service does nothing
            limited = ErrorResponse(text="too many requests for this API key", status=429)
            limited.headers["Retry-After"] = str(wait)
            return limited
        fault = self.config.faults.draw(request.path)
        record.fault = None if fault is None else fault.kind
        return await answer_with_fault(fault, request, handler, self.clock)

    # Generations ---------------------------------------------------------------------------

    async def _json_body(self, request: web.Request) -> tuple[Any, web.Response | None]:
        try:
            return await request.json(), None
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep: not JSON
            return None, error(ErrCode.INVALID_PARAMETER, "body is not valid JSON")
        except LookupError:  # a charset Python does not know
            return None, error(ErrCode.INVALID_PARAMETER, f"unknown charset {request.charset!r}")

    def _check_references(self, path: str, body: Any, api_key: str) -> web.Response | None:
        for kind, name, ref in referenced_ids(path, body):
            if kind == "image":
                upload = self.state.uploads.get(ref)
                if upload is None or upload.kind != "image":
                    return error(ErrCode.INVALID_IMAGE_ID, f"{name}: unknown image id {ref}")
            elif kind == "video":
                gen = self.state.generations.get(ref)
                if gen is None or gen.api_key != api_key:
                    return error(ErrCode.NOT_FOUND, f"{name}: unknown video id {ref}")
                if gen.outcome != "success" or self._loop_time() < gen.done_at:
                    return error(ErrCode.INVALID_PARAMETER, f"{name}: video {ref} is not ready")
            else:  # media_video / media_audio
                upload = self.state.uploads.get(ref)
                wanted = kind.removeprefix("media_")
                if upload is None or upload.kind != wanted:
                    return error(ErrCode.NOT_FOUND, f"{name}: unknown {wanted} media id {ref}")
        return None

    def _check_mask(self, body: dict[str, Any]) -> web.Response | None:
        """A swap's video, ``keyframe_id`` and ``mask_id`` must come from one mask selection."""
        selection = self.state.masks.get(body["mask_id"])
        if selection is None:
            return error(ErrCode.INVALID_PARAMETER, f"mask_id: unknown mask {body['mask_id']!r}")
        field, source = _video_source(body)
        if (field, source) != (selection.source_field, selection.source_id):
            return error(
                ErrCode.INVALID_PARAMETER,
                f"mask_id: mask {body['mask_id']!r} was not selected on {field} {source}",
            )
        keyframe = body.get("keyframe_id") or 1
        if keyframe != selection.keyframe_id:
            return error(
                ErrCode.INVALID_PARAMETER,
                f"keyframe_id: mask {body['mask_id']!r} was selected on keyframe "
                f"{selection.keyframe_id}, not {keyframe}",
            )
        return None

    def _admit(self, request: web.Request, body: Any) -> web.Response | None:
        """Everything a paid call is checked for before the service acts on it."""
        path = request.path
        rej = VALIDATORS[path](body)
        if rej is not None:
            return rejection(rej)
        api_key: str = request.headers[API_KEY_HEADER]
        refused = self._check_references(path, body, api_key)
        if refused is None and path == Paths.SWAP:
            refused = self._check_mask(body)
        if refused is not None:
            return refused
        prompt = str(body.get("prompt") or body.get("restyle_prompt") or "")
        if REJECT_MARKER in prompt:
            return moderation_error("the prompt did not pass moderation")
        return None

    async def generate(self, request: web.Request) -> web.Response:
        body, bad = await self._json_body(request)
        if bad is not None:
            return bad
        api_key: str = request.headers[API_KEY_HEADER]
        paths = (*CREDIT_KEY_PATHS, *self.config.credit_field_paths)
        cost_key = "credit" if request.path in paths else "credits"
        earlier = self.live.earlier_video(api_key, request.headers.get(TRACE_ID_HEADER))
        if earlier is not None and self.config.dedup_trace_ids:  # no second video
            first = self.state.generations[earlier]
            return envelope({"video_id": first.video_id, cost_key: first.credits})
        refused = self._admit(request, body)
        if refused is not None:
            return refused
        now = self._loop_time()
        if self.state.in_flight(api_key, now) >= self.config.max_concurrent_generations:
            return error(ErrCode.CONCURRENCY_LIMIT, "concurrent generation limit reached")
        quality = str(body.get("quality", DEFAULT_QUALITY))
        duration = body.get("duration", 5) if isinstance(body.get("duration"), int) else 5
        width, height = frame_size(quality, body.get("aspect_ratio"))
        video_id = self.state.next_id()
        done_at = now + self._generation_seconds(body)
        outcome = self.config.faults.draw_outcome(request.path) or self._outcome(body)
        credits = self.config.prices.price(body, request.path)
        refund_at = refund_time(outcome, done_at)
        charged = self.state.ledger.charge(
            api_key, credits, video_id=video_id, refund_at=refund_at, now=now
        )
        if charged is None:
            return error(ErrCode.INSUFFICIENT_BALANCE, "insufficient balance")
        seed = (
            body.get("seed") if isinstance(body.get("seed"), int) else self._random.randrange(2**31)
        )
        generation = Generation(
            video_id=video_id,
            api_key=api_key,
            path=request.path,
            body=body,
            trace_id=request.headers.get(TRACE_ID_HEADER),
            created_at=now,
            done_at=done_at,
            outcome=outcome,
            credits=credits,
            seed=seed,
            width=width,
            height=height,
            quality=quality,
            duration=_video_seconds(body, duration),
        )
        self.state.add_generation(generation)
        self.webhooks.schedule(
            generation,
            url=self._video_url(generation),
            size=len(render(generation.width, generation.height, generation.duration)),
        )
        self.live.remember(api_key, generation.trace_id, generation.video_id)
        return envelope({"video_id": video_id, **cost_answer(credits, field_name=cost_key)})

    def _outcome(self, body: dict[str, Any]) -> str:
        text = " ".join(
            str(body.get(k, "")) for k in ("prompt", "restyle_prompt", "sound_effect_content")
        )
        for marker, outcome in MARKERS.items():
            if marker in text:
                return outcome
        roll = self._random.random()
        if roll < self.config.failure_rate:
            return "failed"
        if roll < self.config.failure_rate + self.config.moderation_rate:
            return "moderated"
        return "success"

    async def mask_selection(self, request: web.Request) -> web.Response:
        body, bad = await self._json_body(request)
        if bad is not None:
            return bad
        refused = self._admit(request, body)
        if refused is not None:
            return refused
        source_field, source_id = _video_source(body)
        keyframe = body.get("keyframe_id") or 1
        cost = self.config.prices.mask_selection
        charged = self.state.ledger.charge(
            request.headers[API_KEY_HEADER],
            cost,
            video_id=source_id,
            refund_at=None,
            reason="mask selection",
            now=self._loop_time(),
        )
        if charged is None:
            return error(ErrCode.INSUFFICIENT_BALANCE, "insufficient balance")
        mask_ids = tuple(str(self.state.next_id()) for _ in range(2))
        selection = MaskSelection(source_field, source_id, keyframe, mask_ids)
        for mask_id in mask_ids:
            self.state.masks[mask_id] = selection
        return envelope(
            {
                "keyframe_id": keyframe,
                "keyframe_url": f"{self.base_url}/media/videos/keyframe-{keyframe}.jpg",
                "credits": cost,
                "mask_info": [
                    {
                        "mask_id": m,
                        "mask_name": name,
                        "mask_url": f"{self.base_url}/media/masks/{m}.png",
                    }
                    for m, name in zip(mask_ids, ("person", "background"), strict=True)
                ],
            }
        )

    # Reads -------------------------------------------------------------------------------

    async def video_result(self, request: web.Request) -> web.Response:
        raw_id = request.match_info["video_id"]
        if not (raw_id.isascii() and raw_id.isdigit()):  # "²" is a digit to isdigit()
            return error(ErrCode.INVALID_PARAMETER, "video_id must be an integer")
        video_id = parse_id(raw_id)
        gen = None if video_id is None else self.state.generations.get(video_id)
        if gen is None or gen.api_key != request.headers[API_KEY_HEADER]:
            return error(ErrCode.NOT_FOUND, "requested data not found")
        done = self._loop_time() >= gen.done_at
        status = gen.final_status if done else VideoStatusCode.GENERATING
        ok = status == VideoStatusCode.SUCCESSFUL
        return envelope(
            {
                "id": gen.video_id,
                "status": status,
                "url": self._video_url(gen) if ok else "",
                "outputWidth": gen.width if ok else 0,
                "outputHeight": gen.height if ok else 0,
                "size": len(render(gen.width, gen.height, gen.duration)) if ok else 0,
                "seed": gen.seed,
                "style": gen.body.get("style", ""),
                "prompt": gen.body.get("prompt", ""),
                "negative_prompt": gen.body.get("negative_prompt", ""),
                "resolution_ratio": min(gen.width, gen.height),
                "create_time": _iso(gen.created_at),
                "modify_time": _iso(gen.done_at if done else gen.created_at),
            }
        )

    def _video_url(self, gen: Generation) -> str:
        return f"{self.base_url}/media/videos/{gen.video_id}.mp4"

    async def balance(self, request: web.Request) -> web.Response:
        monthly, package = self.state.ledger.balance(
            request.headers[API_KEY_HEADER], now=self._loop_time()
        )
        return envelope({"account_id": 1001, "credit_monthly": monthly, "credit_package": package})

    async def tts_list(self, request: web.Request) -> web.Response:
        return self._page(request, [{"speaker_id": s, "name": n} for s, n in SPEAKERS])

    async def restyle_list(self, request: web.Request) -> web.Response:
        items = [
            {
                "restyle_id": i,
                "restyle_name": n,
                "web_thumbnail_url": f"{self.base_url}/media/restyle/{i}.webp",
            }
            for i, n in RESTYLES
        ]
        return self._page(request, items)

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        rej = validate_list_query(request.query)
        if rej is not None:
            return rejection(rej)
        num, size = int(request.query["page_num"]), int(request.query["page_size"])
        return envelope({"total": len(items), "data": items[(num - 1) * size : num * size]})

    async def serve_video(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        stem = name.removesuffix(".mp4")
        video_id = parse_id(stem)
        gen = None if video_id is None else self.state.generations.get(video_id)
        if gen is None:
            raise web.HTTPNotFound()
        path = self.storage / "videos" / f"{gen.width}x{gen.height}-{gen.duration}s.mp4"
        if not path.exists():  # written once per size and duration; served with ranges
            path.parent.mkdir(exist_ok=True)
            partial = path.with_suffix(f".{uuid.uuid4().hex}.part")
            partial.write_bytes(render(gen.width, gen.height, gen.duration))
            partial.replace(path)
        faulty = await self.config.media_faults.respond(request, path)
        if faulty is not None:
            return faulty
        return web.FileResponse(path, headers={"Content-Type": "video/mp4"})


def _video_source(body: dict[str, Any]) -> tuple[str, int]:
    """The video field of a validated mask selection or swap body, and its id."""
    if body.get("source_video_id") is not None:
        return "source_video_id", body["source_video_id"]
    return "video_media_id", body["video_media_id"]


def _video_seconds(body: dict[str, Any], duration: int) -> int:
    """How long the result lasts: a multi-transition's frames add up; else ``duration``."""
    frames = body.get("multi_transition")
    if isinstance(frames, list):
        total = sum(f["duration"] for f in frames if isinstance(f.get("duration"), int))
        return total or duration
    return duration


def sample_video_path() -> Path:
    """A small playable MP4 (160x90, 1 s), for tests that upload a video."""
    return Path(str(resources.files("pixverse_async.emulator") / "assets" / "sample.mp4"))


def _iso(loop_seconds: float) -> str:
    """Wall-clock ISO time of a moment given in event-loop time."""
    wall = time.time() - (asyncio.get_running_loop().time() - loop_seconds)
    return datetime.datetime.fromtimestamp(wall, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
