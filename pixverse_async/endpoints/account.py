"""The account: credit balance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..constants import Paths
from ..models import Balance, from_json
from ..options import Timeout, request_options
from ..session import Session


class Account:
    """``client.account``: what the account has left.

    Example::

        balance = await client.account.balance()
        print(balance.credit_monthly, balance.credit_package)
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    async def balance(
        self,
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Balance:
        """The account's credits (``GET /openapi/v2/account/balance``).

        ``timeout``, ``max_retries``, ``extra_headers`` and ``extra_body`` (sent as query
        parameters: a GET has no body) apply to this call only.
        """
        options = request_options(
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_body=extra_body,
        )
        return from_json(
            Balance, await self._session.request("GET", Paths.BALANCE, options=options)
        )
