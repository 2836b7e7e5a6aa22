"""The async session layer: one aiohttp session, headers, retries and envelope decoding.

:class:`Session` is what endpoint modules call. It adds ``API-KEY`` and a fresh UUID4
``Ai-trace-id`` to every logical call (its retries reuse that id, so the service's logs tie
them together), applies the :mod:`~pixverse_async.retry` policy with ``backoff``, decodes the
``{"ErrCode", "ErrMsg", "Resp"}`` envelope (and the lowercase shape of HTTP 500 answers) and
raises typed errors from :mod:`~pixverse_async.errors`.

Example::

    import asyncio
    from pixverse_async.emulator import Emulator
    from pixverse_async.session import Session

    async def main() -> None:
        async with Emulator(api_keys={"k"}) as emu:
            async with Session(api_key="k", base_url=emu.base_url) as session:
                balance = await session.request("GET", "/openapi/v2/account/balance")
                print(balance)

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import aiohttp
import backoff

from ._version import __version__
from .constants import API_KEY_HEADER, TRACE_ID_HEADER, ErrCode
from .errors import (
    APIError,
    PixVerseError,
    RateLimitError,
    ResponseDecodingError,
    ServerError,
    SubmissionUnknownError,
    TransportError,
    error_for_code,
)
from .retry import RetryableFailure, RetryPolicy, parse_retry_after, wait_generator

logger = logging.getLogger("pixverse_async")

USER_AGENT = f"pixverse-async/{__version__} aiohttp/{aiohttp.__version__}"
#: No separate read timeout: aiohttp arms a timer for every read with one (measurably slower
#: per call), and the total deadline already bounds a stalled answer.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=15)
#: Bodies larger than this are not read; error bodies are cut to it.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
_ERR_MSG_MAX_CHARS = 500
# An ErrCode sent as text: ASCII digits only ("²" is a digit to str.isdigit, not to int()).
_CODE_TEXT = re.compile(r"\s*-?[0-9]{1,19}\s*", re.ASCII)
_RATE_LIMIT_CODES = frozenset({ErrCode.CONCURRENCY_LIMIT, ErrCode.HIGH_LOAD})

Body = Callable[[], Any]
"""A factory for a request body (e.g. a multipart writer), called afresh for every attempt."""


class _Attempt:
    """What one logical call needs for each of its attempts."""

    __slots__ = (
        "body",
        "body_error",
        "data",
        "headers",
        "method",
        "number",
        "paid",
        "params",
        "path",
        "timeout",
        "url",
    )

    def __init__(
        self,
        *,
        method: str,
        path: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
        body: Body | None,
        params: Mapping[str, str] | None,
        paid: bool,
        timeout: aiohttp.ClientTimeout | None,
        body_error: Callable[[BaseException], PixVerseError | None] | None = None,
    ) -> None:
        self.body_error = body_error
        self.method = method
        self.path = path
        self.url = url
        self.headers = headers
        self.data = data
        self.body = body
        self.params = params
        self.paid = paid
        self.timeout = timeout
        self.number = 0

    @property
    def trace_id(self) -> str:
        return self.headers[TRACE_ID_HEADER]


_Retrier = Callable[[_Attempt, list[RetryableFailure]], Awaitable[Any]]
"""A call wrapped in backoff's retry loop (see :meth:`Session.request`)."""


