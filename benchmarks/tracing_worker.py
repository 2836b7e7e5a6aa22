"""One timed run for :mod:`benchmarks.bench_tracing`, in a process of its own.

``python benchmarks/tracing_worker.py MODE URL N CONCURRENCY`` prints the client CPU
microseconds per submit. MODE: ``aiohttp`` (hand-written, the same request), ``baseline``
(the SDK found first on PYTHONPATH: bench_tracing puts a checkout without the feature there),
``absent`` (the SDK, ``opentelemetry`` made unimportable), ``idle`` (the SDK, the API
importable but no provider set), ``on`` (SDK tracer and meter providers, spans through a
``BatchSpanProcessor`` to an exporter that drops them), and the OpenTelemetry SDK's own floor
under the same providers, around the SDK without the feature (PYTHONPATH as ``baseline``):
``floor`` (per submit, a bare job span started and ended around it, a bare attempt span as its
child, one histogram record: the least the issue's spans and duration metric cost) and
``floor-attrs`` (the same spans and records with the attribute sets ``on`` gives them, the job
span ended as ``on`` ends a job dropped unwaited). Run as a file, not ``-m``, so that
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


SUBMIT_PATH = "/openapi/v2/video/text/generate"


def _floor(url: str, attributes: bool) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    """What the OpenTelemetry SDK alone costs for a submit's spans and duration measure."""
    from opentelemetry import metrics, trace

    tracer = trace.get_tracer("floor")
    duration = metrics.get_meter("floor").create_histogram("http.client.request.duration", "s")
    client_kind = trace.SpanKind.CLIENT
    host, port = url.removeprefix("http://").split(":")
    job_attributes = {
        "gen_ai.operation.name": "generate_video",
        "gen_ai.provider.name": "pixverse",
        "gen_ai.request.model": "v5",
        "pixverse.quality": "540p",
    }
    shared = {"http.request.method": "POST", "server.address": host, "server.port": int(port)}

    async def around(submit: Callable[[], Awaitable[Any]]) -> Any:
        if not attributes:
            job = tracer.start_span("generate_video v5", kind=client_kind)
            context = trace.set_span_in_context(job)
            attempt = tracer.start_span("POST " + SUBMIT_PATH, context, client_kind)
            started = time.monotonic()
            result = await submit()
            attempt.end()
            duration.record(time.monotonic() - started, {}, context)
            job.end()
            return result
        job = tracer.start_span("generate_video v5", kind=client_kind, attributes=job_attributes)
        context = trace.set_span_in_context(job)
        attempt = tracer.start_span(
            "POST " + SUBMIT_PATH, context, client_kind,
            attributes={**shared, "url.full": url + SUBMIT_PATH, "url.template": SUBMIT_PATH,
                        "pixverse.trace_id": str(uuid.uuid4()), "pixverse.endpoint": SUBMIT_PATH},
        )  # fmt: skip
        started = time.monotonic()
        result = await submit()
        attempt.set_attribute("http.response.status_code", 200)
        attempt.end()
        duration.record(
            time.monotonic() - started, {**shared, "http.response.status_code": 200}, context
        )
        job.set_attributes({"gen_ai.response.id": str(result.video_id), "pixverse.credits": 45})
        job.set_attributes({"pixverse.ended_by": "dropped", "pixverse.polls": 0})
        job.end()  # as the SDK's job span ends when the job is dropped unwaited
        return result

    return around


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
    elif mode in ("on", "floor", "floor-attrs"):
        _tracing_on()
    from pixverse_async import PixVerse

    async with PixVerse(api_key=API_KEY, base_url=url) as client:

        async def submit() -> Any:
            return await client.videos.text_to_video(**FIELDS)  # type: ignore[arg-type]

        sdk_one: Callable[[], Awaitable[object]] = submit
        if mode.startswith("floor"):
            around = _floor(url, attributes=mode == "floor-attrs")

            async def sdk_one() -> object:
                return await around(submit)

        await _drive(warmup, concurrency, sdk_one)
        return await _drive(n, concurrency, sdk_one)


if __name__ == "__main__":
    mode, url, n, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(f"{asyncio.run(run(mode, url, n, concurrency)):.2f}")
