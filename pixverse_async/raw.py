"""Raw responses: an answer's HTTP status and headers together with its typed result.

:func:`with_raw_response` wraps any call of the client (``client.account.balance``,
``client.videos.text_to_video``, ...) into one returning a :class:`RawResponse` that holds
what the call returns (``.parsed``, typed as the call's result) and the status and headers of
the HTTP answer it was made from: its last one, when the call made several (retries, an upload
before a submit). Read a rate-limit header or the ``Ai-trace-id`` PixVerse echoes this way.

Example::

    import asyncio
    from pixverse_async import PixVerse
    from pixverse_async.emulator import Emulator

    async def main() -> None:
        async with Emulator(api_keys={"k"}) as emu:
            async with PixVerse(api_key="k", base_url=emu.base_url) as client:
                raw = await client.with_raw_response(client.account.balance)()
                print(raw.status, raw.headers.get("Content-Type"), raw.trace_id)
                print(raw.parsed.credit_monthly)

    asyncio.run(main())
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Generic, ParamSpec, TypeVar

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from .errors import PixVerseError

__all__ = ["RawResponse", "record_answer", "with_raw_response"]

P = ParamSpec("P")
T = TypeVar("T")


@attrs.define
class _Answer:
    status: int = 0
    headers: CIMultiDictProxy[str] = attrs.field(factory=lambda: CIMultiDictProxy(CIMultiDict()))
    trace_id: str | None = None
    seen: bool = False


_ANSWER: contextvars.ContextVar[_Answer | None] = contextvars.ContextVar(
    "pixverse_async_raw_answer", default=None
)


def record_answer(status: int, headers: CIMultiDictProxy[str], trace_id: str) -> None:
    """Called by the session for every HTTP answer; kept only inside a raw call."""
    answer = _ANSWER.get()
    if answer is not None:
        answer.status, answer.headers, answer.trace_id = status, headers, trace_id
        answer.seen = True


@attrs.frozen
class RawResponse(Generic[T]):
    """A call's result (``parsed``) with the HTTP answer it came from. ``trace_id`` is the
    ``Ai-trace-id`` the SDK sent for that answer."""

    parsed: T
    status: int
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)
    trace_id: str | None


def with_raw_response(call: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[RawResponse[T]]]:
    """``call`` made to return a :class:`RawResponse` of its result; same arguments.

    A call that made no HTTP request raises :class:`~pixverse_async.errors.PixVerseError`
    (there is no answer to show); a call that fails raises as it would unwrapped.
    """

    @functools.wraps(call)
    async def raw(*args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        answer = _Answer()
        token = _ANSWER.set(answer)
        try:
            parsed = await call(*args, **kwargs)
        finally:
            _ANSWER.reset(token)
        if not answer.seen:
            raise PixVerseError(f"{getattr(call, '__qualname__', call)!r} made no HTTP request")
        return RawResponse(parsed, answer.status, answer.headers, answer.trace_id)

    return raw
