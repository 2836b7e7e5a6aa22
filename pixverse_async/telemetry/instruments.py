"""The tracer and the metric instruments, built once per provider; ``None`` while unset.

Spans:

- ``{method} {url.template}`` (CLIENT), one per HTTP attempt: the stable HTTP client
  attributes (``http.request.method``, ``server.address``, ``server.port``, ``url.full``
  without credentials (the key travels in a header, never in the URL),
  ``http.response.status_code``, ``error.type``, ``http.request.resend_count`` on a retry)
  and ``pixverse.err_code``, ``pixverse.trace_id`` (the ``Ai-trace-id`` sent),
  ``pixverse.endpoint``;
- ``generate_video {model}`` (CLIENT), one per generation job from its submit to its end
  (GenAI conventions: ``gen_ai.operation.name``, ``gen_ai.provider.name = "pixverse"``,
  ``gen_ai.request.model``, ``gen_ai.response.id`` = the video id), with
  ``pixverse.credits``, ``pixverse.polls`` and ``pixverse.ended_by`` (``poll``, ``webhook``,
  ``relay``, ``timeout``, ``error``); a webhook event that ends it is linked;
- ``pixverse.run`` (INTERNAL), one per runner run, with its counts by outcome state and
  spend.

Metrics: ``http.client.request.duration`` (s), ``pixverse.jobs.in_flight``,
``pixverse.job.duration`` (s, by model and quality), ``pixverse.job.status_requests``,
``pixverse.credits.charged``, ``pixverse.credits.refunded``,
``pixverse.concurrency_limited`` (500044 answers).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from .._version import __version__

__all__ = ["Instruments", "current", "url_template"]

_NAME = "pixverse_async"
_api: Any = None  # the opentelemetry modules once imported, False when not installed
_built: tuple[object, object, Instruments] | None = None
_ID_SEGMENT = re.compile(r"/[0-9]+(?=/|$)")


@attrs.frozen
class Instruments:
    """What the SDK emits through, on the providers set when it was built."""

    trace: Any  # the opentelemetry.trace module
    tracer: Any
    request_duration: Any
    jobs_in_flight: Any
    job_duration: Any
    status_requests: Any
    credits_charged: Any
    credits_refunded: Any
    concurrency_limited: Any


def _load() -> Any:
    global _api
    if _api is None:
        try:
            import opentelemetry.metrics as metrics
            import opentelemetry.trace as trace
        except ImportError:
            _api = False
        else:
            _api = (trace, metrics)
    return _api


def current() -> Instruments | None:
    """The instruments on the global providers; ``None`` when OpenTelemetry is not installed
    or neither a tracer nor a meter provider is set (the cost is then this check)."""
    api = _load()
    if not api:
        return None
    trace, metrics = api
    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    global _built
    if _built is not None and _built[0] is tracer_provider and _built[1] is meter_provider:
        return _built[2]
    # the API's stand-ins while no provider is set (the meter's has no public name)
    unset_meter = getattr(metrics._internal, "_ProxyMeterProvider", ())
    if isinstance(tracer_provider, trace.ProxyTracerProvider) and isinstance(
        meter_provider, unset_meter
    ):
        return None
    meter = meter_provider.get_meter(_NAME, __version__)
    built = Instruments(
        trace=trace,
        tracer=tracer_provider.get_tracer(_NAME, __version__),
        request_duration=meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
        ),
        jobs_in_flight=meter.create_up_down_counter(
            "pixverse.jobs.in_flight", unit="{job}", description="Generation jobs not ended."
        ),
        job_duration=meter.create_histogram(
            "pixverse.job.duration", unit="s", description="From a job's submit to its end."
        ),
        status_requests=meter.create_histogram(
            "pixverse.job.status_requests",
            unit="{request}",
            description="Status requests a job made before it ended.",
        ),
        credits_charged=meter.create_counter(
            "pixverse.credits.charged", unit="{credit}", description="Credits charged."
        ),
        credits_refunded=meter.create_counter(
            "pixverse.credits.refunded", unit="{credit}", description="Credits refunded."
        ),
        concurrency_limited=meter.create_counter(
            "pixverse.concurrency_limited",
            unit="{response}",
            description="Answers with ErrCode 500044 (too many generations at once).",
        ),
    )
    _built = (tracer_provider, meter_provider, built)
    return built


def url_template(path: str) -> str:
    """``path`` with its numeric segments as ``{id}`` (a span name of low cardinality).

    >>> url_template("/openapi/v2/video/result/300000000000001")
    '/openapi/v2/video/result/{id}'
    """
    return _ID_SEGMENT.sub("/{id}", path)
