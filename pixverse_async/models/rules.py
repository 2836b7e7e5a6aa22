"""What each model allows, as data: one row per model, each naming its source.

The SDK refuses a request only for a rule a confirmed source states (docs/api-notes.md, "Principle
for the SDK"). So the rules that depend on the model live here, one :class:`ModelRules` row
per model a source describes; a model without a row (a new one, or one whose limits are only
reported) gets no model-specific check and is sent as written. Adding a model is one row.

A row says, for each rule, what its source says, and nothing where the source is silent:

- ``durations``: the durations (seconds) the model offers; ``None`` when not published.
- ``durations_at_1080p``: the durations still offered at 1080p.
- ``fast_motion_durations`` / ``fast_motion_at_1080p``: where ``motion_mode="fast"`` works.
- ``features``: request fields the source ties to models: ``True`` where it says the model
  has the feature, ``False`` where it says the model lacks it; a field absent from the row is
  unknown for that model, and never refused.
- ``feature_kinds``: a feature the source offers on some kinds of request only (v6's
  multi-clip switch: text- and image-to-video), mapped to those kinds.

>>> from pixverse_async.types import MODEL_RULES
>>> sorted(MODEL_RULES["v5.5"].durations)
[5, 8, 10]
>>> MODEL_RULES["v5"].features["motion_mode"]
False
>>> sorted(MODEL_RULES["v6"].durations)[-1]  # 1 to 15 s, 1080p included
15
>>> "c1" in MODEL_RULES  # limits only reported: no model-specific checks
False
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ..errors import ValidationError

__all__ = ["FEATURES", "MODEL_RULES", "ModelRules", "check_model"]

#: The request fields whose availability depends on the model.
FEATURES = (
    "motion_mode",
    "style",
    "generate_audio_switch",
    "generate_multi_clip_switch",
    "thinking_type",
)


@attrs.frozen(kw_only=True)
class ModelRules:
    """The confirmed limits of one model (see the module docstring)."""

    source: str
    durations: frozenset[int] | None = None
    durations_at_1080p: frozenset[int] | None = None
    fast_motion_durations: frozenset[int] | None = None
    fast_motion_at_1080p: bool | None = None
    features: Mapping[str, bool] = attrs.field(factory=dict)
    feature_kinds: Mapping[str, frozenset[str]] = attrs.field(factory=dict)


_T2V_PAGE = "PixVerse text-to-video page, current version"
_V6_MATRIX = "PixVerse platform docs, v6 parameter matrix (read 2026-12-05)"
_NOTES = "PixVerse spec pages, generation limits"
_NO_NEW_FIELDS = {  # the page names the models these fields work on; these are not among them
    "generate_audio_switch": False,
    "generate_multi_clip_switch": False,
    "thinking_type": False,
}


def _v4_family(style: bool) -> ModelRules:
    return ModelRules(
        # 5 or 8 s; 1080p has no 8 s; fast motion only at 5 s and not at 1080p
        source=f"{_T2V_PAGE}; {_NOTES}",
        durations=frozenset({5, 8}),
        durations_at_1080p=frozenset({5}),
        fast_motion_durations=frozenset({5}),
        fast_motion_at_1080p=False,
        features={"motion_mode": True, "style": style, **_NO_NEW_FIELDS},
    )


#: One row per model a confirmed source describes. c1 has a page but only reported limits
#: (1 to 15 s, up to 1080p): no row, so no model-specific check.
MODEL_RULES: Mapping[str, ModelRules] = {
    # style only on v3.5 (text-to-video page)
    "v3.5": _v4_family(style=True),
    "v4": _v4_family(style=False),
    "v4.5": _v4_family(style=False),
    # 5 or 8 s, no motion mode, 1080p has no 8 s
    "v5": ModelRules(
        source=f"{_T2V_PAGE}; {_NOTES}",
        durations=frozenset({5, 8}),
        durations_at_1080p=frozenset({5}),
        features={"motion_mode": False, "style": False, **_NO_NEW_FIELDS},
    ),
    # 5, 8 or 10 s, 1080p has no 10 s; audio, multi-clip and thinking fields
    "v5.5": ModelRules(
        source=_T2V_PAGE,
        durations=frozenset({5, 8, 10}),
        durations_at_1080p=frozenset({5, 8}),
        features={
            "style": False,
            "generate_audio_switch": True,
            "generate_multi_clip_switch": True,
            "thinking_type": True,
        },
    ),
    # durations only reported (like v5.5): none checked; generate_audio_switch confirmed
    "v5.6": ModelRules(
        source=_T2V_PAGE,
        features={"style": False, "generate_audio_switch": True},
    ),
    # text, image, transition and extend; 1 to 15 s ("1080p supports up to 15s"); audio on
    # all four; multi-clip on text and image only; the page is silent on style, motion mode
    # and thinking: not checked
    "v6": ModelRules(
        source=_V6_MATRIX,
        durations=frozenset(range(1, 16)),
        durations_at_1080p=frozenset(range(1, 16)),
        features={"generate_audio_switch": True, "generate_multi_clip_switch": True},
        feature_kinds={
            "generate_multi_clip_switch": frozenset({"text_to_video", "image_to_video"})
        },
    ),
}


def _is_set(value: object) -> bool:
    """A feature is asked for when its field is given and not switched off."""
    return value is not None and value is not False


def check_model(
    model: str,
    *,
    duration: int | None = None,
    quality: str | None = None,
    features: Mapping[str, object] | None = None,
    kind: str | None = None,
) -> None:
    """Refuse what the row of ``model`` rules out; do nothing for a model without a row.

    ``quality`` and the feature values are wire values (strings) or str enum members;
    ``kind`` is the request's kind (``"transition"``...), for rules tied to an endpoint.

    >>> from pixverse_async.types import check_model
    >>> check_model("v5.5", duration=10, quality="1080p")
    Traceback (most recent call last):
    ...
    pixverse_async.errors.ValidationError: duration: 10 s is not available at 1080p on model v5.5
    >>> check_model("v9", duration=42, quality="4k")  # unknown model: sent as written
    """
    rules = MODEL_RULES.get(model)
    if rules is None:
        return
    at_1080p = quality == "1080p"
    if duration is not None:
        if rules.durations is not None and duration not in rules.durations:
            allowed = ", ".join(str(d) for d in sorted(rules.durations))
            raise ValidationError(
                "duration", f"must be {allowed} seconds on model {model} (got {duration})", duration
            )
        if (
            at_1080p
            and rules.durations_at_1080p is not None
            and duration not in rules.durations_at_1080p
        ):
            raise ValidationError(
                "duration", f"{duration} s is not available at 1080p on model {model}", duration
            )
    for name, value in (features or {}).items():
        if _is_set(value) and rules.features.get(name) is False:
            raise ValidationError(name, f"not supported on model {model}", value)
        kinds = rules.feature_kinds.get(name)
        if _is_set(value) and kind is not None and kinds is not None and kind not in kinds:
            raise ValidationError(
                name, f"only on {' and '.join(sorted(kinds))} with model {model}", value
            )
    if (features or {}).get("motion_mode") == "fast":
        fast = rules.fast_motion_durations
        if fast is not None and duration is not None and duration not in fast:
            allowed = ", ".join(str(d) for d in sorted(fast))
            raise ValidationError(
                "motion_mode",
                f"fast motion only with duration {allowed} on model {model} (got {duration})",
                "fast",
            )
        if at_1080p and rules.fast_motion_at_1080p is False:
            raise ValidationError(
                "motion_mode", f"fast motion is not available at 1080p on model {model}", "fast"
            )
