"""CompletionHub: events finish the watches waiting for them; unclaimed ones reach the user."""

from __future__ import annotations

import asyncio

import pytest

from pixverse_async.webhooks import (
    CompletionHub,
    HubClosedError,
    HubStats,
    UnclaimedOverflowError,
    WebhookEvent,
)


def ev(video_id: int, status: int) -> WebhookEvent:
    return WebhookEvent.from_payload({"id": str(video_id), "status": status})


class Collected:
    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []

    def __call__(self, event: WebhookEvent) -> None:
        self.events.append(event)


async def test_a_watch_ends_with_the_terminal_event_only() -> None:
    user = Collected()
    hub = CompletionHub(on_unclaimed=user)
    with hub.register(1) as watch:
        await hub.deliver(ev(1, 5))
        assert not watch.done() and watch.latest == ev(1, 5)
        assert await watch.wait(timeout=0) is None
        await hub.deliver(ev(1, 8))
        assert watch.done() and watch.result() == ev(1, 8)
        assert await watch.wait() == ev(1, 8)
        await hub.deliver(ev(1, 1))  # a later status changes nothing
        assert watch.result() == ev(1, 8)
    assert user.events == []


async def test_wait_returns_none_when_the_timeout_passes_first_and_can_wait_again() -> None:
    hub = CompletionHub()
    watch = hub.register(2)
    waiter = asyncio.ensure_future(watch.wait(timeout=None))
    assert await watch.wait(timeout=0.01) is None
    await hub.deliver(ev(2, 1))
    assert (await waiter) == ev(2, 1)
    watch.close()
    watch.close()


async def test_done_callbacks_run_once_with_the_terminal_event_unless_closed_first() -> None:
    hub = CompletionHub()
    calls: list[tuple[str, WebhookEvent]] = []
    watch, closed = hub.register(20), hub.register(20)
    watch.add_done_callback(lambda e: calls.append(("open", e)))
    closed.add_done_callback(lambda e: calls.append(("closed", e)))
    closed.close()
    await hub.deliver(ev(20, 5))
    await hub.deliver(ev(20, 1))
    await hub.deliver(ev(20, 1))
    await asyncio.sleep(0)  # future callbacks run on the next loop iteration
    assert calls == [("open", ev(20, 1))]
    late = hub.register(20)  # already ended: the callback still comes
    late.add_done_callback(lambda e: calls.append(("late", e)))
    await asyncio.sleep(0)
    assert calls[-1] == ("late", ev(20, 1))


async def test_several_watches_of_one_video_all_end() -> None:
    hub = CompletionHub()
    first, second = hub.register(3), hub.register(3)
    await hub.deliver(ev(3, 7))
    assert first.result() == second.result() == ev(3, 7)


async def test_an_event_for_an_unknown_video_goes_to_the_user_at_once() -> None:
    user = Collected()
    hub = CompletionHub(on_unclaimed=user)
    await hub.deliver(ev(4, 5))
    await hub.deliver(ev(4, 1))
    assert user.events == [ev(4, 5), ev(4, 1)]


async def test_an_async_on_unclaimed_is_awaited_and_its_failure_fails_the_delivery() -> None:
    seen: list[WebhookEvent] = []
    failures = [RuntimeError("backend down")]

    async def on_unclaimed(event: WebhookEvent) -> None:
        await asyncio.sleep(0)
        if failures:
            raise failures.pop()
        seen.append(event)

    hub = CompletionHub(on_unclaimed=on_unclaimed)
    with pytest.raises(RuntimeError, match="backend down"):
        await hub.deliver(ev(6, 1))
    await hub.deliver(ev(6, 1))  # PixVerse's retry: handed out again, not taken as a repeat
    assert seen == [ev(6, 1)]


async def test_an_event_arriving_during_its_submit_is_held_and_claimed_by_register() -> None:
    user = Collected()
    hub = CompletionHub(on_unclaimed=user)
    with hub.submitting():
        delivery = asyncio.ensure_future(hub.deliver(ev(7, 1)))  # the event wins the race
        await asyncio.sleep(0)
        assert not delivery.done()  # held: not answered yet
        watch = hub.register(7)  # the submit's answer arrives
        assert watch.result() == ev(7, 1)
    await delivery
    assert user.events == []
    assert "held=0" in repr(hub)


async def test_a_held_event_goes_to_the_user_once_the_submits_before_it_end() -> None:
    user = Collected()
    hub = CompletionHub(on_unclaimed=user)
    first = hub.submitting()
    first.__enter__()
    delivery = asyncio.ensure_future(hub.deliver(ev(8, 1)))
    await asyncio.sleep(0)
    with hub.submitting():  # a submit started after the event arrived: not waited for
        first.__exit__(None, None, None)
        await delivery
        assert user.events == [ev(8, 1)]


async def test_a_watch_registered_after_the_video_ended_is_resolved_at_once() -> None:
    user = Collected()
    hub = CompletionHub(on_unclaimed=user)
    await hub.deliver(ev(9, 1))  # nobody waited: the user got it ...
    watch = hub.register(9)  # ... and a job resumed later still finds it
    assert watch.done() and watch.result() == ev(9, 1)
    assert user.events == [ev(9, 1)]


