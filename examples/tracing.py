"""Tracing set-up shared by the example servers: one environment variable picks the pipeline.

``OTELKIT_EXAMPLE_TRACING`` selects what an example server runs with:

* ``otelkit`` (default): the otelkit pipeline from ``OTEL_*``/``OTELKIT_*`` variables
  (``otelkit.configure()``; when the server runs under ``opentelemetry-instrument`` with
  ``OTEL_PYTHON_CONFIGURATOR=otelkit`` the pipeline built there is reused) and the otelkit
  ASGI middleware (contrib's middleware without per-message spans until it is available).
* ``stock``: what a stock SDK user gets from the same variables - the SDK's
  ``TracerProvider`` (sampler from ``OTEL_TRACES_SAMPLER``), ``BatchSpanProcessor`` and the
  stock OTLP/HTTP exporter (``OTEL_EXPORTER_OTLP_TRACES_*``), with contrib's
  ``OpenTelemetryMiddleware`` at its defaults.
* ``fastotel``: as ``stock``, with the Rust-backed ``fastotel.OTLPSpanProcessor`` (reading
  the same ``OTEL_EXPORTER_OTLP_TRACES_*`` variables) in place of ``BatchSpanProcessor`` +
  ``OTLPSpanExporter``.
* ``off``: no tracing at all (the benchmark baseline).

Every mode counts the spans the application recorded with :class:`SpanCounter`, so the
demo can compute what was lost between the application and the receiver.

With ``OTEL_METRICS_EXPORTER=otlp`` the server also exports its metrics (otelkit's
self-metrics among them) over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``, every
``OTEL_METRIC_EXPORT_INTERVAL`` ms, as the SDK's auto-configuration would.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from examples import settings

__all__ = ["SpanCounter", "Tracing", "setup_tracing"]

EXCLUDED_PATHS = ("/health", "/_otelkit/stats", "/_otelkit/flush")
"""Paths no example server traces (health checks and the demo's own polling)."""


class SpanCounter(SpanProcessor):
    """Counts ended recording spans, how many of them were sampled (to be exported), and the
    traces of sampled local roots (no parent, or a remote one): the traces the head sampler
    kept. A trace with two local roots (the live-room's ``room message`` and its Kafka
    ``process`` span, whose parent came back through Kafka) counts once, as long as its
    trace ID is among the last :data:`SEEN_TRACES` counted."""

    SEEN_TRACES = 65_536

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._created = 0
        self._sampled = 0
        self._roots = 0
        self._seen: OrderedDict[int, None] = OrderedDict()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        ctx = span.context
        sampled = ctx is not None and ctx.trace_flags.sampled
        root = span.parent is None or span.parent.is_remote
        with self._lock:
            self._created += 1
            if sampled:
                self._sampled += 1
                if root and ctx.trace_id not in self._seen:
                    self._roots += 1
                    self._seen[ctx.trace_id] = None
                    if len(self._seen) > self.SEEN_TRACES:
                        self._seen.popitem(last=False)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"spans_created": self._created, "spans_sampled": self._sampled, "roots_sampled": self._roots}


