"""Facts about the PixVerse API shared by the client and the emulator.

This is the only module the emulator imports from the client side: paths, error codes,
status codes and limits as the spec and its notes state them. Rules built from these facts
(validators, routes) are written twice, once per side, on purpose.
"""

from __future__ import annotations

from typing import Final

DEFAULT_BASE_URL: Final = "https://app-api.pixverse.ai"
API_KEY_ENV: Final = "PIXVERSE_API_KEY"
BASE_URL_ENV: Final = "PIXVERSE_BASE_URL"
POLL_INTERVAL_ENV: Final = "PIXVERSE_POLL_INTERVAL"

API_KEY_HEADER: Final = "API-KEY"
TRACE_ID_HEADER: Final = "Ai-trace-id"
WEBHOOK_SECRET_ENV: Final = "PIXVERSE_WEBHOOK_SECRET"


class Webhook:
    """PixVerse's webhook deliveries (docs/api-notes.md, "Webhooks"): headers, answer, retries."""

    TIMESTAMP_HEADER: Final = "Webhook-Timestamp"
    NONCE_HEADER: Final = "Webhook-Nonce"
    SIGNATURE_HEADER: Final = "Webhook-Signature"
    TRACE_ID_HEADER: Final = "Ai-Trace-Id"
    #: The body a receiver answers (with HTTP 200) to acknowledge a delivery.
    ACK_BODY: Final = "ok"
    #: Seconds before each retry of a delivery that was not acknowledged.
    RETRY_DELAYS: Final = (2.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


class Paths:
    """Every path of the OpenAPI v2 surface the SDK speaks."""

    IMAGE_UPLOAD: Final = "/openapi/v2/image/upload"
    MEDIA_UPLOAD: Final = "/openapi/v2/media/upload"
    TEXT_TO_VIDEO: Final = "/openapi/v2/video/text/generate"
    IMAGE_TO_VIDEO: Final = "/openapi/v2/video/img/generate"
    TRANSITION: Final = "/openapi/v2/video/transition/generate"
    MULTI_TRANSITION: Final = "/openapi/v2/video/multi_transition/generate"
    EXTEND: Final = "/openapi/v2/video/extend/generate"
    FUSION: Final = "/openapi/v2/video/fusion/generate"
    RESTYLE: Final = "/openapi/v2/video/restyle/generate"
    RESTYLE_LIST: Final = "/openapi/v2/video/restyle/list"
    MASK_SELECTION: Final = "/openapi/v2/video/mask/selection"
    SWAP: Final = "/openapi/v2/video/swap/generate"
    LIP_SYNC: Final = "/openapi/v2/video/lip_sync/generate"
    TTS_LIST: Final = "/openapi/v2/video/lip_sync/tts_list"
    SOUND_EFFECT: Final = "/openapi/v2/video/sound_effect/generate"
    VIDEO_RESULT: Final = "/openapi/v2/video/result/{video_id}"
    VIDEO_RESULT_PREFIX: Final = "/openapi/v2/video/result/"
    BALANCE: Final = "/openapi/v2/account/balance"
    # Beyond the spec pages (docs/api-notes.md, confirmed)
    MIMIC: Final = "/openapi/v2/video/mimic/generate"
    IMAGE_TEMPLATE: Final = "/openapi/v2/image/template/generate"
    IMAGE_RESULT: Final = "/openapi/v2/image/result/{image_id}"
    IMAGE_RESULT_PREFIX: Final = "/openapi/v2/image/result/"
    VIDEO_MODIFY: Final = "/openapi/v2/video/modify/generate"
    # Reported only (docs/api-notes.md): reachable through ``client.videos.generate``, not typed
    VIDEO_UPSCALE: Final = "/openapi/v2/video/upscale/generate"


class ErrCode:
    """Business error codes (``ErrCode`` / ``err_code``): PixVerse's own table (docs/api-notes.md),
    plus 10002-10005, 500043 and 500052 from the spec pages' examples."""

    SUCCESS: Final = 0
    API_KEY_MISSING: Final = 10002
    API_KEY_INVALID: Final = 10003
    API_KEY_EXPIRED: Final = 10005
    EMPTY_PARAMETER: Final = 400011
    INVALID_ACCOUNT: Final = 400012
    WRONG_PARAMETER: Final = 400013
    INVALID_PARAMETER: Final = 400017
    PROMPT_TOO_LONG: Final = 400018
    NEGATIVE_PROMPT_TOO_LONG: Final = 400019
    INVALID_IMAGE_ID: Final = 400032
    NOT_FOUND: Final = 500008
    NO_PERMISSION: Final = 500020
    IMAGE_TOO_LARGE: Final = 500030
    IMAGE_UNREADABLE: Final = 500031
    IMAGE_BAD_FORMAT: Final = 500032
    IMAGE_BAD_DIMENSIONS: Final = 500033
    IMAGE_UPLOAD_FAILED: Final = 500041
    IMAGE_PATH_INVALID: Final = 500042
    CREDITS_USED_UP: Final = 500043
    CONCURRENCY_LIMIT: Final = 500044
    MODERATION_REJECTED: Final = 500052
    MODERATION_REJECTED_2: Final = 500054
    MODERATION_REJECTED_3: Final = 500063
    MONTHLY_LIMIT: Final = 500060  # the monthly effects-activation limit
    CONTENT_DELETED: Final = 500064
    HIGH_LOAD: Final = 500069
    TEMPLATE_NOT_ACTIVATED: Final = 500070
    RESOLUTION_NOT_SUPPORTED: Final = 500071
    INSUFFICIENT_BALANCE: Final = 500090
    DATABASE_ERROR: Final = 500100
    UNKNOWN_ERROR: Final = 99999
    MOTION_CONTROL_INPUT_REJECTED: Final = 701002
    MOTION_CONTROL_INPUT_REJECTED_2: Final = 701003


class VideoStatusCode:
    """``status`` values of ``GET /openapi/v2/video/result/{id}``."""

    SUCCESSFUL: Final = 1
    GENERATING: Final = 5
    DELETED: Final = 6
    MODERATION_FAILED: Final = 7
    FAILED: Final = 8


class Limits:
    """Numeric limits the spec pages state."""

    PROMPT_MAX_CHARS: Final = 2048
    SEED_MIN: Final = 0
    SEED_MAX: Final = 2147483647
    TTS_CONTENT_MAX_CHARS: Final = 140
    IMAGE_MAX_BYTES: Final = 20 * 1024 * 1024  # "less than 20MB": strictly below
    # "max 20MB and max 10000px" (PixVerse's llm.txt page, read 2026-12-05); the FAQ's older
    # 4000 x 4000 px is out of date
    IMAGE_MAX_SIDE_PX: Final = 10000
    MEDIA_MAX_BYTES: Final = 50 * 1024 * 1024  # "up to 50MB": inclusive
    MEDIA_MAX_SECONDS: Final = 30
    MEDIA_MAX_SIDE_PX: Final = 1920
    MULTI_TRANSITION_MIN_FRAMES: Final = 2
    MULTI_TRANSITION_MAX_FRAMES: Final = 7
    MULTI_TRANSITION_MIN_TOTAL_SECONDS: Final = 1
    MULTI_TRANSITION_MAX_TOTAL_SECONDS: Final = 30
    KEYFRAME_MIN: Final = 1
    SLOT_RELEASE_SECONDS: Final = 600
    """A generation running longer than this (10 minutes) no longer counts against the
    account's concurrency limit (PixVerse's FAQ: its slot is released, its credits kept, and
    refunded after 2 hours)."""


class Vocab:
    """Enumerated string values the spec lists."""

    # v5.5, v5.6, v6 and c1: docs/api-notes.md (pages confirmed; v6/c1 limits reported)
    MODELS: Final = ("v3.5", "v4", "v4.5", "v5", "v5.5", "v5.6", "v6", "c1")
    QUALITIES: Final = ("360p", "540p", "720p", "1080p")
    SWAP_QUALITIES: Final = ("360p", "540p", "720p")
    # 3:2, 2:3 and 21:9: reported for newer models (docs/api-notes.md)
    ASPECT_RATIOS: Final = ("16:9", "4:3", "1:1", "3:4", "9:16", "3:2", "2:3", "21:9")
    THINKING_TYPES: Final = ("enabled", "disabled", "auto")
    MOTION_MODES: Final = ("normal", "fast")
    STYLES: Final = ("anime", "3d_animation", "clay", "comic", "cyberpunk")
    DURATIONS: Final = (5, 8)
    FUSION_REFERENCE_TYPES: Final = ("subject", "background")
    CAMERA_MOVEMENTS: Final = (
        "horizontal_left",
        "horizontal_right",
        "vertical_up",
        "vertical_down",
        "zoom_in",
        "zoom_out",
        "crane_up",
        "quickly_zoom_in",
        "quickly_zoom_out",
        "smooth_zoom_in",
        "camera_rotation",
        "robo_arm",
        "super_dolly_out",
        "whip_pan",
        "hitchcock",
        "left_follow",
        "right_follow",
        "pan_left",
        "pan_right",
        "fix_bg",
    )
    IMAGE_MIME_TYPES: Final = ("image/jpeg", "image/jpg", "image/png", "image/webp")
    VIDEO_MIME_TYPES: Final = ("video/mp4", "video/mov", "video/webm", "video/quicktime")
    AUDIO_MIME_TYPES: Final = (
        "audio/mpeg",
        "audio/wav",
        "audio/vnd.wave",
        "audio/x-wav",
        "audio/x-m4a",
        "audio/aac",
        "audio/x-aac",
        "audio/wave",
        "audio/mp4",
    )