class Session:
    """An authenticated aiohttp session for the PixVerse API.

    The ``aiohttp.ClientSession`` is created lazily, inside the running event loop, on the
    first call, and closed by :meth:`aclose` (or ``async with``). A session passed in as
    ``session`` is used as it is and never closed here. Using one :class:`Session` from two
    event loops raises :class:`~pixverse_async.errors.PixVerseError` at once.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        connection_limit: int = 100,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not api_key:
            raise PixVerseError("an API key is required")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.connection_limit = connection_limit
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._retriers: dict[int, _Retrier] = {}

    def __repr__(self) -> str:
        return f"Session(base_url={self.base_url!r}, api_key='***')"

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Close the aiohttp session if this object created it. Safe to call twice."""
        self._closed = True
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()

    def client_session(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use inside the running loop."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise PixVerseError(
                "this client was opened in another event loop; create one client per loop"
            )
        if self._closed:
            raise PixVerseError("this client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.connection_limit)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    def _headers(self, trace_id: str | None) -> dict[str, str]:
        headers = {API_KEY_HEADER: self._api_key, TRACE_ID_HEADER: trace_id or str(uuid.uuid4())}
        if not self._owns_session:
            headers["User-Agent"] = USER_AGENT
        return headers

    async def request(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        body: Body | None = None,
        params: Mapping[str, str] | None = None,
        paid: bool = False,
        max_retries: int | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        trace_id: str | None = None,
        body_error: Callable[[BaseException], PixVerseError | None] | None = None,
    ) -> Any:
        """Make one logical call and return the envelope's ``Resp``.

        ``json_body`` is sent as JSON; ``body`` is a factory for any other body (called for
        every attempt, so a retried upload streams its file again). ``paid`` marks calls that
        start paid work: they are never retried once the service may have acted on them.
        ``trace_id`` lets a caller choose the call's ``Ai-trace-id`` (a fresh UUID4 otherwise),
        e.g. to journal it before the call is sent. ``body_error`` recognises a failure of
        the body itself (a file that changed while streaming): it is raised as it is,
        never retried and never taken for an ambiguous submit.
        """
        headers = self._headers(trace_id)
        data: bytes | None = None
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        attempt = _Attempt(
            method=method,
            path=path,
            url=self.base_url + path,
            headers=headers,
            data=data,
            body=body,
            params=params,
            paid=paid,
            timeout=timeout,
            body_error=body_error,
        )
        retries = self.retry.max_retries if max_retries is None else max_retries
        try:
            # Most calls succeed at once: the first attempt skips backoff's per-call
            # bookkeeping (clock reads, a wait generator, a details dict).
            return await self._attempt(attempt)
        except RetryableFailure as failure:
            replay = [failure]
        retrier = self._retriers.get(retries)
        if retrier is None:
            retrier = self._retriers[retries] = backoff.on_exception(
                lambda: wait_generator(self.retry),
                RetryableFailure,
                max_tries=retries + 1,
                jitter=None,
                on_backoff=_log_backoff,
            )(self._retry_attempt)
        try:
            return await retrier(attempt, replay)
        except RetryableFailure as failure:
            raise failure.error from failure.error.__cause__

    async def _retry_attempt(self, attempt: _Attempt, replay: list[RetryableFailure]) -> Any:
        """backoff's target once the first attempt failed: its first try re-raises that
        failure, so the waits, the log lines and the count of tries are as if backoff had
        made every attempt."""
        if replay:
            raise replay.pop()
        return await self._attempt(attempt)

    async def _attempt(self, attempt: _Attempt) -> Any:
        session = self.client_session()
        attempt.number += 1
        started = time.monotonic()
        sent_body = attempt.data if attempt.body is None else attempt.body()
        status = 0
        try:
            async with session.request(
                attempt.method,
                attempt.url,
                data=sent_body,
                params=attempt.params,
                headers=attempt.headers,
                timeout=attempt.timeout or self.timeout,
                # aiohttp re-sends custom headers (API-KEY) to any redirect target; the API
                # never redirects, so a 3xx is answered as an error and the key stays here.
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await _read_capped(response.content, MAX_RESPONSE_BYTES + 1)
                retry_after = response.headers.get("Retry-After")
                content_type = response.headers.get("Content-Type", "")
        except aiohttp.ClientConnectorError as exc:
            # The connection was never made: nothing reached the service.
            raise RetryableFailure(self._transport_error(attempt, exc)) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise RetryableFailure(self._transport_error(attempt, exc)) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            own = attempt.body_error(exc) if attempt.body_error is not None else None
            if own is not None:
                raise own from exc
            if attempt.paid:
                raise SubmissionUnknownError(
                    method=attempt.method,
                    path=attempt.path,
                    trace_id=attempt.trace_id,
                    request=_json_or_none(attempt.data),
                    cause=_describe(exc),
                ) from exc
            raise RetryableFailure(self._transport_error(attempt, exc)) from exc
        finally:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s %s trace_id=%s status=%s elapsed=%.3fs attempt=%d",
                    attempt.method,
                    attempt.path,
                    attempt.trace_id,
                    status or "-",
                    time.monotonic() - started,
                    attempt.number,
                )
        return self._decode(attempt, status, raw, content_type, retry_after)

    def _transport_error(self, attempt: _Attempt, exc: BaseException) -> TransportError:
        return TransportError(
            _describe(exc),
            method=attempt.method,
            path=attempt.path,
            trace_id=attempt.trace_id,
            attempts=attempt.number,
        )

    def _decode(
        self,
        attempt: _Attempt,
        status: int,
        raw: bytes,
        content_type: str,
        retry_after_header: str | None,
    ) -> Any:
        """Turn one HTTP answer into ``Resp`` or the right exception (retryable or not)."""
        envelope = _parse_envelope(raw) if len(raw) <= MAX_RESPONSE_BYTES else None
        if envelope is None:
            return self._no_envelope(attempt, status, raw, content_type, retry_after_header)
        err_code, err_msg, resp = envelope
        if err_code == 0 and status < 400:
            return resp
        retry_after = parse_retry_after(retry_after_header)
        error = error_for_code(
            err_code=err_code,
            err_msg=err_msg,
            http_status=status,
            trace_id=attempt.trace_id,
            retry_after=retry_after,
        )
        if isinstance(error, RateLimitError) or status == 429:
            self._raise_rate_limited(error, retry_after)
        if status >= 500 and not attempt.paid and isinstance(error, ServerError):
            raise RetryableFailure(error)
        raise error

    def _raise_rate_limited(self, error: APIError, retry_after: float | None) -> None:
        if retry_after is not None and retry_after > self.retry.retry_after_cap:
            raise error  # the service asks for more than we wait silently
        raise RetryableFailure(error, retry_after)

    def _no_envelope(
        self,
        attempt: _Attempt,
        status: int,
        raw: bytes,
        content_type: str,
        retry_after_header: str | None,
    ) -> Any:
        excerpt = _excerpt(raw, content_type)
        if status == 429:
            retry_after = parse_retry_after(retry_after_header)
            error = error_for_code(
                err_code=None,
                err_msg=excerpt or "too many requests",
                http_status=status,
                trace_id=attempt.trace_id,
                retry_after=retry_after,
            )
            self._raise_rate_limited(error, retry_after)
        if 400 <= status < 500:
            # A 4xx is a definite refusal: the service did not act on the call.
            raise error_for_code(
                err_code=None, err_msg=excerpt, http_status=status, trace_id=attempt.trace_id
            )
        if attempt.paid:
            raise SubmissionUnknownError(
                method=attempt.method,
                path=attempt.path,
                trace_id=attempt.trace_id,
                request=_json_or_none(attempt.data),
                cause=f"HTTP {status} without a PixVerse envelope",
            )
        if status >= 500:
            raise RetryableFailure(
                error_for_code(
                    err_code=None, err_msg=excerpt, http_status=status, trace_id=attempt.trace_id
                )
            )
        raise RetryableFailure(
            ResponseDecodingError(
                f"HTTP {status} body is not a PixVerse envelope: {excerpt!r}",
                method=attempt.method,
                path=attempt.path,
                trace_id=attempt.trace_id,
                http_status=status,
            )
        )


async def _read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to ``limit`` bytes. ``StreamReader.read(n)`` returns only what is buffered
    (one network chunk), so a large body is read in a loop until EOF or ``limit``."""
    first = await stream.read(limit)
    if not first or len(first) >= limit or stream.at_eof():
        return first  # the usual small answer: all of it came in one chunk
    data = bytearray(first)
    while len(data) < limit:
        chunk = await stream.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _parse_envelope(raw: bytes) -> tuple[int | None, str, Any] | None:
    """``(err_code, err_msg, resp)`` from either envelope shape, or None if it is not one."""
    if not raw:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    if "ErrCode" in doc:
        code, msg, resp = doc["ErrCode"], doc.get("ErrMsg"), doc.get("Resp")
    elif "err_code" in doc:
        code, msg, resp = doc["err_code"], doc.get("err_msg"), doc.get("resp")
    else:
        return None
    return _as_code(code), _as_message(msg), resp


def _as_code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _CODE_TEXT.fullmatch(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_message(value: object) -> str:
    text = value if isinstance(value, str) else ("" if value is None else repr(value))
    return text[:_ERR_MSG_MAX_CHARS]


def _excerpt(raw: bytes, content_type: str) -> str:
    if not raw:
        return "empty response body"
    text = raw[:_ERR_MSG_MAX_CHARS].decode("utf-8", "replace").strip()
    kind = content_type.split(";")[0] or "unknown content type"
    return f"{kind}: {' '.join(text.split())[:200]}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json_or_none(data: bytes | None) -> Mapping[str, Any] | None:
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _log_backoff(details: Mapping[str, Any]) -> None:
    attempt: _Attempt = details["args"][0]
    failure = details.get("exception")
    logger.debug(
        "retry %s %s trace_id=%s after attempt %d in %.3fs: %s",
        attempt.method,
        attempt.path,
        attempt.trace_id,
        details["tries"],
        details["wait"],
        type(failure.error).__name__ if isinstance(failure, RetryableFailure) else failure,
    )
