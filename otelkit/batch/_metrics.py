"""Self-metrics of the smart batcher through the OpenTelemetry metrics API.

The per-span hot path never touches an instrument: the processor counts locally and the
observable instruments here read its ``stats()`` when a metric reader collects. Only the
export-latency histogram is recorded directly, once per export call.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv._incubating.metrics.otel_metrics import (
    OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
    OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY,
    OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

__all__ = ["BatchMetrics", "COMPONENT_TYPE", "OUTCOMES"]

COMPONENT_TYPE = "otelkit_smart_batching_span_processor"
"""``otel.component.type`` of the processor (the SDK's is ``batching_span_processor``)."""

OUTCOMES: dict[str, str | None] = {
    "spans_exported": None,
    "spans_failed": "export_failed",
    "dropped_queue_full": "queue_full",
    "dropped_shutdown": "already_shutdown",
}
"""stats() key -> ``error.type`` of ``otel.sdk.processor.span.processed`` (None = success).
``queue_full`` and ``already_shutdown`` are the SDK's values."""

_names = itertools.count()


class BatchMetrics:
    """Instruments of one processor; callbacks hold it weakly so it can be collected.

    Args:
        stats: the processor's ``stats`` bound method (held through a weak reference).
        meter_provider: where to create instruments; default the global one.
    """

    def __init__(self, stats: Callable[[], dict[str, Any]], meter_provider: MeterProvider | None = None) -> None:
        self._stats_ref = weakref.WeakMethod(stats)
        provider = meter_provider or metrics.get_meter_provider()
        meter = provider.get_meter("otelkit.batch")
        self._attrs = {OTEL_COMPONENT_TYPE: COMPONENT_TYPE, OTEL_COMPONENT_NAME: f"{COMPONENT_TYPE}/{next(_names)}"}
        meter.create_observable_up_down_counter(
            OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE, callbacks=[self._gauge("queue_size")], unit="{span}",
            description="Spans waiting in the queue of the smart batch processor.",
        )
        meter.create_observable_up_down_counter(
            OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY, callbacks=[self._gauge("queue_capacity")], unit="{span}",
            description="Queue capacity of the smart batch processor.",
        )
        meter.create_observable_counter(
            OTEL_SDK_PROCESSOR_SPAN_PROCESSED, callbacks=[self._processed], unit="{span}",
            description="Spans that reached a final outcome; error.type says why a span was not exported.",
        )
        meter.create_observable_gauge(
            "otelkit.batch.target_size", callbacks=[self._gauge("target_batch")], unit="{span}",
            description="Current adaptive target batch size.",
        )
        meter.create_observable_gauge(
            "otelkit.batch.target_wait", callbacks=[self._gauge("target_wait_ms", 1e-3)], unit="s",
            description="Current adaptive flush wait.",
        )
        self._latency = meter.create_histogram(
            "otelkit.batch.export.duration", unit="s", description="Duration of one export() call."
        )

    def record_export(self, seconds: float, ok: bool) -> None:
        """Record one export call's duration (once per batch, never per span)."""
        attrs = self._attrs if ok else {**self._attrs, ERROR_TYPE: "export_failed"}
        self._latency.record(seconds, attrs)

    def _snapshot(self) -> dict[str, Any] | None:
        stats = self._stats_ref()
        return stats() if stats is not None else None

    def _gauge(self, key: str, scale: float = 1.0) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            snap = self._snapshot()
            return [] if snap is None else [Observation(snap[key] * scale, self._attrs)]

        return callback

    def _processed(self, _options: CallbackOptions) -> Iterable[Observation]:
        snap = self._snapshot()
        if snap is None:
            return []
        out = []
        for key, error in OUTCOMES.items():
            attrs = self._attrs if error is None else {**self._attrs, ERROR_TYPE: error}
            out.append(Observation(snap[key], attrs))
        return out
