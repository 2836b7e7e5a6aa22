"""The account: credit balance."""

from __future__ import annotations

from ..constants import Paths
from ..models import Balance, from_json
from ..session import Session


class Account:
    """``client.account``: what the account has left.

    Example::

        balance = await client.account.balance()
        print(balance.credit_monthly, balance.credit_package)
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    async def balance(self) -> Balance:
        """The account's credits (``GET /openapi/v2/account/balance``)."""
        return from_json(Balance, await self._session.request("GET", Paths.BALANCE))
