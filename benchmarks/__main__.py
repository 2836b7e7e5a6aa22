"""``python -m benchmarks``: run every benchmark and write ``benchmarks/RESULTS.md``.

    python -m benchmarks             # the full set: about 20 minutes on 2 cores
    python -m benchmarks --quick     # smaller N everywhere: a few minutes
    python -m benchmarks --smoke --results /tmp/r.md   # tiny N: checks that nothing rotted

Benchmarks print figures and never fail on them; the exit status is non-zero only when a
benchmark could not run at all.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from . import (
    bench_gallery,
    bench_journal,
    bench_layers,
    bench_overhead,
    bench_plugin_startup,
    bench_runner,
    bench_scale,
    bench_upload,
    bench_webhooks,
    bench_workers,
)
from ._util import cpu_model, load_average, results_section

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

#: Arguments per benchmark and mode (each benchmark's own defaults are the full mode).
ARGS: dict[str, dict[str, list[str]]] = {
    "overhead": {
        "full": [],
        "quick": ["--quick"],
        "smoke": shlex.split(
            "--n 40 --concurrency 1,4 --rounds 1 --status-n 40 --import-runs 1 --memory-jobs 40"
        ),
    },
    "layers": {
        "full": [],
        "quick": ["--n", "1500", "--rounds", "3"],
        "smoke": ["--n", "30", "--rounds", "1"],
    },
    "runner": {
        "full": [],
        "quick": ["--quick"],
        "smoke": shlex.split(
            "--jobs 30 --file-jobs 30 --generation-seconds 0.2 --limit 10 --concurrency 10 "
            "--poll-jobs 30 --median 0.2"
        ),
    },
    "journal": {
        "full": [],
        "quick": ["--n", "1000", "--rounds", "2"],
        "smoke": ["--n", "30", "--rounds", "1", "--concurrency", "1,8"],
    },
    "webhooks": {
        "full": [],
        "quick": ["--n", "5000", "--rounds", "2"],
        "smoke": ["--n", "200", "--rounds", "1"],
    },
    "upload": {
        "full": ["--sizes", "5,20,50", "--repeat", "3"],
        "quick": ["--sizes", "5,20", "--repeat", "2"],
        "smoke": ["--sizes", "0.2", "--repeat", "1"],
    },
    "gallery": {
        "full": ["--cards", "1000,5000", "--rounds", "1"],
        "quick": ["--cards", "1000", "--rounds", "1"],
        "smoke": ["--cards", "12", "--rounds", "1"],
    },
    "plugin": {"full": [], "quick": ["--runs", "7"], "smoke": ["--runs", "1"]},
    "scale": {
        "full": [],
        "quick": ["--n", "1000"],
        "smoke": ["--n", "40"],
    },
    "workers": {
        "full": [],
        "quick": ["--n", "1000", "--rounds", "1"],
        "smoke": shlex.split("--n 40 --rounds 1 --workers 1,2 --generation-seconds 0.05"),
    },
}


class _Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy (for a benchmark that only prints)."""

    def __init__(self, terminal: io.TextIOBase) -> None:
        self.terminal = terminal
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.terminal.write(text)
        self.copy.write(text)
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _upload(argv: list[str]) -> str:
    tee = _Tee(sys.stdout)  # type: ignore[arg-type]
    with contextlib.redirect_stdout(tee):
        status = bench_upload.main(argv)
    if status:
        raise RuntimeError(f"bench_upload exited with {status}")
    printed = tee.copy.getvalue().rstrip()
    return results_section(
        "Upload",
        f"`python -m benchmarks.bench_upload {' '.join(argv)}`: the SDK's streamed upload "
        "against reading the file and posting it with `aiohttp.FormData`.",
        printed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--quick", action="store_true", help="smaller N (a few minutes)")
    modes.add_argument("--smoke", action="store_true", help="tiny N (seconds; for the tests)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write")
    parser.add_argument(
        "--only",
        default="overhead,layers,runner,journal,workers,scale,webhooks,upload,gallery,plugin",
        help="comma-separated subset of: overhead, layers, runner, journal, workers, scale, "
        "webhooks, upload, gallery, plugin",
    )
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(ARGS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    runs: dict[str, Callable[[list[str]], str]] = {
        "overhead": lambda a: bench_overhead.run(bench_overhead.build_parser().parse_args(a)),
        "layers": lambda a: bench_layers.run(bench_layers.build_parser().parse_args(a)),
        "runner": lambda a: bench_runner.run(bench_runner.build_parser().parse_args(a)),
        "journal": lambda a: bench_journal.run(bench_journal.build_parser().parse_args(a)),
        "webhooks": lambda a: bench_webhooks.run(bench_webhooks.build_parser().parse_args(a)),
        "upload": _upload,
        "gallery": bench_gallery.section,
        "plugin": lambda a: bench_plugin_startup.run(
            bench_plugin_startup.build_parser().parse_args(a)
        ),
        "workers": lambda a: bench_workers.run(bench_workers.build_parser().parse_args(a)),
        "scale": lambda a: bench_scale.run(bench_scale.build_parser().parse_args(a)),
    }
    started = time.monotonic()
    load_before = load_average()
    sections = []
    for name in only:
        print(f"\n=== {name} ({mode}) ===", flush=True)
        sections.append(runs[name](ARGS[name][mode]))
    minutes = (time.monotonic() - started) / 60

    header = f"""# Benchmark results

Written by `python -m benchmarks{"" if mode == "full" else " --" + mode}` ({mode} mode). These
are figures, not pass/fail checks; the machine was shared with other work, so compare the
side-by-side columns (measured interleaved) rather than absolute numbers.

- Date: {datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
- Machine: {cpu_model()}; load average {load_before} at the start, {load_average()} at the end
- Python {platform.python_version()} ({platform.python_implementation()}),
  aiohttp {_version("aiohttp")}, httpx {_version("httpx")},
  pixverse-async {_version("pixverse-async")}, {platform.system()} {platform.release()}
- Total time: {minutes:.1f} minutes
"""
    args.results.write_text(header + "\n" + "\n".join(sections))
    print(f"\nwrote {args.results} in {minutes:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
