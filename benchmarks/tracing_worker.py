"""One timed run for :mod:`benchmarks.bench_tracing`, in a process of its own.

``python benchmarks/tracing_worker.py MODE URL N CONCURRENCY`` prints the client CPU
microseconds per submit. MODE: ``aiohttp`` (hand-written, the same request), ``baseline``
(the SDK found first on PYTHONPATH: bench_tracing puts a checkout without the feature there),
``absent`` (the SDK, ``opentelemetry`` made unimportable), ``idle`` (the SDK, the API
importable but no provider set), ``on`` (SDK tracer and meter providers, spans through a
``BatchSpanProcessor`` to an exporter that drops them). Run as a file, not ``-m``, so that
the repository root is not put first on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

API_KEY = "bench-key"
FIELDS = {
    "prompt": "a paper boat drifting down a rain-soaked street, cinematic",
    "model": "v5",
    "duration": 5,
    "quality": "540p",
    "aspect_ratio": "16:9",
}


class _NoOpenTelemetry(importlib.abc.MetaPathFinder):
    """Makes ``import opentelemetry`` fail, as when the package is not installed."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError(f"No module named {name!r}")
        return None


def _tracing_on() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Drop(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


async def _drive(n: int, concurrency: int, one: Callable[[], Awaitable[object]]) -> float:
    remaining = iter(range(n))

    async def worker() -> None:
        for _ in remaining:
            await one()

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - cpu) / n * 1e6


async def run(mode: str, url: str, n: int, concurrency: int) -> float:
    warmup = max(2 * concurrency, 50)
    if mode == "aiohttp":
        import aiohttp

        async with aiohttp.ClientSession() as http:

            async def raw_one() -> object:
                headers = {
                    "API-KEY": API_KEY,
                    "Ai-trace-id": str(uuid.uuid4()),
                    "Content-Type": "application/json",
                }
                data = json.dumps(FIELDS, separators=(",", ":")).encode()
                target = url + "/openapi/v2/video/text/generate"
                async with http.post(target, data=data, headers=headers) as resp:
                    doc = json.loads(await resp.read())
                if doc.get("ErrCode") != 0:
                    raise RuntimeError(doc)
                return doc["Resp"]["video_id"]

            await _drive(warmup, concurrency, raw_one)
            return await _drive(n, concurrency, raw_one)
    if mode == "absent":
        sys.meta_path.insert(0, _NoOpenTelemetry())
    elif mode == "on":
        _tracing_on()
    from pixverse_async import PixVerse

    async with PixVerse(api_key=API_KEY, base_url=url) as client:

        async def sdk_one() -> object:
            return await client.videos.text_to_video(**FIELDS)  # type: ignore[arg-type]

        await _drive(warmup, concurrency, sdk_one)
        return await _drive(n, concurrency, sdk_one)


if __name__ == "__main__":
    mode, url, n, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(f"{asyncio.run(run(mode, url, n, concurrency)):.2f}")
