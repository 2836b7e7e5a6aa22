"""The PixVerse spec files the schema tests read: ``tests/spec/`` (PixVerse's OpenAPI v2 pages,
merged into ``openapi.yaml``), or the folder ``$PIXVERSE_SPEC_DIR`` names.

Without them the schema tests skip and say why (``-rs`` puts the reason in the summary);
under ``CI=true`` a missing spec fails the run instead, so CI cannot pass without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ``tests/spec`` of this checkout, or ``$PIXVERSE_SPEC_DIR`` when set.
SPEC_DIR = Path(os.environ.get("PIXVERSE_SPEC_DIR") or Path(__file__).resolve().parent / "spec")


def spec_file(name: str) -> Path:
    """``SPEC_DIR / name``; skips the test (fails it under ``CI=true``) when it is missing."""
    path = SPEC_DIR / name
    if path.is_file():
        return path
    reason = f"spec-schema test needs {path} (tests/spec, or $PIXVERSE_SPEC_DIR); not found"
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
    pytest.skip(reason)
