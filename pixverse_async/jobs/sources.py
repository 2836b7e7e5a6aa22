"""What a job handle is given: the calls it needs from the endpoints and the webhook hub.

The handles sit below the endpoints (which make them) and the webhooks (which end them), so
they name what they use as protocols; :class:`~pixverse_async.endpoints.videos.Videos`,
:class:`~pixverse_async.endpoints.image_templates.ImageTemplates`,
:class:`~pixverse_async.webhooks.CompletionHub` and its watches satisfy them (mypy checks it
where the endpoints hand themselves to a handle).

Example::

    from pixverse_async.jobs.sources import VideoSource

    async def status_of(source: VideoSource, video_id: int) -> str:
        return (await source.get(video_id)).status.name
"""

from __future__ import annotations

from typing import Protocol

from ..models import ImageResult, Video
from .polling import PollPolicy, SafetyNet

__all__ = ["EventHub", "EventWatch", "ImageSource", "VideoSource"]


class _Event(Protocol):
    def to_video(self) -> Video: ...


class EventWatch(Protocol):
    """One job's watch for its webhook event (a hub's ``register`` returns one)."""

    @property
    def closed(self) -> bool: ...

    def done(self) -> bool: ...

    def close(self) -> None: ...

    def settle(self, video: Video) -> None: ...

    async def wait(self, timeout: float | None = None) -> _Event | None: ...


class EventHub(Protocol):
    """Where webhook events for this client's jobs arrive."""

    @property
    def safety_net(self) -> SafetyNet: ...

    def register(self, video_id: int) -> EventWatch: ...


class VideoSource(Protocol):
    """Reads a video's status: what a :class:`~.generation_job.GenerationJob` polls."""

    @property
    def poll(self) -> PollPolicy: ...

    @property
    def webhooks(self) -> EventHub | None: ...

    async def get(self, video_id: int) -> Video: ...


class ImageSource(Protocol):
    """Reads an image's state: what an :class:`~.image_job.ImageJob` polls."""

    @property
    def poll(self) -> PollPolicy: ...

    async def get(self, image_id: int) -> ImageResult: ...
