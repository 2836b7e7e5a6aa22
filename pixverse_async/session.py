"""The async session layer: one aiohttp session, headers, retries and envelope decoding.

:class:`Session` is what endpoint modules call. It adds ``API-KEY`` and a fresh UUID4
``Ai-trace-id`` to every logical call (its retries reuse that id, so the service's logs tie
them together; a generation submit whose outcome is unknown is resent under it, which
PixVerse answers with the first submit's result), applies a call's
:class:`~pixverse_async.options.RequestOptions`, retries through
:func:`~pixverse_async.retry.call_with_retries`, decodes the ``{"ErrCode", "ErrMsg", "Resp"}``
envelope (and the lowercase shape of HTTP 500 answers) and raises typed errors from
:mod:`~pixverse_async.errors`.

Example::

    import asyncio
    from pixverse_async.emulator import Emulator
    from pixverse_async.options import RequestOptions
    from pixverse_async.session import Session

    async def main() -> None:
        async with Emulator(api_keys={"k"}) as emu:
            async with Session(api_key="k", base_url=emu.base_url) as session:
                balance = await session.request("GET", "/openapi/v2/account/balance")
                quick = RequestOptions(timeout=5, max_retries=0, extra_headers={"X-Tag": "1"})
                balance = await session.request(
                    "GET", "/openapi/v2/account/balance", options=quick)
                print(balance)

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

import aiohttp
import attrs
import yarl

from ._version import __version__
from .constants import API_KEY_ENV, API_KEY_HEADER, TRACE_ID_HEADER, ErrCode
from .errors import (
    APIError,
    AuthenticationError,
    PixVerseError,
    RateLimitError,
    ResponseDecodingError,
    ServerError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
    error_for_code,
)
from .hooks import Hook, Hooks, RequestEvent, ResponseEvent
from .logs import log_context, sdk_logger
from .options import (
    RequestOptions,
    Timeout,
    as_client_timeout,
    check_extra_headers,
    merge_extra,
    merge_query,
)
from .raw import record_answer
from .retry import RetryableFailure, RetryPolicy, call_with_retries, parse_retry_after
from .telemetry import current as telemetry
from .telemetry.attempts import UNTRACED, start_attempt

logger = sdk_logger("pixverse_async")

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


@attrs.define(eq=False, repr=False)
class _Attempt:
    """What one logical call needs for each of its attempts; its repr names the call (for
    the retry log line) and never shows the headers, which hold the API key."""

    method: str
    path: str
    url: str
    headers: dict[str, str]
    data: bytes | None
    body: Body | None
    params: Mapping[str, str] | None
    paid: bool
    timeout: aiohttp.ClientTimeout
    body_error: Callable[[BaseException], PixVerseError | None] | None = None
    options: RequestOptions | None = None
    #: Resends allowed when the outcome is unknown (0: raise SubmissionUnknownError at once).
    resends: int = 0
    on_resend: Callable[[], Awaitable[object]] | None = None
    number: int = 0
    #: The HTTP status of the latest answer (0: none yet).
    status: int = 0
    #: An attempt's outcome was unknown: every later failure leaves it unknown too.
    ambiguous: bool = False

    @property
    def trace_id(self) -> str:
        return self.headers[TRACE_ID_HEADER]

    def __repr__(self) -> str:
        return f"{self.method} {self.path} trace_id={self.trace_id}"


@attrs.define(eq=False)
class _Pool:
    """The aiohttp session (the connection pool) and its event loop, shared by a
    :class:`Session` and its :meth:`~Session.with_options` copies."""

    connection_limit: int
    session: aiohttp.ClientSession | None
    owned: bool
    trace_configs: Sequence[aiohttp.TraceConfig] = ()
    loop: asyncio.AbstractEventLoop | None = None
    closed: bool = False


class Session:
    """An authenticated aiohttp session for the PixVerse API.

    The ``aiohttp.ClientSession`` is created lazily, inside the running event loop, on the
    first call, and closed by :meth:`aclose` (or ``async with``). A session passed in as
    ``session`` is used as it is and never closed here. Using one :class:`Session` from two
    event loops raises :class:`~pixverse_async.errors.PixVerseError` at once. ``timeout`` is
    a total in seconds or an ``aiohttp.ClientTimeout``; a missing ``api_key`` raises
    :class:`~pixverse_async.errors.AuthenticationError` here.

    ``on_request`` / ``on_response`` are run for every attempt (see
    :mod:`~pixverse_async.hooks`); ``trace_configs`` are passed to the
    ``aiohttp.ClientSession`` created here (with a borrowed ``session``, give them to it).
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        connection_limit: int = 100,
        session: aiohttp.ClientSession | None = None,
        on_request: Hook[RequestEvent] | None = None,
        on_response: Hook[ResponseEvent] | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
    ) -> None:
        if session is not None and trace_configs:
            raise ValidationError(
                "trace_configs",
                "apply only to the aiohttp session the SDK creates: pass them to your own "
                "aiohttp.ClientSession(trace_configs=...) instead",
            )
        if not api_key:
            raise AuthenticationError(
                err_code=None,
                err_msg=f"no API key: pass api_key=... or set the {API_KEY_ENV} "
                "environment variable",
                http_status=0,
                trace_id=None,
            )
        url = yarl.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValidationError(
                "base_url", "must be an http:// or https:// URL with a host", base_url
            )
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = as_client_timeout(timeout)
        self.retry = retry or RetryPolicy()
        self._pool = _Pool(
            connection_limit, session, owned=session is None, trace_configs=trace_configs or ()
        )
        self._hooks = Hooks(on_request, on_response) if on_request or on_response else None
        self._is_copy = False

    def __repr__(self) -> str:
        return f"Session(base_url={self.base_url!r}, api_key='***')"

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def connection_limit(self) -> int:
        return self._pool.connection_limit

    @property
    def closed(self) -> bool:
        return self._pool.closed

    def with_options(
        self, *, timeout: Timeout | None = None, retry: RetryPolicy | None = None
    ) -> Session:
        """A copy with another default timeout or retry policy, sharing this session's
        connection pool and lifecycle: closing the copy does nothing, closing this session
        closes the pool for both."""
        clone = copy.copy(self)
        clone._is_copy = True
        if timeout is not None:
            clone.timeout = as_client_timeout(timeout)
        if retry is not None:
            clone.retry = retry
        return clone

    async def aclose(self) -> None:
        """Close the aiohttp session if this object created it. Safe to call twice; a no-op
        on a :meth:`with_options` copy (the pool belongs to the original)."""
        if self._is_copy:
            return
        pool = self._pool
        pool.closed = True
        if pool.session is not None and pool.owned and not pool.session.closed:
            await pool.session.close()

    def client_session(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use inside the running loop."""
        pool = self._pool
        loop = asyncio.get_running_loop()
        if pool.loop is None:
            pool.loop = loop
        elif pool.loop is not loop:
            raise PixVerseError(
                "this client was opened in another event loop; create one client per loop"
            )
        if pool.closed:
            raise PixVerseError("this client is closed")
        if pool.session is None:
            connector = aiohttp.TCPConnector(limit=pool.connection_limit)
            pool.session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT},
                trace_configs=list(pool.trace_configs) or None,
            )
        return pool.session

    def _headers(self, trace_id: str | None) -> dict[str, str]:
        headers = {API_KEY_HEADER: self._api_key, TRACE_ID_HEADER: trace_id or str(uuid.uuid4())}
        if not self._pool.owned:
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
        options: RequestOptions | None = None,
        max_retries: int | None = None,
        trace_id: str | None = None,
        body_error: Callable[[BaseException], PixVerseError | None] | None = None,
        resend_ambiguous: bool = False,
        on_resend: Callable[[], Awaitable[object]] | None = None,
    ) -> Any:
        """Make one logical call and return the envelope's ``Resp``.

        ``json_body`` is sent as JSON; ``body`` is a factory for any other body (called for
        every attempt, so a retried upload streams its file again). ``paid`` marks calls that
        start paid work: they are never retried once the service may have acted on them.
        ``options`` are the caller's per-call options (see :mod:`~pixverse_async.options`):
        ``extra_body`` is merged into ``json_body`` (into ``params`` for a GET; a ``body``
        factory must merge it itself), ``extra_headers`` into the headers, and ``timeout`` /
        ``max_retries`` replace this session's. ``max_retries`` alone is a shorthand that
        wins over ``options.max_retries``. ``trace_id`` lets a caller choose the call's
        ``Ai-trace-id`` (a fresh UUID4 otherwise), e.g. to journal it before the call is
        sent. ``body_error`` recognises a failure of the body itself (a file that changed
        while streaming): it is raised as it is, never retried and never taken for an
        ambiguous submit. ``resend_ambiguous`` (generation submits only: PixVerse answers a
        reused trace id with the first submit's result) resends the body under the same
        trace id when the outcome is unknown, up to the policy's ``resends`` times, before
        raising :class:`~pixverse_async.errors.SubmissionUnknownError`; a 5xx answer counts
        as unknown then. ``on_resend`` is awaited before each resend (the runner journals it).
        """
        headers = self._headers(trace_id)
        timeout = self.timeout
        if options is not None:
            if options.extra_headers:
                check_extra_headers(options.extra_headers)  # again: a mapping can change
                headers.update(options.extra_headers)
            if options.extra_body is not None:
                if method == "GET":
                    params = merge_query(params, options.extra_body)
                elif body is not None:
                    raise TypeError("extra_body with a body factory: merge it into the body")
                else:
                    json_body = merge_extra(json_body, options.extra_body)
            if options.timeout is not None:
                timeout = as_client_timeout(options.timeout)
            if max_retries is None:
                max_retries = options.max_retries
        data: bytes | None = None
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        attempt = _Attempt(
            method,
            path,
            self.base_url + path,
            headers,
            data,
            body,
            params,
            paid,
            timeout,
            body_error,
            options,
            self.retry.resends if resend_ambiguous and paid and body is None else 0,
            on_resend,
        )
        send = self._exchange if telemetry() is None else self._traced
        with log_context(trace_id=attempt.trace_id):
            return await call_with_retries(
                self.retry, send, attempt, max_retries=max_retries, resends=attempt.resends
            )

    async def _traced(self, attempt: _Attempt) -> Any:
        with start_attempt(attempt) or UNTRACED:  # ends with the attempt's status, its error
            return await self._exchange(attempt)

    async def _exchange(self, attempt: _Attempt) -> Any:
        session = self.client_session()
        attempt.status = 0
        if attempt.ambiguous and attempt.on_resend is not None:
            await attempt.on_resend()
        attempt.number += 1
        hooks, event = self._hooks, None
        if hooks is not None:
            event = await hooks.before(attempt)
        started = time.monotonic()
        sent_body = attempt.data if attempt.body is None else attempt.body()
        status = 0
        answer_headers = None
        error_type = None
        try:
            async with session.request(
                attempt.method,
                attempt.url,
                data=sent_body,
                params=attempt.params,
                headers=attempt.headers,
                timeout=attempt.timeout,
                # aiohttp re-sends custom headers (API-KEY) to any redirect target; the API
                # never redirects, so a 3xx is answered as an error and the key stays here.
                allow_redirects=False,
            ) as response:
                status = attempt.status = response.status
                answer_headers = response.headers
                raw = await _read_capped(response.content, MAX_RESPONSE_BYTES + 1)
                retry_after = response.headers.get("Retry-After")
                content_type = response.headers.get("Content-Type", "")
                record_answer(status, answer_headers, attempt.trace_id)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            error_type = type(exc).__qualname__
            # The connection was never made: nothing reached the service.
            raise self._retryable(attempt, self._transport_error(attempt, exc)) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error_type = type(exc).__qualname__
            own = attempt.body_error(exc) if attempt.body_error is not None else None
            if own is not None:
                raise own from exc
            if attempt.paid:
                raise self._unknown(attempt, _describe(exc)) from exc
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
            if hooks is not None and event is not None:
                elapsed = time.monotonic() - started
                await hooks.after(event, status, answer_headers, elapsed, error_type)
        return self._decode(attempt, status, raw, content_type, retry_after)

    def _unknown(
        self, attempt: _Attempt, cause: str, retry_after: float | None = None
    ) -> Exception:
        """What to raise when a paid call's outcome is unknown: a resend under the same
        trace id when the call may be resent, else the error itself."""
        attempt.ambiguous = True
        error = SubmissionUnknownError(
            method=attempt.method,
            path=attempt.path,
            trace_id=attempt.trace_id,
            request=_json_or_none(attempt.data),
            cause=cause,
            options=attempt.options,
        )
        return RetryableFailure(error, retry_after, resend=True) if attempt.resends else error

    def _retryable(
        self, attempt: _Attempt, error: PixVerseError, retry_after: float | None = None
    ) -> Exception:
        """A failure safe to retry; after an unknown outcome it is still unknown (a resend)."""
        if attempt.ambiguous:
            return self._unknown(attempt, str(error), retry_after)
        return RetryableFailure(error, retry_after)

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
            self._raise_rate_limited(attempt, error, retry_after)
        if status >= 500 and isinstance(error, ServerError):
            if not attempt.paid:
                raise RetryableFailure(error)
            if attempt.resends:  # the service may have acted before failing
                raise self._unknown(attempt, f"HTTP {status}: {error}")
        raise error

    def _raise_rate_limited(
        self, attempt: _Attempt, error: APIError, retry_after: float | None
    ) -> None:
        if retry_after is not None and retry_after > self.retry.retry_after_cap:
            # the service asks for more than we wait silently
            if not attempt.ambiguous:
                raise error
            unknown = self._unknown(attempt, str(error))
            raise unknown.error if isinstance(unknown, RetryableFailure) else unknown
        raise self._retryable(attempt, error, retry_after)

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
            self._raise_rate_limited(attempt, error, retry_after)
        if 400 <= status < 500:
            # A 4xx is a definite refusal: the service did not act on the call.
            raise error_for_code(
                err_code=None, err_msg=excerpt, http_status=status, trace_id=attempt.trace_id
            )
        if attempt.paid:
            raise self._unknown(attempt, f"HTTP {status} without a PixVerse envelope")
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
