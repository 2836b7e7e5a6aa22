"""PixVerse's published prices, as data: the cost estimator's and the emulator's default table.

In the format of ``pixverse batch --prices FILE`` (:mod:`pixverse_async.price_rules`); a
user's list is tried first, so it extends or overrides this one. Prices change: check them
against PixVerse's page before relying on them, and pass your own where they differ.

Sources, read on 2026-12-05 ($1 = 100 credits):

- PixVerse's "Model & Pricing" page (docs.platform.pixverse.ai, Resources): v5 (and v3.5, v4,
  v4.5, which cost the same) 45 credits for 5 s and 90 for 8 s at 360p and 540p, 60 and 120
  at 720p, 120 at 1080p for 5 s; ``motion_mode: fast`` (5 s only) 90 at 360p/540p and 120 at
  720p; lip sync 4 credits per started second of external audio, and for its text to speech 4
  credits per started 15 bytes of UTF-8 text; a sound effect adds 10 credits per started 5 s
  (5 s: 10, 8 s: 20, 10 s: 20). The page lists v5 at 1080p for 8 s too (240 credits), which an
  older copy does not: kept, as the page says it.
- PixVerse's "How to use Mimic" page: 9 / 10 / 12 credits per second at 360p / 540p / 720p.
- v6 (reported by several third-party pages citing the current pricing page, not confirmed):
  per second, without audio 5 / 7 / 9 / 18 at 360p / 540p / 720p / 1080p, with audio
  (``generate_audio_switch``) 7 / 9 / 12 / 23.
- c1 (reported: 6-19 credits per second without audio, 8-24 with, by quality, the steps not
  given): priced at the top of each range, 19 and 24 per second, so that an estimate is never
  below the charge.

Not priced (no source gives a figure): v5.5 and v5.6 (reported only as ranges per clip, 45-280
and 35-195), the multi-clip surcharge, fusion with ``video_references`` (reported double),
multi-transition (tiered, figures not published), restyle, swap, a lip sync's external audio
(its length is not in the request), the sound-effect endpoint on an existing video. Under a
spending cap such a request needs a price (``--prices``, a price function) or a cost seen.

Example::

    >>> PUBLISHED_PRICES.price("text_to_video",
    ...                        {"model": "v5", "quality": "720p", "duration": 8})
    120
    >>> PUBLISHED_PRICES.price("image_to_video", {"model": "v4.5", "quality": "540p",
    ...                        "duration": 5, "motion_mode": "fast"})
    90
    >>> PUBLISHED_PRICES.price("lip_sync", {"lip_sync_tts_content": "hello there, friend"})
    8
"""

from __future__ import annotations

from typing import Any, Final

from .price_rules import PriceRules

__all__ = ["PUBLISHED_PRICES", "PUBLISHED_RULES", "READ_ON", "SOURCE"]

SOURCE: Final = "https://docs.platform.pixverse.ai/model-pricing-796039m0"
READ_ON: Final = "2026-12-05"

_CLASSIC = ("v3.5", "v4", "v4.5", "v5")
_PER_CLIP = {("360p", 5): 45, ("360p", 8): 90, ("540p", 5): 45, ("540p", 8): 90,
             ("720p", 5): 60, ("720p", 8): 120, ("1080p", 5): 120}  # fmt: skip
_FAST = {"360p": 90, "540p": 90, "720p": 120}
_V6 = {"360p": (5, 7), "540p": (7, 9), "720p": (9, 12), "1080p": (18, 23)}
_MIMIC = {"360p": 9, "540p": 10, "720p": 12}


def _rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for model in _CLASSIC:
        for quality, credits in _FAST.items():
            rules.append({"model": model, "quality": quality, "duration": 5,
                          "when": {"motion_mode": "fast"}, "credits": credits})  # fmt: skip
        for (quality, duration), credits in _PER_CLIP.items():
            rules.append(
                {"model": model, "quality": quality, "duration": duration, "credits": credits}
            )
    rules.append({"model": "v5", "quality": "1080p", "duration": 8, "credits": 240})
    for quality, (plain, audio) in _V6.items():
        rules.append({"model": "v6", "quality": quality,
                      "when": {"generate_audio_switch": True}, "per_second": audio})  # fmt: skip
        rules.append({"model": "v6", "quality": quality, "per_second": plain})
    rules.append({"model": "c1", "when": {"generate_audio_switch": True}, "per_second": 24})
    rules.append({"model": "c1", "per_second": 19})
    for quality, credits in _MIMIC.items():
        rules.append({"kind": "mimic", "quality": quality, "per_second": credits})
    rules.append(
        {"kind": "lip_sync", "per_text": {"field": "lip_sync_tts_content", "bytes": 15,
                                          "credits": 4}}
    )  # fmt: skip
    rules.append({"kind": "mask_selection", "credits": 2})
    for duration, credits in ((5, 10), (8, 20), (10, 20)):
        rules.append({"when": {"sound_effect_switch": True}, "duration": duration,
                      "credits": credits, "add": True})  # fmt: skip
    return rules


#: The published table in the ``--prices FILE`` format (a JSON list of rules).
PUBLISHED_RULES: Final[list[dict[str, Any]]] = _rules()
#: The published table as a price function: ``PUBLISHED_PRICES.price(kind, body)``.
PUBLISHED_PRICES: Final = PriceRules.from_data(PUBLISHED_RULES, "published prices")
