"""Waiting for generations: the polling policy and the job handle.

Example::

    from pixverse_async import PollPolicy

    policy = PollPolicy(first_delay=10.0, interval=1.0, factor=2.0, max_delay=5.0, jitter=0.0)
    assert [policy.delay(n) for n in range(5)] == [10.0, 1.0, 2.0, 4.0, 5.0]
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING, Any

import attrs

from .errors import (
    JobTimeoutError,
    RateLimitError,
    ResponseDecodingError,
    ServerError,
    TransportError,
    VideoDeletedError,
    VideoFailedError,
    VideoModeratedError,
)
from .models import Video, VideoStatus

if TYPE_CHECKING:
    from .endpoints.videos import Videos

logger = logging.getLogger("pixverse_async")

#: Failures of a status poll that are worth polling through until the overall timeout.
TRANSIENT_POLL_ERRORS = (TransportError, ResponseDecodingError, RateLimitError, ServerError)


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How to poll a generation's status.

    The first poll comes ``first_delay`` seconds after the submit; the n-th wait after that
    is ``min(max_delay, interval * factor ** (n - 1))``, spread by ``±jitter`` (a fraction).
    Waiting gives up after ``timeout`` seconds (None: never). The defaults suit real
    generations of 30 s to several minutes; set ``first_delay`` near the typical generation
    time of your jobs to spend the fewest status requests.
    """

    first_delay: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    interval: float = attrs.field(default=2.0, validator=attrs.validators.gt(0))
    factor: float = attrs.field(default=1.5, validator=attrs.validators.ge(1))
    max_delay: float = attrs.field(default=15.0, validator=attrs.validators.gt(0))
    jitter: float = attrs.field(
        default=0.1, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )
    timeout: float | None = attrs.field(default=900.0)

    def delay(self, poll_number: int) -> float:
        """The wait before poll number ``poll_number`` (0-based: 0 is the first poll)."""
        if poll_number == 0:
            base = self.first_delay
        else:
            base = min(self.max_delay, self.interval * self.factor ** (poll_number - 1))
        if self.jitter:
            base *= 1 + random.uniform(-self.jitter, self.jitter)
        return base


def raise_for_terminal(video: Video) -> Video:
    """Return a successful video; raise the typed error of a failed, moderated or deleted one."""
    status = video.status
    if status == VideoStatus.SUCCESSFUL:
        return video
    if status == VideoStatus.FAILED:
        raise VideoFailedError(
            f"video {video.id} failed to generate", video_id=video.id, status=status
        )
    if status == VideoStatus.MODERATION_FAILED:
        raise VideoModeratedError(
            f"video {video.id} failed content moderation", video_id=video.id, status=status
        )
    if status == VideoStatus.DELETED:
        raise VideoDeletedError(f"video {video.id} was deleted", video_id=video.id, status=status)
    raise ValueError(f"status {status!r} is not terminal")


class GenerationJob:
    """A submitted generation: its ``video_id`` and ``credits``, and a way to wait for it.

    Example::

        job = await client.videos.text_to_video(prompt="a fox", model="v5", duration=5,
                                                quality="540p", aspect_ratio="16:9")
        video = await job.wait()          # raises VideoFailedError, VideoModeratedError, ...
    """

    __slots__ = ("_videos", "credits", "last_video", "request", "submitted_at", "video_id")

    def __init__(
        self, videos: Videos, video_id: int, *, credits: int | None = None, request: Any = None
    ) -> None:
        self._videos = videos
        self.video_id = video_id
        self.credits = credits
        self.request = request
        self.last_video: Video | None = None
        self.submitted_at = time.monotonic()

    def __repr__(self) -> str:
        return f"GenerationJob(video_id={self.video_id}, credits={self.credits})"

    async def status(self) -> Video:
        """Fetch the current status once."""
        self.last_video = await self._videos.get(self.video_id)
        return self.last_video

    async def wait(self, policy: PollPolicy | None = None) -> Video:
        """Poll until the generation ends; return the video or raise its typed error.

        Raises :class:`~pixverse_async.errors.JobTimeoutError` (carrying the last seen status)
        when ``policy.timeout`` passes; the generation keeps running and ``wait`` may be
        called again. Cancelling the awaiting task stops polling at once.
        """
        policy = policy or self._videos.poll
        loop = asyncio.get_running_loop()
        deadline = None if policy.timeout is None else loop.time() + policy.timeout
        started = loop.time()
        poll_number = 0
        first_wait = policy.first_delay - (time.monotonic() - self.submitted_at)
        if first_wait > 0:
            await asyncio.sleep(min(first_wait, policy.timeout or first_wait))
        while True:
            try:
                video = await self.status()
            except TRANSIENT_POLL_ERRORS as exc:
                logger.debug("poll of video %s failed, will retry: %s", self.video_id, exc)
            else:
                if video.status.is_terminal:
                    return raise_for_terminal(video)
            now = loop.time()
            if deadline is not None and now >= deadline:
                last = self.last_video.status if self.last_video else None
                raise JobTimeoutError(
                    f"video {self.video_id} still not done after {now - started:.1f}s "
                    f"(last status: {last}); it keeps running: wait() again to resume",
                    video_id=self.video_id,
                    status=last,
                    waited=now - started,
                )
            poll_number += 1
            pause = policy.delay(poll_number)
            if deadline is not None:
                pause = min(pause, deadline - now)
            await asyncio.sleep(pause)
