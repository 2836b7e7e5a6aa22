"""The :class:`PixVerse` client: owns the session and exposes the endpoint namespaces."""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs

from .constants import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL
from .endpoints.account import Account
from .endpoints.catalogs import Restyles, Speakers
from .endpoints.image_templates import ImageTemplates
from .endpoints.images import Images
from .endpoints.media import Media
from .endpoints.videos import Videos
from .errors import ValidationError
from .jobs import PollPolicy
from .options import Timeout
from .poll_env import poll_from_env
from .retry import RetryPolicy, check_max_retries
from .runner import JobRunner
from .session import DEFAULT_TIMEOUT, Session

if TYPE_CHECKING:
    from .webhooks.hub import CompletionHub


class PixVerse:
    """An async client for the PixVerse video-generation API.

    ``api_key`` defaults to ``$PIXVERSE_API_KEY`` (a missing key raises
    :class:`~pixverse_async.errors.AuthenticationError` here, not at the first call);
    ``base_url`` to ``$PIXVERSE_BASE_URL``, else the production API. ``timeout`` is a total in
    seconds or an ``aiohttp.ClientTimeout``; retries are set by ``max_retries`` or by a whole
    ``retry=RetryPolicy(...)``, not both. Use it as an async context manager, or call
    :meth:`aclose` yourself. Pass ``session`` to reuse an ``aiohttp.ClientSession`` you own;
    the client never closes a borrowed session. :meth:`with_options` makes a copy with other
    defaults on the same connection pool.

    ``webhooks``: a :class:`~pixverse_async.webhooks.CompletionHub` shared with your webhook
    route (``webhook_handler(secret, hub.deliver)``): generations are sent with its
    ``webhook_id`` (unless a request names its own), and ``job.wait()`` and this client's
    runners end each job when its event arrives, polling only as a safety net; with a
    :class:`~pixverse_async.webhooks.PostgresRelay` on the hub, also when another process's
    route received it.

    ``resend_ambiguous``: a generation submit whose outcome is unknown (a reset or timeout
    after the request left, a 5xx) is resent under its own ``Ai-trace-id``, which PixVerse
    answers with the first submit's result (never a second generation); ``False`` never
    resends and raises :class:`~pixverse_async.errors.SubmissionUnknownError` at once.

    Example::

        import asyncio
        from pixverse_async import PixVerse
        from pixverse_async.emulator import Emulator

        async def main() -> None:
            async with Emulator(api_keys={"my-key"}) as emu:
                async with PixVerse(api_key="my-key", base_url=emu.base_url) as client:
                    job = await client.videos.text_to_video(
                        prompt="a lighthouse at dawn", model="v5", duration=5,
                        quality="540p", aspect_ratio="16:9")
                    video = await job.wait()
                    print(video.status, video.url)

        asyncio.run(main())
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        connection_limit: int = 100,
        session: aiohttp.ClientSession | None = None,
        webhooks: CompletionHub | None = None,
        resend_ambiguous: bool = True,
    ) -> None:
        if retry is not None and max_retries is not None:
            raise ValidationError(
                "max_retries",
                "pass either max_retries=... or retry=RetryPolicy(...), not both "
                "(RetryPolicy has its own max_retries)",
            )
        if max_retries is not None:
            check_max_retries(max_retries)
            retry = RetryPolicy(max_retries=max_retries)
        if not resend_ambiguous:
            retry = attrs.evolve(retry or RetryPolicy(), resends=0)
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        poll = poll or poll_from_env() or PollPolicy()
        self._bind(
            Session(
                api_key=key or "",
                base_url=url,
                timeout=timeout,
                retry=retry,
                connection_limit=connection_limit,
                session=session,
            ),
            poll,
            webhooks,
        )

    def _bind(self, session: Session, poll: PollPolicy, webhooks: CompletionHub | None) -> None:
        self._session = session
        self.poll = poll
        self.webhooks = webhooks
        self.videos = Videos(self._session, self.poll, webhooks)
        self.account = Account(self._session)
        self.images, self.media = Images(self._session), Media(self._session)
        self.speakers = Speakers(self._session)
        self.restyles = Restyles(self._session)
        self.image_templates = ImageTemplates(self._session, self.poll)

    def with_options(
        self, *, timeout: Timeout | None = None, max_retries: int | None = None
    ) -> PixVerse:
        """A copy of this client with another default ``timeout`` or ``max_retries``.

        The copy shares this client's connection pool and lifecycle: closing the copy (or
        leaving its ``async with``) does nothing, and closing this client closes the pool for
        both. Options passed to a single call still win over the copy's defaults.

        Example::

            patient = client.with_options(timeout=300, max_retries=5)
            balance = await patient.account.balance()
        """
        retry = None
        if max_retries is not None:
            check_max_retries(max_retries)
            retry = attrs.evolve(self._session.retry, max_retries=max_retries)
        clone = copy.copy(self)
        clone._bind(
            self._session.with_options(timeout=timeout, retry=retry), self.poll, self.webhooks
        )
        return clone

    def runner(self, *, concurrency: int = 16, **options: Any) -> JobRunner:
        """A :class:`~pixverse_async.runner.JobRunner` on this client; see its options."""
        return JobRunner(self.videos, concurrency=concurrency, **options)

    @property
    def base_url(self) -> str:
        """The API's base URL this client talks to."""
        return self._session.base_url

    @property
    def session(self) -> Session:
        """The session layer, for calls the namespaces do not cover."""
        return self._session

    def __repr__(self) -> str:
        return f"PixVerse(base_url={self.base_url!r}, api_key='***')"

    async def aclose(self) -> None:
        """Close the HTTP session this client opened (a borrowed one stays open)."""
        await self._session.aclose()

    async def __aenter__(self) -> PixVerse:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
