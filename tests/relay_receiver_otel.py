""":mod:`tests.relay_receiver` with the OpenTelemetry SDK on: after the receiver stops, it
prints ``delivery VIDEO_ID STATUS TRACE_ID SPAN_ID`` (hex) for every delivery span it made."""

from __future__ import annotations

import asyncio
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .relay_receiver import main

if __name__ == "__main__":
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    asyncio.run(main(*sys.argv[1:4]))
    for span in spans.get_finished_spans():
        if span.name == "pixverse.webhook_delivery" and span.attributes is not None:
            video_id, status = (
                span.attributes["pixverse.video_id"],
                span.attributes["pixverse.status"],
            )
            print("delivery", video_id, status, f"{span.context.trace_id:032x}",
                  f"{span.context.span_id:016x}", flush=True)  # fmt: skip
    provider.shutdown()
