"""The application under test: it makes a clip and returns where to fetch it."""

from __future__ import annotations

from pixverse_async import PixVerse


async def make_clip(client: PixVerse, prompt: str) -> str:
    """Submit a text-to-video generation, wait for it, return the video's URL."""
    job = await client.videos.text_to_video(
        prompt=prompt, model="v5", duration=5, quality="540p", aspect_ratio="16:9"
    )
    video = await job.wait()
    return video.url
