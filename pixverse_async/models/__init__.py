"""The data the SDK sends and receives: enums, validated requests, responses, one converter.

The public home of these names is :mod:`pixverse_async.types`; this package holds their
implementation. Models know nothing of the session: build a request (validated on
construction), turn it into a JSON body with :func:`to_json`, and read an answer's ``Resp``
with :func:`from_json`.

>>> from pixverse_async.types import ImageToVideo, to_json
>>> to_json(ImageToVideo(img_id=1, prompt="the cat yawns", model="v5", duration=5,
...                      quality="540p"))
{'prompt': 'the cat yawns', 'model': 'v5', 'duration': 5, 'quality': '540p', 'img_id': 1}

May import: the foundation only (constants, errors, the option rules).
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
    ThinkingType,
    VideoStatus,
)
from .requests import (
    REQUEST_KINDS,
    Extend,
    Fusion,
    GenerationRequest,
    ImageReference,
    ImageTemplate,
    ImageToVideo,
    LipSync,
    MaskSelection,
    Mimic,
    Modify,
    MultiTransition,
    MultiTransitionFrame,
    PageQuery,
    PaidRequest,
    Restyle,
    RestyleListQuery,
    SoundEffect,
    SpeakerListQuery,
    Swap,
    TextToVideo,
    Transition,
    VideoGeneration,
    build_request,
    missing_fields,
)
from .responses import (
    Balance,
    GenerationResult,
    ImageResult,
    ImageTemplateResult,
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
from .rules import MODEL_RULES, ModelRules, check_model

__all__ = [
    # enums
    "AspectRatio",
    "CameraMovement",
    "FusionReferenceType",
    "Model",
    "MotionMode",
    "Quality",
    "Style",
    "ThinkingType",
    "VideoStatus",
    # requests
    "REQUEST_KINDS",
    "Extend",
    "Fusion",
    "GenerationRequest",
    "ImageReference",
    "ImageTemplate",
    "ImageToVideo",
    "LipSync",
    "MaskSelection",
    "Mimic",
    "Modify",
    "MultiTransition",
    "MultiTransitionFrame",
    "PageQuery",
    "PaidRequest",
    "Restyle",
    "RestyleListQuery",
    "SoundEffect",
    "SpeakerListQuery",
    "Swap",
    "TextToVideo",
    "Transition",
    "VideoGeneration",
    "build_request",
    "missing_fields",
    # model rules
    "MODEL_RULES",
    "ModelRules",
    "check_model",
    # responses
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
    # conversion
    "converter",
    "from_json",
    "to_json",
]
