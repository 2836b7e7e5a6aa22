"""Enumerated values of the PixVerse API.

String enums mix in :class:`str`, so a member compares equal to its wire value and request
fields accept either (``quality="540p"`` or ``quality=Quality.P540``)::

    >>> from pixverse_async.models import Quality, VideoStatus
    >>> Quality("540p") is Quality.P540 and Quality.P540 == "540p"
    True
    >>> VideoStatus(5).is_terminal, VideoStatus(1).is_terminal
    (False, True)
    >>> VideoStatus(42).is_known  # statuses the SDK does not know still structure
    False
"""

from __future__ import annotations

import enum

__all__ = [
    "AspectRatio",
    "CameraMovement",
    "FusionReferenceType",
    "Model",
    "MotionMode",
    "Quality",
    "Style",
    "ThinkingType",
    "VideoStatus",
]


class _StrEnum(str, enum.Enum):
    """A ``str`` enum whose ``str()`` and ``format()`` give the wire value (like 3.11's StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return str(self.value).__format__(format_spec)


class Model(_StrEnum):
    """Model versions PixVerse's pages name (docs/api-notes.md, "Models and their limits").

    The service adds models faster than SDKs ship: request fields are typed ``Model | str``
    and a name not listed here is sent as is. What each model allows is one row of
    :data:`pixverse_async.types.MODEL_RULES`.

    >>> Model("v4.5")
    <Model.V4_5: 'v4.5'>
    """

    V3_5 = "v3.5"
    V4 = "v4"
    V4_5 = "v4.5"
    V5 = "v5"
    V5_5 = "v5.5"
    V5_6 = "v5.6"
    V6 = "v6"
    C1 = "c1"


class Quality(_StrEnum):
    """Output quality (vertical resolution). ``360p`` is the "Turbo" tier.

    >>> Quality("1080p").value
    '1080p'
    """

    P360 = "360p"
    P540 = "540p"
    P720 = "720p"
    P1080 = "1080p"


class AspectRatio(_StrEnum):
    """Aspect ratios for text-to-video and fusion (3:2, 2:3 and 21:9 are reported for newer
    models; any other ratio is sent as written).

    >>> AspectRatio("9:16") is AspectRatio.R9_16
    True
    """

    R16_9 = "16:9"
    R4_3 = "4:3"
    R1_1 = "1:1"
    R3_4 = "3:4"
    R9_16 = "9:16"
    R3_2 = "3:2"
    R2_3 = "2:3"
    R21_9 = "21:9"


class MotionMode(_StrEnum):
    """Motion mode. Where ``fast`` is allowed depends on the model (``MODEL_RULES``).

    >>> MotionMode("fast") is MotionMode.FAST
    True
    """

    NORMAL = "normal"
    FAST = "fast"


class Style(_StrEnum):
    """Styles (the text-to-video page: style only on v3.5).

    >>> Style("3d_animation") is Style.ANIMATION_3D
    True
    """

    ANIME = "anime"
    ANIMATION_3D = "3d_animation"
    CLAY = "clay"
    COMIC = "comic"
    CYBERPUNK = "cyberpunk"


class CameraMovement(_StrEnum):
    """Camera movements for text- and image-to-video (``camera_movement``).

    >>> CameraMovement("zoom_in") is CameraMovement.ZOOM_IN
    True
    """

    HORIZONTAL_LEFT = "horizontal_left"
    HORIZONTAL_RIGHT = "horizontal_right"
    VERTICAL_UP = "vertical_up"
    VERTICAL_DOWN = "vertical_down"
    ZOOM_IN = "zoom_in"
    ZOOM_OUT = "zoom_out"
    CRANE_UP = "crane_up"
    QUICKLY_ZOOM_IN = "quickly_zoom_in"
    QUICKLY_ZOOM_OUT = "quickly_zoom_out"
    SMOOTH_ZOOM_IN = "smooth_zoom_in"
    CAMERA_ROTATION = "camera_rotation"
    ROBO_ARM = "robo_arm"
    SUPER_DOLLY_OUT = "super_dolly_out"
    WHIP_PAN = "whip_pan"
    HITCHCOCK = "hitchcock"
    LEFT_FOLLOW = "left_follow"
    RIGHT_FOLLOW = "right_follow"
    PAN_LEFT = "pan_left"
    PAN_RIGHT = "pan_right"
    FIX_BG = "fix_bg"


class ThinkingType(_StrEnum):
    """``thinking_type`` of text-to-video on v5.5 (prompt reasoning before generating).

    >>> ThinkingType("auto") is ThinkingType.AUTO
    True
    """

    ENABLED = "enabled"
    DISABLED = "disabled"
    AUTO = "auto"


class FusionReferenceType(_StrEnum):
    """What a fusion image reference stands for.

    >>> FusionReferenceType("subject").value
    'subject'
    """

    SUBJECT = "subject"
    BACKGROUND = "background"


class VideoStatus(enum.IntEnum):
    """``status`` of ``GET /openapi/v2/video/result/{id}``.

    A status code the SDK does not know becomes a pseudo-member named ``UNKNOWN`` that keeps
    its integer value (it is equal to that int); it is not terminal, so polling goes on, as
    the spec notes ask.

    >>> VideoStatus(7) is VideoStatus.MODERATION_FAILED
    True
    >>> s = VideoStatus(3)
    >>> s.name, s.value, s == 3, s.is_known, s.is_terminal
    ('UNKNOWN', 3, True, False, False)
    >>> print(VideoStatus(5), f"{VideoStatus(1)}")  # printed as a word
    generating successful
    """

    SUCCESSFUL = 1
    GENERATING = 5
    DELETED = 6
    MODERATION_FAILED = 7
    FAILED = 8

    @classmethod
    def _missing_(cls, value: object) -> VideoStatus | None:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = "UNKNOWN"
            member._value_ = int(value)
            return member
        return None

    def __str__(self) -> str:
        """The status as a word, e.g. ``generating`` (``unknown`` for codes the SDK lacks)."""
        return self._name_.lower()

    def __format__(self, format_spec: str) -> str:
        return str(self).__format__(format_spec)

    @property
    def is_known(self) -> bool:
        """Whether this is one of the documented status codes."""
        return self._name_ != "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """Whether the generation has ended (successfully or not); unknown codes are not."""
        return self._value_ in _TERMINAL

    @property
    def is_successful(self) -> bool:
        """Whether the video was generated (status 1)."""
        return self._value_ == 1

    @property
    def is_failure(self) -> bool:
        """Whether the generation ended without a video (deleted, moderated or failed)."""
        return self._value_ in _FAILURES


_TERMINAL = frozenset({1, 6, 7, 8})
_FAILURES = frozenset({6, 7, 8})
