"""Per-request overhead of the SDK against hand-written aiohttp and httpx clients.

Run from the repository root::

    python -m benchmarks.bench_overhead            # N = 5,000 submits, concurrency 1, 8, 64
    python -m benchmarks.bench_overhead --quick    # smaller N, fewer runs

Four measurements, each printed as a table (nothing is asserted):

1. **Submits.** ``N`` text-to-video submits at each concurrency through (a) the SDK,
   ``client.videos.text_to_video(prompt=..., model=..., ...)`` (the request object is built
   and validated from its fields on every call, as a user would call it), (b) raw aiohttp (one
   ``ClientSession``, the same headers with a fresh UUID4 trace id, the same JSON body,
   ``json.loads`` of the answer) and (c) ``httpx.AsyncClient`` with a pool sized for the
   concurrency. Runs are interleaved (A B C A B C ...) over ``--rounds`` rounds; the table shows
   the median requests/s and the ratios SDK/aiohttp and SDK/httpx, and the client's CPU time
   per request (``time.process_time()``; the steadiest figure on a shared machine). A run
   stops starting calls after ``--max-seconds`` (4 s): only the slowest client (httpx at
   high concurrency) ever reaches it, and its rate is then over the calls it made.
2. **Status polls.** ``client.videos.get(id)`` (GET, envelope check, cattrs decoding into a
   ``Video``) against a raw aiohttp GET of the same URL and ``json.loads``.
3. **Import time.** ``python -X importtime -c "import pixverse_async"`` against
   ``import aiohttp`` alone, in fresh processes, alternating; median cumulative time.
4. **Memory.** RSS growth of a client process per 1,000 idle in-flight runner jobs: the
   emulator's generations last 600 s, the poll policy waits an hour before the first poll,
   ``concurrency`` equals the job count; RSS is read (after ``gc.collect()``) before the run
   and once every job is submitted, then the run is cancelled. A second fresh process does
   the same under ``tracemalloc`` for the live Python memory per job.

The emulator (``python -m pixverse_async.emulator``, instant generations and no concurrency
limit) runs in its own process, so it does not share the client's event loop; it is a single
Python process too, so on a small machine it may be what bounds the absolute requests/s. The
ratios compare clients against the same server under the same load: when the emulator is the
bottleneck they tend to 1.0, when the client is they tend to the inverse of the CPU ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
import httpx

from pixverse_async import PixVerse, PollPolicy, TextToVideo
from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER, Paths

from ._util import ROOT, emulator, median, results_section, rss_mb, table

API_KEY = "bench-key"
FAST_EMULATOR = ("--generation-seconds", "0", "--concurrency-limit", "1000000000")
PROMPT = "a paper boat drifting down a rain-soaked street, cinematic"
FIELDS = {
    "prompt": PROMPT,
    "model": "v5",
    "duration": 5,
    "quality": "540p",
    "aspect_ratio": "16:9",
}
SUBMIT_METHODS = ("sdk", "aiohttp", "httpx")
STATUS_METHODS = ("sdk", "aiohttp")

One = Callable[[], Awaitable[object]]


@dataclass
class Rates:
    """Requests/s and client CPU per request of every run of one method at one concurrency."""

    method: str
    concurrency: int
    per_second: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return median(self.per_second)

    @property
    def median_cpu_us(self) -> float:
        return median(self.cpu_us)

    @property
    def spread(self) -> str:
        """Lowest-highest of the runs, to show the noise."""
        return f"{min(self.per_second):.0f}-{max(self.per_second):.0f}"


Run = tuple[float, float]
"""The result of one timed run: requests/s and client CPU microseconds per request."""


async def drive(n: int, concurrency: int, one: One, max_seconds: float | None = None) -> Run:
    """Call ``one()`` ``n`` times from ``concurrency`` coroutines (no new call is started
    after ``max_seconds``, when given: the rate is then over the calls made).

    Returns requests/s and this process's CPU time (user + system) per request, which is
    less disturbed than the rate by other work on the machine.
    """
    remaining = iter(range(n))
    done = 0
    started = time.perf_counter()
    deadline = started + max_seconds if max_seconds else None

    async def worker() -> None:
        nonlocal done
        for _ in remaining:
            await one()
            done += 1
            if deadline is not None and time.perf_counter() > deadline:
                return

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return done / elapsed, (time.process_time() - cpu) / done * 1e6


# ------------------------------------------------------------------------- clients per method


def _check(doc: dict[str, object]) -> object:
    if doc.get("ErrCode") != 0:
        raise RuntimeError(f"the emulator refused the call: {doc}")
    return doc["Resp"]


async def _run_submits(
    method: str, base_url: str, n: int, concurrency: int, max_seconds: float | None = None
) -> Run:
    """One timed run of ``n`` submits by ``method`` (after an untimed warm-up)."""
    warmup = max(2 * concurrency, 20)
    if method == "sdk":
        async with PixVerse(api_key=API_KEY, base_url=base_url) as client:

            async def sdk_one() -> object:
                return await client.videos.text_to_video(**FIELDS)

            await drive(warmup, concurrency, sdk_one)
            return await drive(n, concurrency, sdk_one, max_seconds)

    url = base_url + Paths.TEXT_TO_VIDEO
    if method == "aiohttp":
        async with aiohttp.ClientSession() as http:

            async def aiohttp_one() -> object:
                body = {
                    "prompt": PROMPT, "model": "v5", "duration": 5, "quality": "540p",
                    "aspect_ratio": "16:9",
                }  # fmt: skip
                headers = {
                    API_KEY_HEADER: API_KEY,
                    TRACE_ID_HEADER: str(uuid.uuid4()),
                    "Content-Type": "application/json",
                }
                data = json.dumps(body, separators=(",", ":")).encode()
                async with http.post(url, data=data, headers=headers) as resp:
                    raw = await resp.read()
                return _check(json.loads(raw))["video_id"]  # type: ignore[index]

            await drive(warmup, concurrency, aiohttp_one)
            return await drive(n, concurrency, aiohttp_one, max_seconds)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as hc:

        async def httpx_one() -> object:
            body = {
                "prompt": PROMPT, "model": "v5", "duration": 5, "quality": "540p",
                "aspect_ratio": "16:9",
            }  # fmt: skip
            headers = {
                API_KEY_HEADER: API_KEY,
                TRACE_ID_HEADER: str(uuid.uuid4()),
                "Content-Type": "application/json",
            }
            data = json.dumps(body, separators=(",", ":")).encode()
            resp = await hc.post(url, content=data, headers=headers)
            return _check(json.loads(resp.content))["video_id"]  # type: ignore[index]

        await drive(warmup, concurrency, httpx_one)
        return await drive(n, concurrency, httpx_one, max_seconds)


async def _make_video(base_url: str) -> int:
    async with PixVerse(api_key=API_KEY, base_url=base_url) as client:
        job = await client.videos.text_to_video(**FIELDS)
        return job.video_id


async def _run_status(
    method: str,
    base_url: str,
    video_id: int,
    n: int,
    concurrency: int,
    max_seconds: float | None = None,
) -> Run:
    warmup = max(2 * concurrency, 20)
    if method == "sdk":
        async with PixVerse(api_key=API_KEY, base_url=base_url) as client:

            async def sdk_one() -> object:
                return await client.videos.get(video_id)

            await drive(warmup, concurrency, sdk_one)
            return await drive(n, concurrency, sdk_one, max_seconds)

    url = base_url + Paths.VIDEO_RESULT_PREFIX + str(video_id)
    async with aiohttp.ClientSession() as http:

        async def aiohttp_one() -> object:
            headers = {API_KEY_HEADER: API_KEY, TRACE_ID_HEADER: str(uuid.uuid4())}
            async with http.get(url, headers=headers) as resp:
                raw = await resp.read()
            return _check(json.loads(raw))

        await drive(warmup, concurrency, aiohttp_one)
        return await drive(n, concurrency, aiohttp_one, max_seconds)


# ------------------------------------------------------------------------------- measurements


def _interleaved(
    methods: Sequence[str],
    concurrencies: Sequence[int],
    rounds: int,
    run: Callable[[str, str, int], Awaitable[Run]],
    *,
    setup: Callable[[str], Awaitable[None]] | None = None,
    out: Callable[[str], None] = print,
) -> dict[tuple[str, int], Rates]:
    """Every method ``rounds`` times per concurrency, interleaved; a fresh emulator per level."""
    results = {(m, c): Rates(m, c) for c in concurrencies for m in methods}
    for concurrency in concurrencies:
        with emulator(API_KEY, args=FAST_EMULATOR) as emu:
            if setup is not None:
                asyncio.run(setup(emu.url))
            for round_number in range(rounds):
                for method in methods:
                    rate, cpu_us = asyncio.run(run(method, emu.url, concurrency))
                    results[method, concurrency].per_second.append(rate)
                    results[method, concurrency].cpu_us.append(cpu_us)
                    out(
                        f"  concurrency {concurrency:>3}  round {round_number + 1}  "
                        f"{method:<8} {rate:8.0f} req/s {cpu_us:6.0f} us CPU/req"
                    )
    return results


def comparison_table(
    results: dict[tuple[str, int], Rates], methods: Sequence[str], concurrencies: Sequence[int]
) -> str:
    """Median requests/s and client CPU per request of each method; the first is the SDK."""
    sdk_name, others = methods[0], methods[1:]
    rows = []
    for c in concurrencies:
        sdk = results[sdk_name, c]
        row = [str(c)]
        row += [f"{results[m, c].median:.0f}" for m in methods]
        row += [f"{sdk.median / results[m, c].median:.2f}" for m in others]
        row += [f"{results[m, c].median_cpu_us:.0f}" for m in methods]
        row += [f"{sdk.median_cpu_us / results[m, c].median_cpu_us:.2f}" for m in others]
        row.append(" / ".join(results[m, c].spread for m in methods))
        rows.append(row)
    headers = ["concurrency"]
    headers += [f"{m} req/s" for m in methods]
    headers += [f"{sdk_name}/{m}" for m in others]
    headers += [f"{m} CPU us/req" for m in methods]
    headers += [f"CPU {sdk_name}/{m}" for m in others]
    headers.append(f"req/s range ({' / '.join(methods)})")
    return table(headers, rows)


# Import time ---------------------------------------------------------------------------------


def _importtime(module: str) -> tuple[float, dict[str, float]]:
    """Cumulative import time of ``module`` (ms) in a fresh process, and the self time (ms)
    of every top-level package imported for it (``pixverse_async`` modules one by one)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0.0
    by_package: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        self_us, cumulative_us, name = int(parts[0]), int(parts[1]), parts[2].strip()
        package = name if name.startswith("pixverse_async.") else name.split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + self_us / 1000
        if name == module:
            total = cumulative_us / 1000
    return total, by_package


