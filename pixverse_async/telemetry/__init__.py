"""OpenTelemetry traces and metrics of the SDK, optional and free when unused.

``pip install 'pixverse-async[otel]'`` (``opentelemetry-api`` only); you bring the SDK and
its exporters. The API is imported on the first call that could emit, and nothing is built
while no tracer or meter provider is set (``current()`` is then ``None`` and the SDK's code
skips every span and measure). See :mod:`.instruments` for what is emitted.

Example::

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)   # from now on every call is a span
"""

from __future__ import annotations

from .instruments import Instruments, current, url_template

__all__ = ["Instruments", "current", "url_template"]
