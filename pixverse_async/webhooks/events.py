"""What a verified webhook delivery says: :class:`WebhookEvent`, decoded leniently.

Only ``id`` (a string of digits, as PixVerse sends it) and ``status`` are required; every other
documented field may be missing or of an unexpected type (it is then ``None``), and fields the
SDK does not know stay readable in :attr:`WebhookEvent.extra` and the raw ``payload``.

Example::

    from pixverse_async.models import VideoStatus
    from pixverse_async.webhooks import WebhookEvent

    event = WebhookEvent.from_payload(
        {"id": "123456789", "status": 1, "url": "https://x/v.mp4", "credits": 100, "new": 2},
        timestamp=1700000000, nonce="a" * 32, trace_id="t-1")
    assert event.video_id == 123456789 and event.status is VideoStatus.SUCCESSFUL
    assert event.extra == {"new": 2} and event.has_audio is None
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import WebhookVerificationError
from ..models import Video, VideoStatus, from_json

#: The body fields PixVerse documents; anything else is kept in ``extra``.
KNOWN_FIELDS = frozenset({"id", "status", "url", "size", "has_audio", "credits"})


@attrs.frozen(kw_only=True)
class WebhookEvent:
    """One verified status change of a video, as PixVerse delivered it.

    ``status`` is a :class:`~pixverse_async.models.VideoStatus`; a code the SDK does not know
    becomes ``VideoStatus.UNKNOWN`` with its value (not terminal). ``payload`` is the whole
    body as sent; ``trace_id`` the ``Ai-Trace-Id`` header; ``timestamp`` and ``nonce`` the
    signed headers.

    ``polled`` is True for an end no delivery told: a job's status poll found it
    (:meth:`from_video`; in this process or, relayed, in another). Such an event has no
    ``trace_id``, ``timestamp`` or ``nonce`` (``None``, 0, ``""``) and no ``size``.

    ``size`` is the file size exactly as PixVerse sent it. Its unit is not documented; the only
    example (``10.5`` for a few seconds of video) reads as megabytes, while the status
    endpoint's :attr:`Video.size <pixverse_async.models.Video.size>` is in bytes. The SDK
    never converts one into the other: :meth:`to_video` leaves ``Video.size`` unset (fetch
    ``client.videos.get(video_id)`` for the bytes).
    """

    video_id: int
    status: VideoStatus
    url: str | None = None
    size: float | None = None
    has_audio: bool | None = None
    credits: int | None = None
    trace_id: str | None = None
    timestamp: int = 0
    nonce: str = ""
    payload: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
    polled: bool = False
    #: Came from another process through the relay.
    relayed: bool = attrs.field(default=False, eq=False)
    #: The OpenTelemetry span context of the delivery (None: telemetry off).
    span_context: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def extra(self) -> dict[str, Any]:
        """Body fields the SDK does not know (forward compatibility)."""
        return {k: v for k, v in self.payload.items() if k not in KNOWN_FIELDS}

    @property
    def is_terminal(self) -> bool:
        """Whether this status ends the generation (successful, deleted, moderated, failed)."""
        return self.status.is_terminal

    def video_json(self) -> dict[str, Any]:
        """The event as a status answer's JSON (``id``, ``status``, ``url``): what a job
        finished by this event records in its journal (no ``size``: see the class)."""
        answer: dict[str, Any] = {"id": self.video_id, "status": int(self.status)}
        if self.url:
            answer["url"] = self.url
        return answer

    def to_video(self) -> Video:
        """The :class:`~pixverse_async.models.Video` this event tells of (id, status, URL).

        >>> from pixverse_async.webhooks import WebhookEvent
        >>> event = WebhookEvent.from_payload({"id": "7", "status": 1, "url": "u", "size": 10.5})
        >>> video = event.to_video()
        >>> (video.id, video.is_successful, video.url, video.size)
        (7, True, 'u', None)
        """
        return from_json(Video, self.video_json())

    @classmethod
    def from_video(cls, video: Video) -> WebhookEvent:
        """The event telling of ``video``'s status as a status poll found it (``polled``):
        id, status and URL (not ``size``, whose unit differs; see the class).

        >>> from pixverse_async.models import Video, from_json
        >>> event = WebhookEvent.from_video(from_json(Video, {"id": 7, "status": 1, "url": "u"}))
        >>> (event.video_id, event.is_terminal, event.url, event.polled, event.payload)
        (7, True, 'u', True, {'id': '7', 'status': 1, 'url': 'u'})
        >>> event.to_video() == from_json(Video, {"id": 7, "status": 1, "url": "u"})
        True
        """
        payload: dict[str, Any] = {"id": str(video.id), "status": int(video.status)}
        if video.url is not None:
            payload["url"] = video.url
        return cls(
            video_id=video.id, status=video.status, url=video.url, payload=payload, polled=True
        )

    @classmethod
    def from_payload(
        cls,
        payload: Mapping[str, Any],
        *,
        timestamp: int = 0,
        nonce: str = "",
        trace_id: str | None = None,
    ) -> WebhookEvent:
        """Decode a delivery body; raise :class:`WebhookVerificationError` (``body_not_event``)
        when ``id`` or ``status`` is missing or not an integer."""
        return cls(
            video_id=_integer(payload, "id"),
            status=VideoStatus(_integer(payload, "status")),
            url=_typed(payload.get("url"), str),
            size=_number(payload.get("size")),
            has_audio=_typed(payload.get("has_audio"), bool),
            credits=_whole(payload.get("credits")),
            trace_id=trace_id,
            timestamp=timestamp,
            nonce=nonce,
            payload=dict(payload),
        )


def _integer(payload: Mapping[str, Any], name: str) -> int:
    """A required integer field: a JSON integer or a string of ASCII digits."""
    if name not in payload:
        raise WebhookVerificationError("body_not_event", f"webhook body: field {name} is missing")
    value = payload[name]
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and 0 < len(value) <= 20 and value.isascii() and value.isdigit():
        return int(value)
    raise WebhookVerificationError(
        "body_not_event", f"webhook body: field {name} must be a non-negative integer"
    )


def _typed(value: object, kind: type[Any]) -> Any:
    return value if isinstance(value, kind) else None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None
