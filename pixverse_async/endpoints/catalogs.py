"""The list endpoints: TTS speakers and restyle effects, by page or all of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Generic, TypeVar

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
from ..session import Session

ItemT = TypeVar("ItemT", Speaker, RestyleEffect)
PageT = TypeVar("PageT", SpeakerPage, RestylePage)


class _Catalog(Generic[PageT, ItemT]):
    _query: type[PageQuery]
    _page: type[PageT]

    def __init__(self, session: Session) -> None:
        self._session = session

    async def list(self, *, page_num: int = 1, page_size: int = 20) -> PageT:
        """One page (``page_num`` from 1)."""
        query = self._query(page_num=page_num, page_size=page_size)
        resp = await self._session.request("GET", query.path, params=query.to_params())
        return from_json(self._page, resp)

    async def iterate(self, *, page_size: int = 50) -> AsyncIterator[ItemT]:
        """Every item, page after page, until ``total`` is reached or a page comes back empty."""
        page_num, seen = 1, 0
        while True:
            page = await self.list(page_num=page_num, page_size=page_size)
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
