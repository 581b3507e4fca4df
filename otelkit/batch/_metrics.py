"""Self-metrics of the smart batcher through the OpenTelemetry metrics API.

The stock ones first, with the SDK's names, units and attributes and counted at the points
the SDK's ``BatchSpanProcessor`` counts them (``opentelemetry.sdk._shared_internal``):

* ``otel.sdk.processor.span.processed`` (counter, ``{span}``): without ``error.type`` when a
  span is handed to ``export()`` (never delayed to the export's outcome); ``queue_full`` for a
  full queue and ``already_shutdown`` after shutdown, as the SDK; otelkit adds
  ``encode_failed`` (a span that could not be encoded at ``on_end``, exporters with
  ``export_encoded`` only);
* ``otel.sdk.processor.span.queue.size`` / ``.queue.capacity`` (up-down counters, ``{span}``).

Every point carries ``otel.component.type=batching_span_processor`` (the stock value: the
smart batcher *is* a batching span processor, so a dashboard filtering on it sees otelkit) and
``otel.component.name=batching_span_processor/otelkit-N`` (never equal to a stock
``batching_span_processor/N``). otelkit's additions, same attributes: ``otelkit.batch.received``,
``otelkit.batch.queue.bytes``, ``otelkit.batch.size``, ``otelkit.batch.target_size``,
``otelkit.batch.target_wait``, ``otelkit.batch.export.duration``.

The per-span hot path never touches an instrument: the observable instruments read the
processor's ``stats()`` when a reader collects; the two histograms are recorded once per
export call.
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
    OtelComponentTypeValues,
)
from opentelemetry.semconv._incubating.metrics.otel_metrics import (
    OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
    OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY,
    OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

__all__ = ["BatchMetrics", "COMPONENT_TYPE", "OUTCOMES"]

COMPONENT_TYPE = OtelComponentTypeValues.BATCHING_SPAN_PROCESSOR.value
"""``otel.component.type`` of the processor: the SDK's own value (``batching_span_processor``)."""

OUTCOMES: dict[str, str | None] = {
    "spans_submitted": None,
    "dropped_queue_full": "queue_full",
    "dropped_shutdown": "already_shutdown",
    "encode_failed": "encode_failed",
}
"""stats() key -> ``error.type`` of ``otel.sdk.processor.span.processed`` (None = processed).
``queue_full`` and ``already_shutdown`` are the SDK's values; an error series is reported
from its first span on (as the SDK's synchronous counter), never as a 0."""

_names = itertools.count()

# Stock descriptions (opentelemetry.semconv), so the two processors' metrics are identical.
_QUEUE_SIZE_DOC = "The number of spans in the queue of a given instance of an SDK span processor."
_CAPACITY_DOC = "The maximum number of spans the queue of a given instance of an SDK span processor can hold."
_PROCESSED_DOC = "The number of spans for which the processing has finished, either successful or failed."


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
        self._attrs = {OTEL_COMPONENT_TYPE: COMPONENT_TYPE, OTEL_COMPONENT_NAME: f"{COMPONENT_TYPE}/otelkit-{next(_names)}"}
        up_down = meter.create_observable_up_down_counter
        up_down(OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE, callbacks=[self._gauge("queue_size")], unit="{span}",
                description=_QUEUE_SIZE_DOC)
        up_down(OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY, callbacks=[self._gauge("queue_capacity")], unit="{span}",
                description=_CAPACITY_DOC)
        meter.create_observable_counter(OTEL_SDK_PROCESSOR_SPAN_PROCESSED, callbacks=[self._processed],
                                        unit="{span}", description=_PROCESSED_DOC)
        meter.create_observable_counter(
            "otelkit.batch.received", callbacks=[self._gauge("spans_received")], unit="{span}",
            description="Sampled spans offered to the processor (on_end), whatever their outcome.",
        )
        up_down("otelkit.batch.queue.bytes", callbacks=[self._gauge("queue_bytes")], unit="By",
                description="Encoded bytes held, queued or in an export call (0 unless the exporter takes encoded spans).")
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
        self._size = meter.create_histogram(
            "otelkit.batch.size", unit="{span}", description="Spans in one batch handed to export().",
            explicit_bucket_boundaries_advisory=[1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
        )

    @property
    def attributes(self) -> dict[str, str]:
        """``otel.component.type`` and ``otel.component.name`` of this processor's points."""
        return dict(self._attrs)

    def record_export(self, seconds: float, ok: bool, spans: int = 0) -> None:
        """Record one export call's duration and batch size (once per batch, never per span)."""
        attrs = self._attrs if ok else {**self._attrs, ERROR_TYPE: "export_failed"}
        self._latency.record(seconds, attrs)
        if spans:
            self._size.record(spans, self._attrs)

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
            if error is not None and not snap[key]:
                continue  # as the SDK's counter: an error series appears with its first span
            attrs = self._attrs if error is None else {**self._attrs, ERROR_TYPE: error}
            out.append(Observation(snap[key], attrs))
        return out
