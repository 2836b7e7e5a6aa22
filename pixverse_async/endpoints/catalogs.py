"""The list endpoints: TTS speakers and restyle effects, by page or all of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Generic, TypeVar

from ..models import (
    PageQuery,
    RestyleEffect,
    RestyleListQuery,
    RestylePage,
    Speaker,
    SpeakerListQuery,
    SpeakerPage,
    from_json,
)
from ..options import RequestOptions, Timeout, request_options
from ..session import Session

ItemT = TypeVar("ItemT", Speaker, RestyleEffect)
PageT = TypeVar("PageT", SpeakerPage, RestylePage)


class _Catalog(Generic[PageT, ItemT]):
    _query: type[PageQuery]
    _page: type[PageT]

    def __init__(self, session: Session) -> None:
        self._session = session

    async def list(
        self,
        *,
        page_num: int = 1,
        page_size: int = 20,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> PageT:
        """One page (``page_num`` from 1).

        ``timeout``, ``max_retries``, ``extra_headers`` and ``extra_body`` (sent as query
        parameters: a GET has no body) apply to this call only.
        """
        options = request_options(
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_body=extra_body,
        )
        return await self._page_of(page_num, page_size, options)

    async def _page_of(
        self, page_num: int, page_size: int, options: RequestOptions | None
    ) -> PageT:
        query = self._query(page_num=page_num, page_size=page_size)
        resp = await self._session.request(
            "GET", query.path, params=query.to_params(), options=options
        )
        return from_json(self._page, resp)

    async def iterate(
        self,
        *,
        page_size: int = 50,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[ItemT]:
        """Every item, page after page, until ``total`` is reached or a page comes back empty.

        The options apply to every page's call.
        """
        options = request_options(
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_body=extra_body,
        )
        page_num, seen = 1, 0
        while True:
            page = await self._page_of(page_num, page_size, options)
            for item in page.data:
                yield item  # type: ignore[misc]
            seen += len(page.data)
            if not page.data or seen >= page.total:
                return
            page_num += 1


class Speakers(_Catalog[SpeakerPage, Speaker]):
    """``client.speakers``: the TTS voices for lip sync (``GET .../lip_sync/tts_list``).

    Example::

        page = await client.speakers.list(page_num=1, page_size=10)
        voices = [s.speaker_id async for s in client.speakers.iterate()]
    """

    _query = SpeakerListQuery
    _page = SpeakerPage


class Restyles(_Catalog[RestylePage, RestyleEffect]):
    """``client.restyles``: the restyle effects (``GET /openapi/v2/video/restyle/list``).

    Example::

        async for effect in client.restyles.iterate():
            print(effect.restyle_id, effect.name)
    """

    _query = RestyleListQuery
    _page = RestylePage
