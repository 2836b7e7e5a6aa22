"""A user's typed code: mypy --strict must accept the correct call and reject the bad ones.

Each line expected to fail carries ``# expect-error`` (read by tests/test_typed_calls.py);
mypy checks this file, nothing imports it.
"""

from __future__ import annotations

from pixverse_async import PixVerse, Video  # a model from the top level, as older code has
from pixverse_async.journal import Journal
from pixverse_async.types import TextToVideo


async def main(client: PixVerse) -> None:
    await client.videos.text_to_video(
        prompt="x", model="v6", duration=15, quality="1080p", aspect_ratio="21:9", timeout=5.0
    )
    await client.videos.text_to_video(TextToVideo(prompt="x"), max_retries=0)
    await client.videos.image_to_video(img_id=2**63, prompt="x", generate_audio_switch=True)
    await client.videos.text_to_video(promtp="x")  # expect-error
    await client.videos.text_to_video(prompt="x", duration="5")  # expect-error


def video_id(video: Video) -> int:
    return video.id


async def journals() -> None:
    journal = await Journal.open("jobs.sqlite", timeout=1.0, recover=False, batch=None)
    await journal.close()
    await Journal.open("jobs.sqlite", batchh="nightly")  # expect-error


async def raw_answers(client: PixVerse) -> None:
    raw = await client.with_raw_response(client.account.balance)(timeout=5.0)
    credits: int | None = raw.parsed.credit_monthly
    remaining: str | None = raw.headers.get("X-RateLimit-Remaining")
    await client.with_raw_response(client.account.balance)(timeoutt=5.0)  # expect-error
    text: str = raw.parsed  # expect-error
    print(credits, remaining, raw.status, text)