def import_times(runs: int, out: Callable[[str], None] = print) -> str:
    """Median cumulative import time of pixverse_async and of aiohttp alone."""
    modules = ("pixverse_async", "aiohttp")
    totals: dict[str, list[float]] = {m: [] for m in modules}
    packages: dict[str, list[dict[str, float]]] = {m: [] for m in modules}
    _importtime("pixverse_async")  # warm the file-system cache and the .pyc files
    for _ in range(runs):
        for module in modules:
            total, by_package = _importtime(module)
            totals[module].append(total)
            packages[module].append(by_package)
    sdk_ms, aiohttp_ms = median(totals["pixverse_async"]), median(totals["aiohttp"])
    rows = [
        ["import aiohttp", f"{aiohttp_ms:.0f}", f"{min(totals['aiohttp']):.0f}", "1.00"],
        [
            "import pixverse_async",
            f"{sdk_ms:.0f}",
            f"{min(totals['pixverse_async']):.0f}",
            f"{sdk_ms / aiohttp_ms:.2f}",
        ],
    ]
    text = table(["statement", "median ms", "best ms", "x aiohttp"], rows)
    # Where the extra time goes: modules and packages beyond what `import aiohttp` loads.
    names = set().union(*packages["pixverse_async"])
    own, others = [], []
    for name in names:
        sdk_self = median([p.get(name, 0.0) for p in packages["pixverse_async"]])
        base_self = median([p.get(name, 0.0) for p in packages["aiohttp"]])
        if sdk_self - base_self > 0.5:
            (own if name.startswith("pixverse_async") else others).append(
                (sdk_self - base_self, name)
            )
    for title, found in (("SDK modules", own), ("other packages", others)):
        found.sort(reverse=True)
        if found:
            listing = ", ".join(f"{name} {ms:.1f}" for ms, name in found[:8])
            text += f"\nself ms beyond `import aiohttp`, {title} (median): {listing}"
    if own:
        text += f"\nall SDK modules together: {sum(ms for ms, _ in own):.0f} ms"
    out(text)
    return text


