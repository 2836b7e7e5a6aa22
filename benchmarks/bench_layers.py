"""Where a submit's client CPU goes, layer by layer, against a hand-written aiohttp call.

One client process, one emulator process (instant generations, no limit). The same
text-to-video submit is made four ways, interleaved round by round:

- ``raw``: hand-written aiohttp (headers, ``json.dumps``, ``json.loads``);
- ``session``: ``client.session.request(...)`` with the same dict (headers, trace id,
  retry policy, envelope decoding);
- ``submit``: ``client.videos.submit(prebuilt_request)`` (adds ``to_json``, the typed
  ``GenerationResult`` and the ``GenerationJob``);
- ``fields``: ``client.videos.text_to_video(**fields)`` (adds building and validating the
  request object).

It reports the client's CPU time per request (``time.process_time``), the steadiest figure on a
shared machine. Run: ``python -m benchmarks.bench_layers [--n 3000 --rounds 5 --concurrency 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import aiohttp

from pixverse_async import PixVerse, TextToVideo
from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER, Paths

from ._util import emulator, median, results_section, table

API_KEY = "bench-layers-key"
FIELDS = {
    "prompt": "a paper boat on a stream", "model": "v5", "duration": 5, "quality": "540p",
    "aspect_ratio": "16:9",
}  # fmt: skip
LAYERS = ("raw", "session", "submit", "fields")


async def _cpu_per_call(n: int, concurrency: int, call: Callable[[], Awaitable[object]]) -> float:
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            await call()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / n * 1e6


async def measure(url: str, n: int, rounds: int, concurrency: int) -> dict[str, list[float]]:
    """CPU microseconds per call of every layer, one list entry per round."""
    results: dict[str, list[float]] = {layer: [] for layer in LAYERS}
    request = TextToVideo(**FIELDS)  # type: ignore[arg-type]
    async with PixVerse(api_key=API_KEY, base_url=url) as client, aiohttp.ClientSession() as http:

        async def raw() -> object:
            headers = {
                API_KEY_HEADER: API_KEY,
                TRACE_ID_HEADER: str(uuid.uuid4()),
                "Content-Type": "application/json",
            }
            data = json.dumps(FIELDS, separators=(",", ":")).encode()
            async with http.post(url + Paths.TEXT_TO_VIDEO, data=data, headers=headers) as resp:
                return json.loads(await resp.read())["Resp"]["video_id"]

        async def session() -> object:
            return await client.session.request(
                "POST", Paths.TEXT_TO_VIDEO, json_body=FIELDS, paid=True
            )

        async def submit() -> object:
            return await client.videos.submit(request)

        async def fields() -> object:
            return await client.videos.text_to_video(**FIELDS)

        calls = {"raw": raw, "session": session, "submit": submit, "fields": fields}
        for call in calls.values():  # warm up connections and caches
            await _cpu_per_call(max(50, n // 10), concurrency, call)
        for _ in range(rounds):
            for layer, call in calls.items():
                results[layer].append(await _cpu_per_call(n, concurrency, call))
    return results


def report(results: dict[str, list[float]]) -> str:
    raw = median(results["raw"])
    rows = []
    previous = raw
    for layer in LAYERS:
        cpu = median(results[layer])
        rows.append(
            [layer, f"{cpu:.1f}", f"{cpu - previous:+.1f}", f"{cpu - raw:+.1f}", f"{raw / cpu:.2f}"]
        )
        previous = cpu
    return table(["layer", "CPU us/call", "vs layer above", "vs raw", "raw/layer"], rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_layers", description=__doc__)
    parser.add_argument("--n", type=int, default=3000, help="calls per layer and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight")
    return parser


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> str:
    """Measure and print; return the Markdown section for RESULTS.md."""
    with emulator(
        API_KEY, args=("--generation-seconds", "0", "--concurrency-limit", "100000000")
    ) as emu:
        results = asyncio.run(measure(emu.url, args.n, args.rounds, args.concurrency))
    text = report(results)
    out(text)
    return results_section(
        "Submit cost by layer",
        f"`python -m benchmarks.bench_layers --n {args.n} --rounds {args.rounds} "
        f"--concurrency {args.concurrency}`: client CPU per submit, medians of interleaved "
        "rounds; each layer adds one part of the SDK on top of the one above it (see the "
        "module docstring).",
        text,
    )


def main(argv: Sequence[str] | None = None) -> int:
    run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
