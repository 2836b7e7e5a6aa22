"""``$PIXVERSE_POLL_INTERVAL``: a fixed poll interval for clients made without ``poll=``."""

from __future__ import annotations

import doctest

import pytest

from pixverse_async import PixVerse, PollPolicy, ValidationError
from pixverse_async.jobs import poll_env
from pixverse_async.jobs.poll_env import fixed_poll

from .conftest import API_KEY


async def test_unset_keeps_the_default_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIXVERSE_POLL_INTERVAL", raising=False)
    async with PixVerse(api_key=API_KEY, base_url="http://127.0.0.1:9") as client:
        assert client.poll == PollPolicy()
        assert client.poll.first_delay == 5.0


async def test_the_environment_sets_a_fixed_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXVERSE_POLL_INTERVAL", "0.25")
    async with PixVerse(api_key=API_KEY, base_url="http://127.0.0.1:9") as client:
        assert client.poll == fixed_poll(0.25)
        assert [client.poll.delay(n) for n in range(4)] == [0.25] * 4
    explicit = PollPolicy(first_delay=1.0)
    async with PixVerse(api_key=API_KEY, base_url="http://127.0.0.1:9", poll=explicit) as client:
        assert client.poll is explicit  # an argument wins over the environment


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_a_bad_value_is_a_validation_error_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXVERSE_POLL_INTERVAL", value)
    with pytest.raises(ValidationError) as caught:
        PixVerse(api_key=API_KEY, base_url="http://127.0.0.1:9")
    assert caught.value.field == "PIXVERSE_POLL_INTERVAL" and value in str(caught.value.value)


def test_doctests() -> None:
    assert doctest.testmod(poll_env).failed == 0
