"""The tracer and the metric instruments, built once per provider; ``None`` while unset.

Spans:

- ``{method} {url.template}`` (CLIENT), one per HTTP attempt: the stable HTTP client
  attributes (``http.request.method``, ``server.address``, ``server.port``, ``url.full``
  without credentials (the key travels in a header, never in the URL),
  ``http.response.status_code``, ``error.type``, ``http.request.resend_count`` on a retry)
  and ``pixverse.err_code``, ``pixverse.trace_id`` (the ``Ai-trace-id`` sent),
  ``pixverse.endpoint``;
- ``generate_video {model}`` (CLIENT), one per generation job from its submit to its end,
  whatever submitted it (``videos.submit`` and the typed methods, ``videos.generate``,
  ``videos.resend``, the runner, the Temporal activity), and ``generate_image template``
  per image template job (GenAI conventions: ``gen_ai.operation.name``,
  ``gen_ai.provider.name = "pixverse"``, ``gen_ai.request.model``, ``gen_ai.response.id`` =
  the video's or image's id), with ``pixverse.quality``, ``pixverse.credits``,
  ``pixverse.polls``, ``pixverse.status`` and ``pixverse.ended_by`` (``poll``, ``webhook``,
  ``relay``, ``timeout``, ``error``, ``cancelled``, ``stopped``, ``handed_off``,
  ``dropped``); a webhook event that ends it is linked. Each ends exactly once (see
  :mod:`.jobs`);
- ``pixverse.run`` (INTERNAL), one per runner run, with its counts by outcome state and
  spend.

Metrics: ``http.client.request.duration`` (s), ``pixverse.jobs.in_flight``,
``pixverse.job.duration`` (s, by model and quality), ``pixverse.job.status_requests``,
``pixverse.credits.charged``, ``pixverse.credits.refunded``,
``pixverse.concurrency_limited`` (500044 answers).

The three sums a job changes (jobs in flight, credits charged and refunded) are observable
instruments over :class:`Tally` objects: a submit adds to a number, and the SDK reads the
totals when it collects (the exported data is the same as an ``UpDownCounter``'s or a
``Counter``'s, without the SDK's per-measure work on the submit path).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import attrs

from .._version import __version__

__all__ = ["Instruments", "Tally", "current", "url_template"]

_NAME = "pixverse_async"
_api: Any = None  # the opentelemetry modules once imported, False when not installed
_built: tuple[object, object, Instruments] | None = None
_unset: tuple[Any, Any] | None = None  # see _load
_ID_SEGMENT = re.compile(r"/[0-9]+(?=/|$)")


class Tally:
    """Running sums by attribute set, reported when metrics are collected.

    An observable instrument's callback (:meth:`observe`); :meth:`cell` gives the sum of one
    attribute set, :meth:`add` changes it (a lock: the SDK's reader collects in its thread).

    >>> tally = Tally()
    >>> cell = tally.cell(("v5", "540p"), {"gen_ai.request.model": "v5"})
    >>> tally.add(cell, 45); tally.add(cell, 5)
    >>> tally.totals()
    [(50, {'gen_ai.request.model': 'v5'})]
    """

    __slots__ = ("_cells", "_lock")

    def __init__(self) -> None:
        self._cells: dict[object, list[Any]] = {}
        self._lock = threading.Lock()

    def cell(self, key: object, attributes: dict[str, Any]) -> list[Any]:
        """The sum of ``key`` (its ``attributes`` when reported), created at 0."""
        with self._lock:
            found = self._cells.get(key)
            if found is None:
                found = self._cells[key] = [0, attributes]
            return found

    def add(self, cell: list[Any], amount: int) -> None:
        with self._lock:
            cell[0] += amount

    def totals(self) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            return [(value, attributes) for value, attributes in self._cells.values()]

    def observe(self, options: object) -> list[Any]:
        """The callback of the observable instrument: one observation per attribute set."""
        observation = _load()[1].Observation
        return [observation(value, attributes) for value, attributes in self.totals()]


@attrs.frozen
class Instruments:
    """What the SDK emits through, on the providers set when it was built; ``kinds`` caches
    what :mod:`.jobs` precomputes per kind of job (span name, attributes, sums)."""

    trace: Any  # the opentelemetry.trace module
    context: Any  # the opentelemetry.context module
    tracer: Any
    request_duration: Any
    job_duration: Any
    status_requests: Any
    concurrency_limited: Any
    jobs_in_flight: Tally = attrs.field(factory=Tally)
    credits_charged: Tally = attrs.field(factory=Tally)
    credits_refunded: Tally = attrs.field(factory=Tally)
    kinds: dict[Any, Any] = attrs.field(factory=dict)


def _load() -> Any:
    global _api, _unset
    if _api is None:
        try:
            import opentelemetry.metrics as metrics
            import opentelemetry.trace as trace
        except ImportError:
            _api = False
        else:
            _api = (trace, metrics)
            # Where the API keeps its providers (None: unset), when it reads none from the
            # environment: checked there first, the off path costs two attribute reads.
            meters = getattr(metrics, "_internal", None)
            if (
                hasattr(trace, "_TRACER_PROVIDER")
                and hasattr(meters, "_METER_PROVIDER")
                and not {"OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER"}
                & os.environ.keys()
            ):
                _unset = (trace, meters)
    return _api


def current() -> Instruments | None:
    """The instruments on the global providers; ``None`` when OpenTelemetry is not installed
    or neither a tracer nor a meter provider is set (the cost is then this check)."""
    api = _load()
    if not api:
        return None
    if (
        _unset is not None
        and _unset[0]._TRACER_PROVIDER is None
        and _unset[1]._METER_PROVIDER is None
    ):
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
    import opentelemetry.context as context

    meter = meter_provider.get_meter(_NAME, __version__)
    built = Instruments(
        trace=trace,
        context=context,
        tracer=tracer_provider.get_tracer(_NAME, __version__),
        request_duration=meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
        ),
        job_duration=meter.create_histogram(
            "pixverse.job.duration", unit="s", description="From a job's submit to its end."
        ),
        status_requests=meter.create_histogram(
            "pixverse.job.status_requests",
            unit="{request}",
            description="Status requests a job made before it ended.",
        ),
        concurrency_limited=meter.create_counter(
            "pixverse.concurrency_limited",
            unit="{response}",
            description="Answers with ErrCode 500044 (too many generations at once).",
        ),
    )
    meter.create_observable_up_down_counter(
        "pixverse.jobs.in_flight",
        [built.jobs_in_flight.observe],
        unit="{job}",
        description="Generation jobs not ended.",
    )
    meter.create_observable_counter(
        "pixverse.credits.charged",
        [built.credits_charged.observe],
        unit="{credit}",
        description="Credits charged.",
    )
    meter.create_observable_counter(
        "pixverse.credits.refunded",
        [built.credits_refunded.observe],
        unit="{credit}",
        description="Credits refunded.",
    )
    _built = (tracer_provider, meter_provider, built)
    return built


def url_template(path: str) -> str:
    """``path`` with its numeric segments as ``{id}`` (a span name of low cardinality).

    >>> url_template("/openapi/v2/video/result/300000000000001")
    '/openapi/v2/video/result/{id}'
    """
    return _ID_SEGMENT.sub("/{id}", path)