async def test_late_and_repeated_events_of_an_ended_video_are_not_handed_out_again() -> None:
    user = Collected()
    hub = CompletionHub(on_unclaimed=user)
    with hub.register(10):
        await hub.deliver(ev(10, 1))
    await hub.deliver(ev(10, 1))  # a repeat after the job stopped watching
    await hub.deliver(ev(10, 5))  # an older status arriving late
    assert user.events == []


async def test_an_end_a_poll_found_ends_the_other_watches_and_makes_later_events_repeats() -> None:
    from pixverse_async.models import Video, from_json

    user = Collected()
    hub = CompletionHub(on_unclaimed=user)
    polling, other = hub.register(11), hub.register(11)
    polling.settle(from_json(Video, {"id": 11, "status": 5}))  # not over: nothing to tell
    assert not other.done() and other.latest is None
    polling = hub.register(11)
    polling.settle(from_json(Video, {"id": 11, "status": 8, "url": None}))
    assert other.done() and other.result() == WebhookEvent.from_video(
        from_json(Video, {"id": 11, "status": 8})
    )
    assert other.result().polled and not polling.done()  # the settled one stopped watching
    other.close()
    await hub.deliver(ev(11, 8))  # the delivery, late: a repeat
    assert user.events == [] and hub._watches == {} and hub._publishing == set()
    # An end the watch heard itself is not told again.
    with hub.register(12) as heard:
        await hub.deliver(ev(12, 1))
        heard.settle(from_json(Video, {"id": 12, "status": 1}))
    assert hub._ended[12] == ev(12, 1) and not hub._ended[12].polled


async def test_retained_ended_videos_are_bounded() -> None:
    hub = CompletionHub(on_unclaimed=lambda e: None, retain=3)
    for video_id in range(10):
        await hub.deliver(ev(video_id, 1))
    assert list(hub._ended) == [7, 8, 9]
    assert not hub.register(0).done() and hub.register(9).done()


async def test_unclaimed_events_as_an_async_iterator_with_a_bounded_queue() -> None:
    hub = CompletionHub(max_unclaimed=2)
    await hub.deliver(ev(11, 1))
    await hub.deliver(ev(12, 1))
    with pytest.raises(UnclaimedOverflowError):
        await hub.deliver(ev(13, 1))
    got = []

    async def read() -> None:
        async for event in hub.unclaimed():
            got.append(event.video_id)

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0)
    await hub.deliver(ev(13, 1))  # retried by PixVerse: now there is room
    await asyncio.sleep(0)
    hub.close()
    await reader
    assert got == [11, 12, 13]


async def test_unclaimed_is_refused_when_a_callback_takes_them() -> None:
    hub = CompletionHub(on_unclaimed=lambda e: None)
    with pytest.raises(RuntimeError, match="on_unclaimed"):
        async for _ in hub.unclaimed():
            pass


async def test_close_fails_held_and_new_deliveries() -> None:
    hub = CompletionHub(on_unclaimed=lambda e: None)
    with hub.submitting():
        held = asyncio.ensure_future(hub.deliver(ev(14, 1)))
        await asyncio.sleep(0)
        hub.close()
        with pytest.raises(HubClosedError):
            await held
    with pytest.raises(HubClosedError):
        await hub.deliver(ev(15, 1))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        CompletionHub(retain=0)
    with pytest.raises(ValueError):
        CompletionHub(max_unclaimed=0)


async def test_the_hub_forgets_a_watch_once_its_end_arrived_or_it_was_closed() -> None:
    """A watch waits in the hub only until its end: the hub holds nothing for ended jobs,
    while the watch keeps its event (and its done callback still runs)."""
    user = Collected()
    hub = CompletionHub(on_unclaimed=user)
    calls: list[WebhookEvent] = []
    watch = hub.register(30)
    watch.add_done_callback(calls.append)
    assert hub.stats().watching == 1
    await hub.deliver(ev(30, 5))  # a status on the way: still watching
    assert hub.stats().watching == 1
    await hub.deliver(ev(30, 1))
    assert hub.stats().watching == 0 and hub._watches == {}
    assert watch.done() and not watch.closed and watch.result() == ev(30, 1)
    await asyncio.sleep(0)
    assert calls == [ev(30, 1)]
    await hub.deliver(ev(30, 1))  # a repeat: neither a watch's nor the user's
    late = hub.register(30)  # registered after the end: resolved, never held
    assert late.done() and hub.stats().watching == 0
    # Closed before its end: the end is the user's, counted as unclaimed.
    gone = hub.register(31)
    gone.close()
    assert gone.closed and hub.stats().watching == 0
    await hub.deliver(ev(31, 1))
    assert user.events == [ev(31, 1)] and not gone.done()
    assert hub.stats() == HubStats(watching=0, held=0, submits_in_flight=0, retained=2,
                                   unclaimed=1)  # fmt: skip
