"""What the SDK tells you about each HTTP attempt: ``on_request`` / ``on_response`` hooks.

For logging and metrics in systems without OpenTelemetry. A hook is a plain function or a
coroutine function taking one event; it runs once per attempt (a retried call runs it once
per try), in the calling task, and an exception it raises propagates to the call. The events
never hold the API key: the ``API-KEY`` header is left out of :attr:`RequestEvent.headers`.

Example::

    import asyncio
    from pixverse_async import PixVerse
    from pixverse_async.emulator import Emulator
    from pixverse_async.hooks import RequestEvent, ResponseEvent

    def sent(event: RequestEvent) -> None:
        print("->", event.method, event.path, event.trace_id, event.attempt)

    async def answered(event: ResponseEvent) -> None:
        print("<-", event.status, f"{event.elapsed:.3f}s", event.error_type)

    async def main() -> None:
        async with Emulator(api_keys={"k"}) as emu:
            async with PixVerse(api_key="k", base_url=emu.base_url,
                                on_request=sent, on_response=answered) as client:
                await client.account.balance()

    asyncio.run(main())
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .constants import API_KEY_HEADER

__all__ = ["Hook", "Hooks", "RequestEvent", "ResponseEvent", "call_hook", "public_headers"]

E = TypeVar("E")

Hook = Callable[[E], object]
"""A hook: called with the event; if it returns an awaitable (an ``async def`` hook), that
is awaited."""


def public_headers(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """``headers`` without the API key, read-only."""
    kept = CIMultiDict((k, v) for k, v in headers.items() if k.lower() != API_KEY_HEADER.lower())
    return CIMultiDictProxy(kept)


@attrs.frozen
class RequestEvent:
    """One attempt about to be sent. ``attempt`` counts from 1 (2 is the first retry);
    ``headers`` are what is sent, less the ``API-KEY``."""

    method: str
    url: str
    path: str
    trace_id: str
    attempt: int
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)


@attrs.frozen
class ResponseEvent:
    """How one attempt ended: ``status`` is the HTTP status (0 when no answer came, then
    ``error_type`` names the transport failure), ``headers`` the answer's, ``elapsed`` the
    seconds since the request left."""

    request: RequestEvent
    status: int
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)
    elapsed: float
    error_type: str | None = None


async def call_hook(hook: Hook[E], event: E) -> None:
    """Run a sync or async hook."""
    result = hook(event)
    if inspect.isawaitable(result):
        await result


class Attempt(Protocol):
    """What the hooks read of the session's attempt (``number`` counts from 1)."""

    method: str
    url: str
    params: Mapping[str, str] | None
    path: str
    number: int
    headers: dict[str, str]

    @property
    def trace_id(self) -> str: ...


@attrs.frozen
class Hooks:
    """A session's two hooks, run around each attempt."""

    on_request: Hook[RequestEvent] | None
    on_response: Hook[ResponseEvent] | None

    async def before(self, attempt: Attempt) -> RequestEvent:
        """The attempt's event, after ``on_request`` ran on it."""
        url = attempt.url
        if attempt.params:
            url = str(URL(url).update_query(attempt.params))
        event = RequestEvent(
            attempt.method,
            url,
            attempt.path,
            attempt.trace_id,
            attempt.number,
            public_headers(attempt.headers),
        )
        if self.on_request is not None:
            await call_hook(self.on_request, event)
        return event

    async def after(
        self,
        request: RequestEvent,
        status: int,
        headers: CIMultiDictProxy[str] | None,
        elapsed: float,
        error_type: str | None,
    ) -> None:
        """Run ``on_response`` (``status`` 0 and ``error_type`` when no answer came)."""
        if self.on_response is not None:
            answer = headers if headers is not None else CIMultiDictProxy(CIMultiDict())
            await call_hook(
                self.on_response, ResponseEvent(request, status, answer, elapsed, error_type)
            )
