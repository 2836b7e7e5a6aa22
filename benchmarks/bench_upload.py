"""Upload speed and memory: the SDK's streamed upload against reading the file into memory.

Run from the repository root::

    python -m benchmarks.bench_upload                 # 5, 20 and 50 MiB, 3 runs each
    python -m benchmarks.bench_upload --sizes 0.2 --repeat 1

The emulator runs in its own process (``python -m pixverse_async.emulator --port 0``), so its
memory is not counted. For every size a file is written in a temporary folder: a valid MP4
``ftyp`` header, then random bytes. Each measurement runs in a fresh Python process, so its
peak RSS belongs to that one upload: growth is the peak after the upload minus the baseline
taken after the imports. On Linux the peak is ``VmHWM`` (``ru_maxrss`` of a forked-and-exec'd
child also counts the parent's RSS at the exec) and the mark is first lowered to the current
RSS through ``/proc/self/clear_refs``, so the imports' own peak cannot hide a smaller growth;
elsewhere it is ``getrusage(RUSAGE_SELF).ru_maxrss``. Methods:

- ``sdk``: ``client.media.upload(path)``, preflight checks and a streamed body;
- ``naive``: read the whole file, post it with ``aiohttp.FormData``.

Runs are interleaved (sdk, naive, sdk, naive, ...). The table shows the median time, the
throughput at that median, and the largest peak-RSS growth over the runs. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from pixverse_async import PixVerse
from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER, Paths

from ._util import ROOT, emulator_process, median, peak_rss_mb, reset_peak_rss, table

API_KEY = "bench-key"
MiB = 1024 * 1024
METHODS = ("sdk", "naive")
DEFAULT_SIZES = (5.0, 20.0, 50.0)
# An ISO-BMFF ftyp box (brand isom): what the SDK and the emulator sniff as MP4.
MP4_HEADER = (28).to_bytes(4, "big") + b"ftyp" + b"isom" + b"\x00\x00\x02\x00" + b"isomiso2avc1"


@dataclass
class Result:
    """Every run of one method at one size."""

    size_mb: float
    method: str
    seconds: list[float] = field(default_factory=list)
    rss_growth_mb: list[float] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        return median(self.seconds)

    @property
    def mb_per_second(self) -> float:
        return self.size_mb / self.median_seconds if self.median_seconds else float("inf")

    @property
    def peak_rss_growth_mb(self) -> float:
        return max(self.rss_growth_mb)


def make_file(folder: Path, size_mb: float) -> Path:
    """An MP4-looking file of ``size_mb`` MiB: the header, then random bytes."""
    size = max(int(size_mb * MiB), len(MP4_HEADER))
    path = folder / f"upload-{size_mb:g}MiB.mp4"
    with open(path, "wb") as f:
        f.write(MP4_HEADER)
        left = size - len(MP4_HEADER)
        while left > 0:
            block = os.urandom(min(MiB, left))
            f.write(block)
            left -= len(block)
    return path


def measure(method: str, base_url: str, path: Path) -> tuple[float, float]:
    """``(seconds, peak RSS growth in MiB)`` of one upload, in a fresh process."""
    command = [sys.executable, "-m", "benchmarks.bench_upload", "--worker", method]
    done = subprocess.run(
        [*command, "--url", base_url, "--file", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{method} upload of {path.name} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return float(report["seconds"]), float(report["rss_growth_mb"])


def run_benchmark(
    sizes_mb: Sequence[float] = DEFAULT_SIZES,
    repeat: int = 3,
    *,
    out: Callable[[str], None] = print,
) -> list[Result]:
    """Measure every size ``repeat`` times per method; print the table and return it."""
    results = {(s, m): Result(s, m) for s in sizes_mb for m in METHODS}
    with tempfile.TemporaryDirectory(prefix="pixverse-bench-") as tmp:
        folder = Path(tmp)
        # the emulator keeps what it receives: in our folder, removed with it
        with emulator_process(API_KEY, env={"TMPDIR": tmp}) as base_url:
            out(f"emulator at {base_url}; {repeat} run(s) per method and size")
            for size_mb in sizes_mb:
                path = make_file(folder, size_mb)
                for _ in range(repeat):
                    for method in METHODS:
                        seconds, growth = measure(method, base_url, path)
                        results[size_mb, method].seconds.append(seconds)
                        results[size_mb, method].rss_growth_mb.append(growth)
                path.unlink()
    rows = [
        [
            f"{r.size_mb:g}",
            r.method,
            f"{r.median_seconds:.3f}",
            f"{r.mb_per_second:.1f}",
            f"{r.peak_rss_growth_mb:.1f}",
        ]
        for r in results.values()
    ]
    headers = ["size MiB", "method", "median s", "MiB/s", "peak RSS growth MiB"]
    out(table(headers, rows))
    return list(results.values())


# ------------------------------------------------------------------ the measured process


async def _sdk_upload(base_url: str, path: Path) -> float:
    async with PixVerse(api_key=API_KEY, base_url=base_url, max_retries=0) as client:
        started = time.perf_counter()
        await client.media.upload(path)
        return time.perf_counter() - started


async def _naive_upload(base_url: str, path: Path) -> float:
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        data = path.read_bytes()
        form = aiohttp.FormData()
        form.add_field("file", data, filename=path.name, content_type="video/mp4")
        headers = {API_KEY_HEADER: API_KEY, TRACE_ID_HEADER: str(uuid.uuid4())}
        async with http.post(base_url + Paths.MEDIA_UPLOAD, data=form, headers=headers) as resp:
            body = await resp.json()
        elapsed = time.perf_counter() - started
    if body.get("ErrCode") != 0:
        raise RuntimeError(f"the emulator refused the upload: {body}")
    return elapsed


def _worker(method: str, base_url: str, path: Path) -> dict[str, float]:
    reset_peak_rss()  # so the peak of the imports does not hide the upload's
    baseline = peak_rss_mb()  # after the imports, before anything is read
    upload = _sdk_upload if method == "sdk" else _naive_upload
    seconds = asyncio.run(upload(base_url, path))
    return {"seconds": seconds, "rss_growth_mb": peak_rss_mb() - baseline}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_upload", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes",
        default=",".join(f"{s:g}" for s in DEFAULT_SIZES),
        help="file sizes in MiB, comma-separated (floats allowed; default 5,20,50)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per method and size")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.url, args.file)), flush=True)
        return 0
    sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or any(s <= 0 for s in sizes) or args.repeat < 1:
        parser.error("--sizes must list positive numbers and --repeat be at least 1")
    run_benchmark(sizes, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
