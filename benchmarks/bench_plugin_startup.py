"""What the pytest plugin costs a test suite that does not use it.

Run from the repository root::

    python -m benchmarks.bench_plugin_startup             # 21 runs each way
    python -m benchmarks.bench_plugin_startup --runs 3

A tiny project (one trivial test, its own ``pyproject.toml``, no conftest) is run with
``python -m pytest`` in fresh processes, alternately with the plugin (loaded by its
``pytest11`` entry point, as installed) and with ``-p no:pixverse``. The table shows the
median and the fastest wall and CPU (user + system) time of each and the difference (on a
shared machine the fastest run is the least disturbed one); the plugin's own import time
(``python -X importtime``, after ``import pytest``) is measured the same way. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ._util import median, results_section, table

_IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s+pytest_pixverse$", re.MULTILINE)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_plugin_startup")
    parser.add_argument("--runs", type=int, default=21, help="pytest runs each way")
    return parser


def _pytest_seconds(project: Path, *options: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one pytest run in a fresh process."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pytest failed in the tiny project:\n{done.stdout}{done.stderr}")
    return elapsed, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _plugin_import_ms() -> float:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import pytest_pixverse"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = _IMPORT_LINE.search(done.stderr)
    if found is None:
        raise RuntimeError("no import time for pytest_pixverse")
    return int(found.group(1)) / 1000


def _plugin_code_ms(project: Path) -> float:
    """Time inside the plugin's own code (its import and hooks) in one profiled pytest run.

    cProfile's overhead makes it an overestimate; the hooks include registering the
    pytest-asyncio fixture module, whose fixtures pytest parses then.
    """
    profile = project / "run.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "pytest", "-q",
               "-p", "no:cacheprovider", "test_tiny.py"]  # fmt: skip
    subprocess.run(command, cwd=project, capture_output=True, check=True)
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    total = 0.0
    for (filename, _, name), (_, _, _, cumulative, callers) in stats.items():
        outside = not any("pytest_pixverse" in caller[0] for caller in callers)
        if "pytest_pixverse" in filename and outside and name in ("<module>", "pytest_configure"):
            total += cumulative
    return total * 1000


def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="pixverse-plugin-bench-") as folder:
        project = Path(folder)
        (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
        (project / "test_tiny.py").write_text("def test_tiny():\n    assert True\n")
        _pytest_seconds(project)  # warm the file caches and bytecode
        with_plugin: list[tuple[float, float]] = []
        without: list[tuple[float, float]] = []
        imports: list[float] = []
        code: list[float] = []
        for _ in range(args.runs):
            with_plugin.append(_pytest_seconds(project))
            without.append(_pytest_seconds(project, "-p", "no:pixverse"))
            imports.append(_plugin_import_ms())
            code.append(_plugin_code_ms(project))
    rows = []
    for what, index in (("wall", 0), ("CPU", 1)):
        for statistic, pick in (("median", median), ("min", min)):
            on = pick([run[index] for run in with_plugin]) * 1000
            off = pick([run[index] for run in without]) * 1000
            rows.append([f"{what} {statistic}", str(args.runs), f"{on:.0f}", f"{off:.0f}",
                         f"{on - off:+.1f}", f"{on / off:.3f}"])  # fmt: skip
    printed = table(
        ["time", "runs", "with plugin ms", "-p no:pixverse ms", "added ms", "ratio"], rows
    )
    printed += (
        f"\n\nplugin import (after pytest): {median(imports):.2f} ms (median)"
        f"\nplugin code in a run (import and hooks, under cProfile): {median(code):.2f} ms"
        " (median)"
    )
    print(printed)
    return results_section(
        "pytest plugin startup",
        "A one-test project without conftest, `python -m pytest -q` in fresh processes, "
        f"{args.runs} alternating runs each way, median and fastest: with the `pixverse` "
        "plugin (entry point, as installed) and with `-p no:pixverse`; the plugin's own "
        "import time after `import pytest` (`python -X importtime`). The budget is 50 ms "
        "added. On a shared machine the run-to-run noise is larger than the plugin's cost; "
        "the fastest runs and the import time show that cost best.",
        printed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
