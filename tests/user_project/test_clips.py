"""make_clip against the PixVerse emulator: success, failure, moderation, rate limits."""

import pytest
from clips import make_clip

from pixverse_async import RateLimitError, VideoFailedError, VideoModeratedError

pytestmark = pytest.mark.asyncio  # with anyio's plugin: pytest.mark.anyio


async def test_makes_a_clip(pixverse_client, pixverse_emulator):
    url = await make_clip(pixverse_client, "a paper boat")
    assert url.endswith(".mp4")
    assert len(pixverse_emulator.state.generations) == 1


@pytest.mark.pixverse(outcome="failed")
async def test_a_failed_generation_raises(pixverse_client):
    with pytest.raises(VideoFailedError):
        await make_clip(pixverse_client, "a paper boat")


@pytest.mark.pixverse(outcome="moderated")
async def test_a_moderated_generation_raises(pixverse_client):
    with pytest.raises(VideoModeratedError):
        await make_clip(pixverse_client, "a paper boat")


async def test_retries_after_a_rate_limit(pixverse_client, pixverse_emulator):
    pixverse_emulator.faults.once("text_to_video", "rate_limit", retry_after=0)
    assert await make_clip(pixverse_client, "a paper boat")
    assert [r.status for r in pixverse_emulator.requests_to("text_to_video")] == [429, 200]


@pytest.mark.pixverse(client={"max_retries": 0})
async def test_gives_up_on_a_rate_limit_without_retries(pixverse_client, pixverse_emulator):
    pixverse_emulator.faults.once("text_to_video", "rate_limit")
    with pytest.raises(RateLimitError):
        await make_clip(pixverse_client, "a paper boat")
    assert pixverse_emulator.state.generations == {}
