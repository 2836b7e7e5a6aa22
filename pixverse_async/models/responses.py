"""What the service answers: the ``Resp`` object of each endpoint, as frozen attrs classes.

Build them with :func:`pixverse_async.models.from_json`; extra fields the service adds are
ignored (or, for the loosely documented :class:`RestyleEffect` and :class:`Balance`, kept in
``extra``), a missing required field raises
:class:`~pixverse_async.errors.ResponseDecodingError`::

    >>> from pixverse_async.models import GenerationResult, from_json
    >>> from_json(GenerationResult, {"video_id": 42, "new_field": "ignored"})
    GenerationResult(video_id=42, credits=None)
"""

from __future__ import annotations

from typing import Any

import attrs

from .enums import VideoStatus

__all__ = [
    "Balance",
    "GenerationResult",
    "ImageResult",
    "ImageTemplateResult",
    "ImageUpload",
    "MaskInfo",
    "MaskSelectionResult",
    "MediaUpload",
    "RestyleEffect",
    "RestylePage",
    "Speaker",
    "SpeakerPage",
    "Video",
]


@attrs.frozen(kw_only=True)
class GenerationResult:
    """The answer to a generation submit: the new video's id, and its cost when the page says.

    >>> from pixverse_async.models import GenerationResult, from_json
    >>> from_json(GenerationResult, {"video_id": 7, "credits": 45}).credits
    45
    >>> from_json(GenerationResult, {"video_id": 7, "credit": 45}).credits  # mimic's name
    45
    """

    video_id: int
    credits: int | None = None


@attrs.frozen(kw_only=True)
class Video:
    """A video's state, from ``GET /openapi/v2/video/result/{video_id}``.

    JSON ``outputWidth``/``outputHeight`` become ``output_width``/``output_height``. Every
    field but ``id`` and ``status`` may be missing. ``status`` is a :class:`VideoStatus`; a
    code the SDK does not know stays readable (``VideoStatus.UNKNOWN`` with its value) and
    counts as still running.

    >>> from pixverse_async.models import Video, from_json
    >>> v = from_json(Video, {"id": 1, "status": 1, "url": "https://x/1.mp4", "outputWidth": 960})
    >>> v.is_done, v.is_successful, v.output_width
    (True, True, 960)
    >>> from_json(Video, {"id": 1, "status": 99}).is_done
    False
    """

    id: int
    status: VideoStatus
    url: str | None = None
    output_width: int | None = None
    output_height: int | None = None
    size: int | None = None
    seed: int | None = None
    style: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    resolution_ratio: int | None = None
    create_time: str | None = None
    modify_time: str | None = None

    @property
    def video_id(self) -> int:
        """Alias of ``id``, the name every other endpoint uses."""
        return self.id

    @property
    def is_done(self) -> bool:
        """Whether the generation has ended, successfully or not."""
        return self.status.is_terminal

    @property
    def is_successful(self) -> bool:
        """Whether the video was generated (status 1)."""
        return self.status.is_successful

    @property
    def is_failed(self) -> bool:
        """Whether the generation ended without a video (deleted, moderated or failed)."""
        return self.status.is_failure


@attrs.frozen(kw_only=True)
class MaskInfo:
    """One swappable object found by mask selection.

    >>> from pixverse_async.models import MaskInfo
    >>> MaskInfo(mask_id="3", mask_name="dog", mask_url="https://x/m.png").mask_id
    '3'
    """

    mask_id: str
    mask_name: str
    mask_url: str


@attrs.frozen(kw_only=True)
class MaskSelectionResult:
    """The answer of ``POST /openapi/v2/video/mask/selection``.

    ``mask_info`` is a tuple (immutable, like the rest of the object).

    >>> from pixverse_async.models import MaskSelectionResult, from_json
    >>> r = from_json(MaskSelectionResult, {"keyframe_id": 1, "keyframe_url": "u", "credits": 5,
    ...     "mask_info": [{"mask_id": "9", "mask_name": "cat", "mask_url": "m"}]})
    >>> r.mask_info[0].mask_name
    'cat'
    """

    keyframe_id: int
    keyframe_url: str
    mask_info: tuple[MaskInfo, ...]
    credits: int | None = None


@attrs.frozen(kw_only=True)
class ImageUpload:
    """The answer of ``POST /openapi/v2/image/upload``.

    >>> from pixverse_async.models import ImageUpload, from_json
    >>> from_json(ImageUpload, {"img_id": 5, "img_url": "https://x/i.png"}).img_id
    5
    """

    img_id: int
    img_url: str


