"""Fault injection: the ways a real service and the network between fail.

Faults come two ways. *Rates* (``FaultConfig(error_500=0.1, ...)``, the CLI's
``--fault-rate``) give every API request a chance of one fault. *Rules*
(:meth:`FaultConfig.add`) aim a fault at one endpoint, once, N times or at a rate, and are
tried first, in the order they were added. Where a fault happens matters for paid calls, so
it is stated per kind:

- ``refuse``: HTTP 200 with an ErrCode (``err_code=``, 500044 by default), *before* the
  route acts; ``concurrency_limited`` is this with 500044;
- ``error_500``: an HTTP 500 lowercase error envelope, before the route acts;
- ``rate_limited``: HTTP 429 with ``Retry-After`` (``retry_after=``), before the route acts;
- ``html_502``: an HTML page from a "proxy", *after* the route acted (a generation was created);
- ``reset``: the connection is dropped after the request was read and the route acted;
- ``slow``: the answer is held for ``seconds`` of the emulator's clock after the route acted
  (with a manual clock, until the test moves it that far);
- ``failed``, ``moderated``, ``deleted``: the generation the request creates ends so
  (rules only, on generation endpoints).

Rules also take the friendlier names ``rate_limit``, ``drop``, ``delay``, ``fail``,
``moderate`` and ``delete``. Requests records (``RequestRecord.fault``) use the names above.

Example::

    from pixverse_async.emulator import FaultConfig

    faults = FaultConfig(seed=1)
    faults.add("text_to_video", "rate_limit", times=1)   # the next submit gets a 429
    faults.add("status", "delay", seconds=0.2, rate=0.5)   # half the status reads are slow
    faults.add("image_to_video", "fail")                  # every image-to-video fails
    print(faults.draw("/openapi/v2/video/text/generate").kind)  # rate_limited
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from ..constants import ErrCode, Paths
from .clock import EmulatorClock
from .responses import error, error_json

BEFORE_FAULTS = ("error_500", "rate_limited", "concurrency_limited", "refuse")
AFTER_FAULTS = ("html_502", "reset", "slow")
OUTCOME_FAULTS = ("failed", "moderated", "deleted")
_RATE_FAULTS = ("error_500", "rate_limited", "concurrency_limited", "html_502", "reset", "slow")
ALIASES = {
    "rate_limit": "rate_limited",
    "drop": "reset",
    "delay": "slow",
    "fail": "failed",
    "moderate": "moderated",
    "delete": "deleted",
}

GENERATION_ENDPOINTS = {
    "text_to_video": Paths.TEXT_TO_VIDEO,
    "image_to_video": Paths.IMAGE_TO_VIDEO,
    "transition": Paths.TRANSITION,
    "multi_transition": Paths.MULTI_TRANSITION,
    "extend": Paths.EXTEND,
    "fusion": Paths.FUSION,
    "restyle": Paths.RESTYLE,
    "swap": Paths.SWAP,
    "lip_sync": Paths.LIP_SYNC,
    "sound_effect": Paths.SOUND_EFFECT,
}
#: Short endpoint names a rule may use instead of a path (a path prefix works too).
ENDPOINTS: dict[str, tuple[str, ...]] = {
    **{name: (path,) for name, path in GENERATION_ENDPOINTS.items()},
    "generate": tuple(GENERATION_ENDPOINTS.values()),
    "mask_selection": (Paths.MASK_SELECTION,),
    "status": (Paths.VIDEO_RESULT_PREFIX,),
    "balance": (Paths.BALANCE,),
    "tts_list": (Paths.TTS_LIST,),
    "restyle_list": (Paths.RESTYLE_LIST,),
    "image_upload": (Paths.IMAGE_UPLOAD,),
    "media_upload": (Paths.MEDIA_UPLOAD,),
    "upload": (Paths.IMAGE_UPLOAD, Paths.MEDIA_UPLOAD),
    "*": ("/openapi/",),
}


def endpoint_paths(endpoint: str) -> tuple[str, ...]:
    """The path prefixes ``endpoint`` (a short name or a path) stands for."""
    if endpoint.startswith("/"):
        return (endpoint,)
    try:
        return ENDPOINTS[endpoint]
    except KeyError:
        known = ", ".join(sorted(ENDPOINTS))
        raise ValueError(f"endpoint: unknown {endpoint!r}; use a path or one of {known}") from None


@dataclass
class Fault:
    """One fault to apply to one request, with its parameters."""

    kind: str
    err_code: int = ErrCode.CONCURRENCY_LIMIT
    message: str = ""
    retry_after: str = "1"
    seconds: float = 2.0
    hold: float = 0.0
    """Seconds of the emulator's clock the answer waits before it goes out (a refusal that
    arrives late: the status of a job that ended meanwhile, say)."""


@dataclass
class FaultRule(Fault):
    """A fault aimed at an endpoint: at most ``times`` times (None: no limit), at ``rate``.

    ``hits`` counts the requests it was applied to.
    """

    endpoint: str = "*"
    times: int | None = None
    rate: float = 1.0
    hits: int = 0
    paths: tuple[str, ...] = ()

    @property
    def exhausted(self) -> bool:
        """Whether the rule was applied ``times`` times already."""
        return self.times is not None and self.hits >= self.times

    def matches(self, path: str) -> bool:
        """Whether a request to ``path`` may get this fault (before the ``rate`` draw)."""
        return not self.exhausted and path.startswith(self.paths)


@dataclass
class FaultConfig:
    """Rates (0..1) of each fault and their parameters, and the rules added with :meth:`add`."""

    error_500: float = 0.0
    html_502: float = 0.0
    reset: float = 0.0
    slow: float = 0.0
    rate_limited: float = 0.0
    concurrency_limited: float = 0.0
    slow_seconds: float = 2.0
    retry_after: str = "1"
    #: Only paths starting with one of these get rate faults; empty means every API path.
    paths: tuple[str, ...] = ()
    seed: int | None = None
    rules: list[FaultRule] = field(default_factory=list)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @classmethod
    def uniform(cls, rate: float, **kwargs: object) -> FaultConfig:
        """Every fault at ``rate`` (the CLI's ``--fault-rate``)."""
        return cls(
            error_500=rate,
            html_502=rate,
            reset=rate,
            slow=rate,
            rate_limited=rate,
            concurrency_limited=rate,
            **kwargs,  # type: ignore[arg-type]
        )

    def add(
        self,
        endpoint: str,
        kind: str,
        *,
        times: int | None = None,
        rate: float = 1.0,
        err_code: int | None = None,
        message: str = "",
        retry_after: float | str = 1,
        seconds: float = 2.0,
        hold: float = 0.0,
    ) -> FaultRule:
        """Aim fault ``kind`` at ``endpoint`` (a short name of :data:`ENDPOINTS` or a path).

        It applies to each matching request with chance ``rate``, at most ``times`` times
        (None: every time). Returns the rule; its ``hits`` say how often it was applied.
        ``hold`` delays its answer by that many seconds of the emulator's clock.
        """
        canonical = ALIASES.get(kind, kind)
        if canonical not in BEFORE_FAULTS + AFTER_FAULTS + OUTCOME_FAULTS:
            kinds = sorted({*BEFORE_FAULTS, *AFTER_FAULTS, *OUTCOME_FAULTS, *ALIASES})
            raise ValueError(f"kind: unknown fault {kind!r}; use one of {', '.join(kinds)}")
        if times is not None and times < 1:
            raise ValueError(f"times: must be 1 or more (or None), got {times!r}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate: must be between 0 and 1, got {rate!r}")
        paths = endpoint_paths(endpoint)
        if canonical in OUTCOME_FAULTS and not set(paths) <= set(GENERATION_ENDPOINTS.values()):
            raise ValueError(
                f"endpoint: {kind!r} applies to generation endpoints, not {endpoint!r}"
            )
        rule = FaultRule(
            kind=canonical,
            err_code=ErrCode.CONCURRENCY_LIMIT if err_code is None else err_code,
            message=message,
            retry_after=str(retry_after),
            seconds=seconds,
            hold=hold,
            endpoint=endpoint,
            times=times,
            rate=rate,
            paths=paths,
        )
        self.rules.append(rule)
        return rule

    def once(self, endpoint: str, kind: str, **options: object) -> FaultRule:
        """:meth:`add` with ``times=1``: the next matching request gets the fault."""
        return self.add(endpoint, kind, times=1, **options)  # type: ignore[arg-type]

    def clear(self) -> None:
        """Remove every rule (rates stay)."""
        self.rules.clear()

    def _fire(self, path: str, kinds: tuple[str, ...]) -> FaultRule | None:
        for rule in self.rules:
            if rule.kind in kinds and rule.matches(path) and self._random.random() < rule.rate:
                rule.hits += 1
                return rule
        return None

    def draw(self, path: str) -> Fault | None:
        """The fault for one request to ``path``, or None."""
        rule = self._fire(path, BEFORE_FAULTS + AFTER_FAULTS)
        if rule is not None:
            return rule
        if self.paths and not path.startswith(self.paths):
            return None
        roll = self._random.random()
        for name in _RATE_FAULTS:
            rate: float = getattr(self, name)
            if roll < rate:
                return Fault(name, retry_after=self.retry_after, seconds=self.slow_seconds)
            roll -= rate
        return None

    def draw_outcome(self, path: str) -> str | None:
        """How the generation a request to ``path`` creates must end, if a rule says so."""
        rule = self._fire(path, OUTCOME_FAULTS)
        return None if rule is None else rule.kind


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def answer_with_fault(
    fault: Fault | None, request: web.Request, handler: Handler, clock: EmulatorClock
) -> web.StreamResponse:
    """Run ``handler`` for ``request`` with ``fault`` applied before or after it (``clock``
    times a ``slow`` answer)."""
    if fault is None:
        return await handler(request)
    if fault.hold > 0:
        await _hold(clock, fault.hold)
    kind = fault.kind
    if kind == "error_500":
        body = {"err_code": 500000, "err_msg": "internal error (injected)", "resp": ""}
        return error_json(body, 500, 500000)
    if kind == "rate_limited":
        message = "too many requests (injected)"
        body = {"ErrCode": ErrCode.HIGH_LOAD, "ErrMsg": message, "Resp": None}
        limited = error_json(body, 429, ErrCode.HIGH_LOAD)
        limited.headers["Retry-After"] = fault.retry_after
        return limited
    if kind == "concurrency_limited":
        return error(ErrCode.CONCURRENCY_LIMIT, "concurrent generation limit reached (injected)")
    if kind == "refuse":
        return error(fault.err_code, fault.message or f"refused (injected {fault.err_code})")
    response = await handler(request)
    if kind == "html_502":
        return web.Response(
            status=502,
            text="<html><body><h1>502 Bad Gateway</h1></body></html>",
            content_type="text/html",
        )
    if kind == "reset":
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # nothing more can be sent on this connection
    if kind == "slow":
        await _hold(clock, fault.seconds)
    return response


async def _hold(clock: EmulatorClock, seconds: float) -> None:
    until = clock.now() + seconds
    await clock.sleep_until(lambda: until)
