"""The one retry path: RetryPolicy's waits and call_with_retries (backoff after a failure)."""

from __future__ import annotations

import logging

import backoff
import pytest

from pixverse_async import PixVerseError, RetryPolicy, ValidationError
from pixverse_async.retry import RetryableFailure, call_with_retries, wait_generator

QUICK = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.004)


def test_delay_is_full_jitter_under_a_capped_exponential_ceiling() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [policy.delay(attempt=n, rand=1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.delay(attempt=3, rand=0.25) == 0.5
    draws = [policy.delay(attempt=3) for _ in range(200)]
    assert all(0.0 <= d <= 2.0 for d in draws) and len(set(draws)) > 1


def test_wait_prefers_the_services_retry_after() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert policy.wait(5, retry_after=7.5) == 7.5
    assert policy.wait(1, retry_after=0.0) == 0.0
    assert 0.0 <= policy.wait(2) <= 1.0


def test_the_backoff_wait_generator_uses_wait() -> None:
    gen = wait_generator(RetryPolicy(base_delay=1.0, max_delay=1.0))
    gen.send(None)  # backoff primes it
    assert gen.send(RetryableFailure(PixVerseError("x"), retry_after=3.0)) == 3.0
    assert 0.0 <= gen.send(RetryableFailure(PixVerseError("x"))) <= 1.0


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
def test_max_retries_must_be_a_non_negative_int(value: object) -> None:
    with pytest.raises(ValidationError, match="max_retries"):
        RetryPolicy(max_retries=value)  # type: ignore[arg-type]


async def test_a_first_attempt_that_succeeds_never_touches_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_backoff(*args: object, **kwargs: object) -> None:
        raise AssertionError("backoff was set up for a call that succeeded at once")

    monkeypatch.setattr(backoff, "on_exception", no_backoff)

    async def ok(arg: str) -> str:
        return arg + "!"

    assert await call_with_retries(QUICK, ok, "done") == "done!"


async def test_failures_are_retried_up_to_max_retries_then_the_error_is_raised() -> None:
    calls: list[int] = []

    async def always_fails(arg: int) -> int:
        calls.append(arg)
        try:
            raise OSError("connection reset")
        except OSError as exc:
            raise RetryableFailure(PixVerseError(f"failed {len(calls)}")) from exc

    with pytest.raises(PixVerseError, match="failed 4") as info:
        await call_with_retries(QUICK, always_fails, 7)
    assert calls == [7, 7, 7, 7]  # the first attempt and QUICK's three retries
    assert isinstance(info.value.__cause__, OSError)  # what really happened stays visible
    calls.clear()
    with pytest.raises(PixVerseError, match="failed 2"):
        await call_with_retries(QUICK, always_fails, 7, max_retries=1)
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(PixVerseError, match="failed 1"):
        await call_with_retries(QUICK, always_fails, 7, max_retries=0)
    assert len(calls) == 1


async def test_a_later_success_is_returned_and_each_wait_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = [
        RetryableFailure(PixVerseError("busy"), retry_after=0.0),
        RetryableFailure(PixVerseError("busy"), retry_after=0.002),
    ]

    async def flaky(arg: str) -> str:
        if answers:
            raise answers.pop(0)
        return "ok"

    with caplog.at_level(logging.DEBUG, logger="pixverse_async"):
        assert await call_with_retries(QUICK, flaky, "GET /x trace_id=t") == "ok"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retry ")]
    assert lines == [
        "retry GET /x trace_id=t after attempt 1 in 0.000s: PixVerseError",
        "retry GET /x trace_id=t after attempt 2 in 0.002s: PixVerseError",
    ]


async def test_other_exceptions_are_not_retried() -> None:
    calls = 0

    async def broken(arg: None) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("not a retryable failure")

    with pytest.raises(ValueError):
        await call_with_retries(QUICK, broken, None)
    assert calls == 1