@attrs.frozen(kw_only=True)
class MediaUpload:
    """The answer of ``POST /openapi/v2/media/upload`` (``media_type`` is "video" or "audio").

    >>> from pixverse_async.models import MediaUpload, from_json
    >>> from_json(MediaUpload, {"media_id": 5, "media_type": "audio", "url": "u"}).media_type
    'audio'
    """

    media_id: int
    media_type: str
    url: str


@attrs.frozen(kw_only=True)
class Speaker:
    """A TTS voice for lip sync; pass ``speaker_id`` as ``lip_sync_tts_speaker_id``.

    >>> from pixverse_async.models import Speaker
    >>> Speaker(speaker_id="Auto", name="Auto").speaker_id
    'Auto'
    """

    speaker_id: str
    name: str


@attrs.frozen(kw_only=True)
class SpeakerPage:
    """A page of ``GET /openapi/v2/video/lip_sync/tts_list``; ``total`` counts all pages.

    >>> from pixverse_async.models import SpeakerPage, from_json
    >>> from_json(SpeakerPage, {"total": 1, "data": [{"speaker_id": "7", "name": "Harper"}]})
    SpeakerPage(total=1, data=(Speaker(speaker_id='7', name='Harper'),))
    """

    total: int
    data: tuple[Speaker, ...]


@attrs.frozen(kw_only=True)
class RestyleEffect:
    """One effect of ``GET /openapi/v2/video/restyle/list``; pass ``restyle_id`` to Restyle.

    The spec page leaves the answer undocumented. The shape assumed here is PixVerse's
    published example (``restyle_id``, ``name``, ``thumbnail``); the keys ``restyle_name`` and
    ``web_thumbnail_url`` are read as fallbacks for ``name`` and ``thumbnail``. Only
    ``restyle_id`` is required; any other key lands in ``extra``.

    >>> from pixverse_async.models import RestyleEffect, from_json
    >>> e = from_json(RestyleEffect, {"restyle_id": 322878269109312, "name": "Simpson",
    ...                               "thumbnail": "https://x/s.png", "marker": "new"})
    >>> e.name, e.extra
    ('Simpson', {'marker': 'new'})
    """

    restyle_id: int
    name: str | None = None
    thumbnail: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)


@attrs.frozen(kw_only=True)
class RestylePage:
    """A page of restyle effects.

    >>> from pixverse_async.models import RestylePage, from_json
    >>> from_json(RestylePage, {"total": 0, "data": []}).data
    ()
    """

    total: int
    data: tuple[RestyleEffect, ...]


@attrs.frozen(kw_only=True)
class Balance:
    """The account's credits (``GET /openapi/v2/account/balance``); every field may be missing,
    and fields not listed here are kept in ``extra``.

    >>> from pixverse_async.models import Balance, from_json
    >>> from_json(Balance, {"account_id": 1, "credit_monthly": 100, "credit_package": 0})
    Balance(account_id=1, credit_monthly=100, credit_package=0)
    """

    account_id: int | None = None
    credit_monthly: int | None = None
    credit_package: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)


@attrs.frozen(kw_only=True)
class ImageTemplateResult:
    """The answer to an image template submit: the new image's id and its cost.

    >>> from pixverse_async.types import ImageTemplateResult, from_json
    >>> from_json(ImageTemplateResult, {"image_id": 9, "credit": 10}).credits
    10
    """

    image_id: int
    credits: int | None = None


@attrs.frozen(kw_only=True)
class ImageResult:
    """An image template generation's state (``GET /openapi/v2/image/result/{image_id}``).

    PixVerse does not publish this answer's shape: it is read leniently. ``status`` uses the
    video result's codes; ``url`` is the image once it is done (``image_url`` is read too);
    every other field is kept in ``extra``.

    >>> from pixverse_async.types import ImageResult, from_json
    >>> r = from_json(ImageResult, {"status": 1, "image_url": "https://x/i.png", "w": 9})
    >>> r.is_done, r.url, r.extra
    (True, 'https://x/i.png', {'w': 9})
    """

    status: VideoStatus
    url: str | None = None
    image_id: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, hash=False, repr=False)

    @property
    def is_done(self) -> bool:
        """Whether the generation has ended (successfully or not)."""
        return self.status.is_terminal

    @property
    def is_successful(self) -> bool:
        """Whether the image was generated."""
        return self.status.is_successful
