"""The data the SDK sends and receives: enums, validated requests, responses, one converter.

Models know nothing of the session: build a request (validated on construction), turn it into
a JSON body with :func:`to_json`, and read an answer's ``Resp`` with :func:`from_json`.

>>> from pixverse_async.models import ImageToVideo, to_json
>>> to_json(ImageToVideo(img_id=1, prompt="the cat yawns", model="v5", duration=5,
...                      quality="540p"))
{'prompt': 'the cat yawns', 'model': 'v5', 'duration': 5, 'quality': '540p', 'img_id': 1}
"""

from __future__ import annotations

from .converter import converter, from_json, to_json
from .enums import (
    AspectRatio,
    CameraMovement,
    FusionReferenceType,
    Model,
    MotionMode,
    Quality,
    Style,
    VideoStatus,
)
from .requests import (
    REQUEST_KINDS,
    Extend,
    Fusion,
    GenerationRequest,
    ImageReference,
    ImageToVideo,
    LipSync,
    MaskSelection,
    MultiTransition,
    MultiTransitionFrame,
    PageQuery,
    Restyle,
    RestyleListQuery,
    SoundEffect,
    SpeakerListQuery,
    Swap,
    TextToVideo,
    Transition,
    build_request,
)
from .responses import (
    Balance,
    GenerationResult,
    ImageUpload,
    MaskInfo,
    MaskSelectionResult,
    MediaUpload,
    RestyleEffect,
    RestylePage,
    Speaker,
    SpeakerPage,
    Video,
)

__all__ = [
    # enums
    "AspectRatio",
    "CameraMovement",
    "FusionReferenceType",
    "Model",
    "MotionMode",
    "Quality",
    "Style",
    "VideoStatus",
    # requests
    "REQUEST_KINDS",
    "Extend",
    "Fusion",
    "GenerationRequest",
    "ImageReference",
    "ImageToVideo",
    "LipSync",
    "MaskSelection",
    "MultiTransition",
    "MultiTransitionFrame",
    "PageQuery",
    "Restyle",
    "RestyleListQuery",
    "SoundEffect",
    "SpeakerListQuery",
    "Swap",
    "TextToVideo",
    "Transition",
    "build_request",
    # responses
    "Balance",
    "GenerationResult",
    "ImageUpload",
    "MaskInfo",
    "MaskSelectionResult",
    "MediaUpload",
    "RestyleEffect",
    "RestylePage",
    "Speaker",
    "SpeakerPage",
    "Video",
    # conversion
    "converter",
    "from_json",
    "to_json",
]