# Memory --------------------------------------------------------------------------------------


def _memory_run(url: str, jobs: int, traced: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.bench_overhead", "--memory-worker"]
    command += ["--url", url, "--memory-jobs", str(jobs)]
    done = subprocess.run(
        [*command, *(["--traced"] if traced else [])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory worker failed:\n{done.stderr[-3000:]}")
    report: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def memory_per_1000_jobs(jobs: int, out: Callable[[str], None] = print) -> str:
    """RSS growth of a fresh client process per 1,000 idle in-flight runner jobs, and the
    live Python memory (tracemalloc, in a second fresh process) they hold."""
    args = ("--generation-seconds", "600", "--concurrency-limit", "1000000000")
    with emulator(API_KEY, args=args) as emu:
        report = _memory_run(emu.url, jobs, traced=False)
        traced = _memory_run(emu.url, jobs, traced=True)
    growth = report["after_mb"] - report["before_mb"]
    heap = traced["after_mb"] - traced["before_mb"]
    rows = [
        [
            f"{jobs:,}",
            f"{report['before_mb']:.1f}",
            f"{report['after_mb']:.1f}",
            f"{growth / jobs * 1000:.2f}",
            f"{heap / jobs * 1000:.2f}",
            f"{heap * 1024 * 1024 / jobs:,.0f}",
            f"{report['submit_seconds']:.1f}",
        ]
    ]
    headers = [
        "jobs in flight", "RSS before MiB", "RSS in flight MiB", "RSS MiB per 1,000",
        "Python heap MiB per 1,000", "heap bytes per job", "time to submit all s",
    ]  # fmt: skip
    text = table(headers, rows)
    out(text)
    return text


async def _memory_worker(base_url: str, jobs: int, traced: bool) -> dict[str, float]:
    """RSS, or with ``traced`` the memory tracemalloc sees, before and with ``jobs`` idle
    jobs in flight (in MiB)."""
    requests = [TextToVideo(**{**FIELDS, "prompt": f"{PROMPT} #{i}"}) for i in range(jobs)]
    idle = PollPolicy(first_delay=3600, interval=3600, jitter=0, timeout=None)

    def measure() -> float:
        gc.collect()
        if traced:
            return tracemalloc.get_traced_memory()[0] / (1024 * 1024)
        return rss_mb()

    async with PixVerse(api_key=API_KEY, base_url=base_url, poll=idle) as client:
        await client.account.balance()  # the connection pool and the session exist now
        if traced:
            tracemalloc.start()
        before = measure()
        started = time.perf_counter()
        stream = client.runner(concurrency=jobs).run(requests)
        async with stream:
            first = asyncio.ensure_future(stream.__anext__())  # starts the run
            while stream.progress.running < jobs:
                if first.done():  # an outcome (or an error) before everything is in flight
                    raise RuntimeError(f"a job ended early: {first.result()}")
                await asyncio.sleep(0.05)
            submit_seconds = time.perf_counter() - started
            after = measure()
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
    return {
        "jobs": jobs,
        "before_mb": before,
        "after_mb": after,
        "submit_seconds": submit_seconds,
    }


# ---------------------------------------------------------------------------------- the report


@dataclass
class Settings:
    n: int
    concurrencies: tuple[int, ...]
    rounds: int
    status_n: int
    import_runs: int
    memory_jobs: int
    max_seconds: float


def settings_from(args: argparse.Namespace) -> Settings:
    quick = args.quick
    return Settings(
        n=args.n or (1000 if quick else 5000),
        concurrencies=tuple(int(c) for c in args.concurrency.split(",")),
        rounds=args.rounds or (2 if quick else 3),
        status_n=args.status_n or (1000 if quick else 3000),
        import_runs=args.import_runs or (3 if quick else 7),
        memory_jobs=args.memory_jobs or (1000 if quick else 5000),
        max_seconds=args.max_seconds,
    )


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> str:
    """Run every measurement; print progress and tables; return the Markdown report."""
    s = settings_from(args)
    sections: list[str] = []

    def section(title: str, intro: str, body: str) -> None:
        sections.append(results_section(title, intro, body))

    out(f"submits: N={s.n}, concurrency {s.concurrencies}, {s.rounds} interleaved rounds")

    async def submits(method: str, url: str, concurrency: int) -> Run:
        return await _run_submits(method, url, s.n, concurrency, s.max_seconds)

    results = _interleaved(SUBMIT_METHODS, s.concurrencies, s.rounds, submits, out=out)
    text = comparison_table(results, SUBMIT_METHODS, s.concurrencies)
    out(text)
    section(
        "Submit overhead",
        f"{s.n:,} text-to-video submits per run (a run stops starting calls after "
        f"{s.max_seconds:g} s), {s.rounds} interleaved rounds, medians. SDK = "
        "`client.videos.text_to_video(**fields)` (builds and validates the request, JSON, "
        "retries, envelope and `GenerationResult` decoding, a `GenerationJob`); aiohttp / "
        "httpx = hand-written calls with the same headers and body. `CPU us/req` is the "
        "client process's CPU time per request. The emulator is one Python process on the "
        "same 2 cores: it bounds the absolute figures; the ratios compare the clients "
        "against the same server.",
        text,
    )

    out(f"status polls: N={s.status_n}, concurrency {s.concurrencies}")
    video: dict[str, int] = {}

    async def make(url: str) -> None:
        video["id"] = await _make_video(url)

    async def polls(method: str, url: str, concurrency: int) -> Run:
        return await _run_status(method, url, video["id"], s.status_n, concurrency, s.max_seconds)

    results = _interleaved(STATUS_METHODS, s.concurrencies, s.rounds, polls, setup=make, out=out)
    text = comparison_table(results, STATUS_METHODS, s.concurrencies)
    out(text)
    section(
        "Status polling and decoding",
        f"{s.status_n:,} `GET /openapi/v2/video/result/{{id}}` per run, {s.rounds} "
        "interleaved rounds, medians: `client.videos.get(id)` (envelope check, decoding "
        "into `Video`) against a raw aiohttp GET plus `json.loads`.",
        text,
    )

    out(f"import time: {s.import_runs} alternating runs each")
    text = import_times(s.import_runs, out=out)
    section(
        "Import time",
        f"`python -X importtime -c 'import X'` in fresh processes, {s.import_runs} "
        "alternating runs each; cumulative time of the top-level module.",
        text,
    )

    out(f"memory: {s.memory_jobs} idle in-flight jobs")
    text = memory_per_1000_jobs(s.memory_jobs, out=out)
    section(
        "Memory per in-flight job",
        f"A fresh client process runs {s.memory_jobs:,} jobs at concurrency {s.memory_jobs:,} "
        "against generations that last 600 s, with a poll policy that waits an hour (no polls "
        "while measured). RSS after `gc.collect()` before the run and once every job is "
        "submitted (includes the in-memory journal and whatever the allocator kept from the "
        "submit burst); then the run is cancelled. The Python heap column is the same "
        "measurement in a second fresh process under `tracemalloc` (live Python objects "
        "only: not SQLite's own memory, not allocator slack): the steadier figure.",
        text,
    )
    return "\n".join(sections)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_overhead", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smaller N and fewer runs")
    parser.add_argument("--n", type=int, default=0, help="submits per run (default 5000)")
    parser.add_argument("--concurrency", default="1,8,64", help="comma-separated levels")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default 3)")
    parser.add_argument("--status-n", type=int, default=0, help="status polls per run")
    parser.add_argument("--import-runs", type=int, default=0, help="import runs per module")
    parser.add_argument("--memory-jobs", type=int, default=0, help="in-flight jobs (5000)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=4.0,
        help="stop starting calls after this long in one run (0: never; default 4)",
    )
    parser.add_argument("--memory-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.memory_worker:
        report = asyncio.run(_memory_worker(args.url, args.memory_jobs, args.traced))
        print(json.dumps(report), flush=True)
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
