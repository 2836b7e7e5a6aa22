"""The package's layers: what may import what, read from the source with ``ast``.

``LAYERS`` is the rule (docs/architecture.md describes it): layers from the bottom up, each a
few groups of modules (a name covers the module or package and everything under it). A module
may import its own group and any group of a lower layer; never a sibling group of its layer,
never a higher layer. Every import counts: at the top of a module, inside a function, under
``TYPE_CHECKING`` (a module that needs another's types depends on it). Across the whole
package no import may close a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

PACKAGE = "pixverse_async"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

#: From the bottom up. ``""`` is the package's own ``__init__`` (the public names).
LAYERS: tuple[dict[str, tuple[str, ...]], ...] = (
    {"foundation": ("_version", "constants", "errors", "logs", "option_rules", "retry")},
    {
        "models": ("models", "types"),
        "prices": (
            "batch.costs",
            "batch.limit_rule",
            "batch.price_rules",
            "batch.published_prices",
        ),
        "uploads": ("uploads",),
        "telemetry": ("telemetry",),
    },
    {
        "transport": ("hooks", "options", "raw", "session"),
        "journal": ("journal",),
        "emulator": ("emulator",),
    },
    {"jobs": ("jobs",)},
    {"webhooks": ("webhooks",)},
    {"endpoints": ("endpoints",)},
    {"batch": ("batch",)},
    {"client": ("client",)},
    {"cli": ("cli", "__main__"), "temporal": ("temporal",), "testing": ("testing",), "api": ("",)},
)

#: Modules allowed over MAX_LINES, each with the reason.
MAX_LINES = 600
LONG_MODULES: dict[str, str] = {
    "models.requests": "every request class with its field validators, in the order of the "
    "API pages; not split yet (a split per endpoint family would fit)",
    "emulator.validation": "the emulator's own reading of the spec, one validator per endpoint, "
    "independent of the client's rules on purpose; not split yet",
    "uploads.preflight": "inspect_upload and the byte readers it streams from (file, stream, "
    "bytes); not split yet (the readers could be a module of their own)",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The package's modules ``name`` imports, anywhere in it (functions, TYPE_CHECKING)."""
    found: set[str] = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from x import y``: y may be a module of its own
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import a.b.c`` of an attribute
                target = target.rpartition(".")[0]
            if target.startswith(PACKAGE) and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def group_of(module: str) -> tuple[int, str] | None:
    """The (layer, group) of ``module``: its longest listed name wins."""
    relative = module.removeprefix(PACKAGE).removeprefix(".")
    best: tuple[int, int, str] | None = None
    for level, groups in enumerate(LAYERS):
        for group, names in groups.items():
            for prefix in names:
                covers = relative == prefix or (prefix != "" and relative.startswith(prefix + "."))
                if covers and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), level, group)
    return None if best is None else (best[1], best[2])


def violations(graph: Mapping[str, set[str]]) -> list[str]:
    """Every import against LAYERS, as ``importer -> imported (why)``."""
    found = []
    for module, targets in sorted(graph.items()):
        mine = group_of(module)
        assert mine is not None, f"{module} is in no layer: add it to LAYERS"
        for target in sorted(targets):
            theirs = group_of(target)
            assert theirs is not None, f"{target} is in no layer: add it to LAYERS"
            if theirs[1] == mine[1] or theirs[0] < mine[0]:
                continue
            why = "a sibling group" if theirs[0] == mine[0] else "a higher layer"
            found.append(f"{module} ({mine[1]}) -> {target} ({theirs[1]}: {why})")
    return found


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# --- the package ----------------------------------------------------------------------------


def test_no_import_circles() -> None:
    assert cycles(import_graph()) == []


def test_every_import_follows_the_layers() -> None:
    assert violations(import_graph()) == []


def test_every_module_is_in_a_layer() -> None:
    assert [m for m in modules() if group_of(m) is None] == []


def test_no_module_is_over_600_lines_unless_noted() -> None:
    long = {
        name.removeprefix(PACKAGE + "."): len(path.read_text(encoding="utf-8").splitlines())
        for name, path in modules().items()
    }
    assert {name: n for name, n in long.items() if n > MAX_LINES}.keys() <= LONG_MODULES.keys()
    assert all(long[name] > MAX_LINES for name in LONG_MODULES), "a noted module got shorter"


def test_the_graph_sees_type_checking_and_function_imports() -> None:
    graph = import_graph()
    # under TYPE_CHECKING only: the runner needs the video endpoints' type
    assert f"{PACKAGE}.endpoints.videos" in graph[f"{PACKAGE}.batch.runner"]
    # relative imports resolve to modules, and ``from . import x`` to x
    assert f"{PACKAGE}.models.enums" in graph[f"{PACKAGE}.models.responses"]


# --- the checks themselves can fail ---------------------------------------------------------


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_cycles_finds_circles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_violations_names_an_upward_and_a_sibling_import() -> None:
    graph = {
        f"{PACKAGE}.models.enums": {f"{PACKAGE}.session"},  # data that knows the network
        f"{PACKAGE}.journal.store": {f"{PACKAGE}.emulator.state"},  # a sibling group
        f"{PACKAGE}.batch.runner": {f"{PACKAGE}.journal"},  # downward: fine
    }
    assert violations(graph) == [
        f"{PACKAGE}.journal.store (journal) -> {PACKAGE}.emulator.state (emulator: a sibling "
        "group)",
        f"{PACKAGE}.models.enums (models) -> {PACKAGE}.session (transport: a higher layer)",
    ]


def test_a_rule_module_of_the_batch_package_sits_below_the_journal() -> None:
    assert group_of(f"{PACKAGE}.batch.costs") == (1, "prices")
    assert group_of(f"{PACKAGE}.batch.runner") == (6, "batch")
    assert group_of(PACKAGE) == (8, "api")
