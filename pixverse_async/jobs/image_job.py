"""A submitted image template generation, and waiting for it (the one poll schedule)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..errors import JobError
from ..models import ImageResult
from ..telemetry.jobs import waiting
from .polling import PollPolicy, PollSchedule, poll_until_done

if TYPE_CHECKING:
    from ..telemetry.jobs import JobSpan
    from .sources import ImageSource


class ImageJob:
    """An image template generation: its ``image_id`` and ``credits``, and a way to wait.

    Example::

        job = await client.image_templates.generate(img_ids=[img_id], template_id=7)
        result = await job.wait()
        print(result.url)
    """

    __slots__ = (
        "_images", "_span", "credits", "image_id", "last_result", "request", "submitted_at",
    )  # fmt: skip

    def __init__(
        self,
        images: ImageSource,
        image_id: int,
        *,
        credits: int | None = None,
        request: Any = None,
        span: JobSpan | None = None,
    ) -> None:
        self._images = images
        #: The job's OpenTelemetry span (None: telemetry off), ended with its wait.
        self._span = span
        self.image_id = image_id
        self.credits = credits
        self.request = request
        self.last_result: ImageResult | None = None
        self.submitted_at = time.monotonic()

    def __del__(self) -> None:
        # A job dropped unwaited: its span ends (``dropped``), its in-flight count with it.
        span = getattr(self, "_span", None)
        if span is not None:
            span.dropped()

    def __repr__(self) -> str:
        return f"ImageJob(image_id={self.image_id}, credits={self.credits})"

    async def status(self) -> ImageResult:
        """Fetch the current state once."""
        self.last_result = await self._images.get(self.image_id)
        return self.last_result

    async def wait(self, policy: PollPolicy | None = None) -> ImageResult:
        """Poll (on the same schedule as videos) until the image is done; return it.

        Raises :class:`~pixverse_async.errors.JobError` if the generation ended without an
        image, and :class:`~pixverse_async.errors.JobTimeoutError` when ``policy.timeout``
        passes (counted from this call; the generation keeps running). The job's span (with
        OpenTelemetry on) ends with the first wait that ends: done, failed, timed out or
        cancelled.
        """
        now = asyncio.get_running_loop().time()
        schedule = PollSchedule.begin(
            policy or self._images.poll,
            now,
            submitted=now - (time.monotonic() - self.submitted_at),
        )
        span = self._span
        with waiting(span):
            result = await poll_until_done(
                self.status if span is None else lambda: span.poll(self.status),
                schedule,
                is_done=lambda r: r.is_done,
                job_id=self.image_id,
                status_of=lambda r: r.status,
            )
        status = result.status.name
        if not result.is_successful:
            error = JobError(
                f"image {self.image_id} ended without an image (status {status})",
                video_id=self.image_id,
                status=result.status,
            )
            if span is not None:
                span.end("poll", status=status, error=error)
            raise error
        if span is not None:
            span.end("poll", status=status)
        return result
