"""The package's public surface: ``pixverse_async.__all__`` and the docstrings of public names."""

from __future__ import annotations

import enum
import importlib
import inspect
import pkgutil
import re
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pixverse_async
from pixverse_async import errors, models, types

# Names a user of the SDK needs at the top level, whatever else gets exported.
KEY_NAMES = {
    # the client and waiting for jobs
    "PixVerse",
    "GenerationJob",
    "PollPolicy",
    "RetryPolicy",
    # batches: runner and journal
    "JobRunner",
    "Outcome",
    "OutcomeState",
    "Progress",
    "Journal",
    "JournalEntry",
    "JournalState",
    # errors
    "PixVerseError",
    "ValidationError",
    "APIError",
    "error_for_code",
    "ERROR_CODE_TABLE",
    "__version__",
}

# The models' public home: ``pixverse_async.types`` (as ``openai.types``).
TYPES_NAMES = {
    "build_request",
    "REQUEST_KINDS",
    "MODEL_RULES",
    "PaidRequest",
    "GenerationRequest",
    "MultiTransitionFrame",
    "ImageReference",
    "Video",
    "VideoStatus",
    "GenerationResult",
    "MaskSelectionResult",
    "MaskInfo",
    "ImageUpload",
    "MediaUpload",
    "Speaker",
    "SpeakerPage",
    "RestyleEffect",
    "RestylePage",
    "Balance",
    "Model",
    "Quality",
    "AspectRatio",
    "MotionMode",
    "Style",
    "CameraMovement",
    "FusionReferenceType",
    "ThinkingType",
    "Mimic",
}

# Constants exported next to the classes and functions.
CONSTANTS = {"ERROR_CODE_TABLE", "REQUEST_KINDS", "MODEL_RULES", "__version__"}

# Public methods/properties of exported classes that still lack a docstring (to be written;
# the test fails when a new one appears, not when one of these gets its docstring).
KNOWN_UNDOCUMENTED_MEMBERS = {"PixVerse.base_url", "Outcome.ok", "Progress.done"}


def public_modules() -> list[ModuleType]:
    """Every module of the package but private (``_x``) and ``__main__`` ones."""
    found = [pixverse_async]
    for info in pkgutil.walk_packages(pixverse_async.__path__, "pixverse_async."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts):
            continue
        found.append(importlib.import_module(info.name))
    return found


def public_names(module: ModuleType) -> list[str]:
    """``__all__`` when the module has one, else the names it defines without a leading _."""
    declared = getattr(module, "__all__", None)
    if declared is not None:
        return list(declared)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    ]


def own_doc(obj: Any) -> str:
    """The object's own docstring (a class does not inherit its base's here)."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


# --- __all__ --------------------------------------------------------------------------------


def test_all_is_unique_and_every_name_imports() -> None:
    names = pixverse_async.__all__
    assert len(names) == len(set(names))
    namespace: dict[str, Any] = {}
    exec("from pixverse_async import *", namespace)
    namespace.pop("__builtins__", None)
    assert set(namespace) == set(names)
    for name in names:
        assert getattr(pixverse_async, name) is namespace[name]


@pytest.mark.parametrize("name", pixverse_async.__all__)
def test_every_exported_name_is_public(name: str) -> None:
    obj = getattr(pixverse_async, name)
    if name in CONSTANTS or not (inspect.isclass(obj) or inspect.isfunction(obj)):
        assert not inspect.ismodule(obj), name  # constants and type aliases
        return
    assert not name.startswith("_")
    assert obj.__name__ == name  # exported under its own name
    home = importlib.import_module(obj.__module__)
    assert home.__name__.startswith("pixverse_async.")
    assert getattr(home, name) is obj
    assert own_doc(obj), f"{name} has no docstring"


def test_key_names_are_exported() -> None:
    missing = KEY_NAMES - set(pixverse_async.__all__)
    assert not missing, sorted(missing)
    assert isinstance(pixverse_async.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)*", pixverse_async.__version__)
    assert (Path(pixverse_async.__file__).parent / "py.typed").exists()


def test_every_request_class_is_in_types() -> None:
    for kind, cls in [*models.REQUEST_KINDS.items(), ("mask_selection", models.MaskSelection)]:
        assert getattr(types, cls.__name__) is cls, kind
        assert cls.__name__ in types.__all__
        assert cls.__name__ not in pixverse_async.__all__


def test_code_written_before_types_still_imports_the_models_from_the_top_level() -> None:
    for name in types.__all__:
        assert getattr(pixverse_async, name) is getattr(types, name), name


def test_types_holds_the_models_and_the_top_level_does_not_export_them() -> None:
    missing = TYPES_NAMES - set(types.__all__)
    assert not missing, sorted(missing)
    assert not TYPES_NAMES & set(pixverse_async.__all__)
    for name in types.__all__:
        assert getattr(types, name) is getattr(models, name)


def test_every_exception_is_exported() -> None:
    raised = {
        obj
        for obj in vars(errors).values()
        if inspect.isclass(obj) and issubclass(obj, pixverse_async.PixVerseError)
    }
    assert len(raised) > 15
    for cls in raised:
        assert getattr(pixverse_async, cls.__name__) is cls
        assert cls.__name__ in pixverse_async.__all__
    assert set(errors.ERROR_CODE_TABLE.values()) <= raised


def test_models_public_names_match_types() -> None:
    """What models exports and types does not is on purpose (see the list)."""
    only_in_models = set(models.__all__) - set(types.__all__)
    assert only_in_models <= {"converter", "PageQuery", "SpeakerListQuery", "RestyleListQuery"}


def test_submodules_are_reachable() -> None:
    for name in ("errors", "models", "types", "batch", "journal", "jobs", "retry", "emulator"):
        module = importlib.import_module(f"pixverse_async.{name}")
        assert own_doc(module)


# --- docstrings -----------------------------------------------------------------------------


def test_every_public_module_has_a_docstring() -> None:
    undocumented = [m.__name__ for m in public_modules() if not own_doc(m)]
    assert not undocumented


def test_every_public_class_and_function_has_a_docstring() -> None:
    undocumented = []
    checked = 0
    for module in public_modules():
        for name in public_names(module):
            obj = getattr(module, name)
            if typing.get_origin(obj) is not None:
                continue  # a type alias such as Callable[[int, int], None] (a "class" on 3.10)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants and type aliases
            checked += 1
            if not own_doc(obj):
                undocumented.append(f"{module.__name__}.{name}")
    assert checked > 150
    assert not undocumented


def test_public_members_of_exported_classes_have_docstrings() -> None:
    undocumented = set()
    for name in pixverse_async.__all__:
        cls = getattr(pixverse_async, name)
        if not inspect.isclass(cls) or issubclass(cls, (BaseException, enum.Enum)):
            continue
        for member, value in vars(cls).items():
            if member.startswith("_"):
                continue
            func = value.fget if isinstance(value, property) else value
            func = getattr(func, "__func__", func)  # classmethod / staticmethod
            if inspect.isfunction(func) and not own_doc(func):
                undocumented.add(f"{name}.{member}")
    new = undocumented - KNOWN_UNDOCUMENTED_MEMBERS
    assert not new, sorted(new)