class Tracing:
    """The tracing an example server runs with: provider, counter and ASGI wrapping."""

    def __init__(
        self, mode: str, provider: TracerProvider | None, pipeline: Any = None, part_stats: Any = None
    ) -> None:
        self.mode = mode
        self.provider = provider
        self.pipeline = pipeline
        self.part_stats = part_stats
        """Callable returning stats in the pipeline's shape, for a pipeline otelkit did not build."""
        self.counter = SpanCounter()
        self.middleware = "none"
        if provider is not None:
            provider.add_span_processor(self.counter)

    def tracer(self, name: str) -> trace.Tracer:
        if self.provider is None:
            return trace.NoOpTracer()
        return self.provider.get_tracer(name)

    def wrap_asgi(self, app: Any) -> Any:
        """``app`` behind the tracing middleware of this mode (unchanged when off)."""
        if self.provider is None:
            return app
        if self.mode == "otelkit":
            try:
                from otelkit import ASGITracingMiddleware
            except (ImportError, AttributeError):
                pass
            else:
                self.middleware = "otelkit"
                return ASGITracingMiddleware(app, excluded_paths=list(EXCLUDED_PATHS), tracer_provider=self.provider)
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        self.middleware = "contrib"
        # The stock comparison keeps contrib's defaults (internal receive/send spans); the
        # otelkit fallback drops them, as the otelkit middleware does.
        exclude: list[Literal["receive", "send"]] | None = ["receive", "send"] if self.mode == "otelkit" else None
        return OpenTelemetryMiddleware(
            app, excluded_urls=",".join(EXCLUDED_PATHS), tracer_provider=self.provider, exclude_spans=exclude
        )

    def stats(self) -> dict[str, Any]:
        """Pipeline ``stats()`` (otelkit mode) plus span counts and process CPU seconds."""
        out: dict[str, Any] = {}
        if self.pipeline is not None:
            out.update(self.pipeline.stats())
        elif self.part_stats is not None:
            out.update(self.part_stats())
        out.update(self.counter.stats())
        out.update(
            mode=self.mode,
            middleware=self.middleware,
            pid=os.getpid(),
            cpu_seconds=time.process_time(),
        )
        return out

    def flush(self, timeout_millis: int = 10000) -> bool:
        if self.provider is None:
            return True
        return bool(self.provider.force_flush(timeout_millis))

    def shutdown(self) -> None:
        if self.pipeline is not None:
            self.pipeline.shutdown()
        elif self.provider is not None:
            self.provider.shutdown()


def setup_tracing(service_name: str, environ: Mapping[str, str] | None = None) -> Tracing:
    """Build the tracing selected by ``OTELKIT_EXAMPLE_TRACING`` for ``service_name``.

    ``OTEL_SERVICE_NAME`` wins over ``service_name`` when set.
    """
    env = os.environ if environ is None else environ
    mode = settings.OTELKIT_EXAMPLE_TRACING.get(env)
    if mode == "off":
        return Tracing(mode, None)
    name = env.get("OTEL_SERVICE_NAME") or service_name
    _metrics_from_env(name, env)
    if mode == "stock":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
        tracing = Tracing(mode, provider)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        return tracing
    if mode == "fastotel":
        return _fastotel_tracing(name)
    import otelkit

    pipeline = otelkit.current_pipeline()
    if pipeline is None:
        pipeline = otelkit.configure(service_name=name, environ=env)
    return Tracing(mode, pipeline.provider, pipeline)


def _metrics_from_env(name: str, env: Mapping[str, str]) -> None:
    """A global meter provider exporting over OTLP/HTTP when ``OTEL_METRICS_EXPORTER=otlp``
    (flushed and shut down at exit by the SDK); nothing otherwise."""
    if env.get("OTEL_METRICS_EXPORTER", "none").strip() != "otlp":
        return
    from opentelemetry import metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    exporter = OTLPMetricExporter(endpoint=env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or None)
    reader = PeriodicExportingMetricReader(exporter)
    metrics.set_meter_provider(MeterProvider(resource=Resource.create({SERVICE_NAME: name}), metric_readers=[reader]))


def _fastotel_tracing(name: str) -> Tracing:
    """The stock provider with ``fastotel.OTLPSpanProcessor``; its drop counters as the
    batch processor's and exporter's stats (it counts no exported spans itself)."""
    from fastotel import OTLPSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    processor = OTLPSpanProcessor()
    counters = processor._native  # fastotel's counters live on its native half

    def stats() -> dict[str, Any]:
        return {
            "processor0": {"dropped_queue_full": counters.dropped_spans()},
            "exporter0": {"spans_failed": counters.failed_spans(), "spans_rejected": counters.rejected_spans()},
        }

    tracing = Tracing("fastotel", provider, part_stats=stats)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return tracing
