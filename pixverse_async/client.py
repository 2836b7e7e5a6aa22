"""The :class:`PixVerse` client: owns the session and exposes the endpoint namespaces."""

from __future__ import annotations

import os
from typing import Any

import aiohttp

from .constants import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL
from .endpoints.account import Account
from .endpoints.catalogs import Restyles, Speakers
from .endpoints.images import Images
from .endpoints.media import Media
from .endpoints.videos import Videos
from .errors import PixVerseError
from .jobs import PollPolicy
from .retry import RetryPolicy
from .runner import JobRunner
from .session import DEFAULT_TIMEOUT, Session


class PixVerse:
    """An async client for the PixVerse video-generation API.

    ``api_key`` defaults to ``$PIXVERSE_API_KEY`` (a missing key raises here, not at the first
    call); ``base_url`` to ``$PIXVERSE_BASE_URL``, else the production API. Use it as an async
    context manager, or call :meth:`aclose` yourself. Pass ``session`` to reuse an
    ``aiohttp.ClientSession`` you own; the client never closes a borrowed session.

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
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        connection_limit: int = 100,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not key:
            raise PixVerseError(
                f"no API key: pass api_key=... or set the {API_KEY_ENV} environment variable"
            )
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        policy = retry if retry is not None else RetryPolicy(max_retries=max_retries)
        self._session = Session(
            api_key=key,
            base_url=url,
            timeout=timeout,
            retry=policy,
            connection_limit=connection_limit,
            session=session,
        )
        self.poll = poll or PollPolicy()
        self.videos = Videos(self._session, self.poll)
        self.account = Account(self._session)
        self.images, self.media = Images(self._session), Media(self._session)
        self.speakers = Speakers(self._session)
        self.restyles = Restyles(self._session)

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
