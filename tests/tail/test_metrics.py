"""The tail processor's self-metrics: the SDK's standard span-processor metrics, counted at
the points the processor applies decisions, and the otelkit.tail.* additions."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otelkit.tail import StatusCodePolicy, TailSamplingProcessor
from otelkit.tail._metrics import COMPONENT_TYPE

PROCESSED = "otel.sdk.processor.span.processed"
COMPONENT = ("otel.component.name", "otel.component.type")


def _build(clock: Any, **kw: Any) -> tuple[TailSamplingProcessor, InMemorySpanExporter, InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(SimpleSpanProcessor(exporter), [StatusCodePolicy(["ERROR"], name="errors")],
                                 clock=clock, start_worker=False, self_metrics=True,
                                 meter_provider=MeterProvider(metric_readers=[reader]), **kw)
    return proc, exporter, reader


def _points(reader: InMemoryMetricReader) -> dict[str, dict[tuple[tuple[str, Any], ...], Any]]:
    """name -> {attributes without the component pair: value (sum/gauge) or count (histogram)};
    asserts every point carries the component attributes."""
    out: dict[str, dict[tuple[tuple[str, Any], ...], Any]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for dp in metric.data.data_points:
                    attrs = dict(dp.attributes or {})
                    assert attrs.get("otel.component.type") == COMPONENT_TYPE, (metric.name, attrs)
                    assert attrs["otel.component.name"].startswith(COMPONENT_TYPE + "/")
                    key = tuple(sorted((k, v) for k, v in attrs.items() if k not in COMPONENT))
                    out.setdefault(metric.name, {})[key] = dp.value if hasattr(dp, "value") else dp.count
    return out


def test_processed_counts_decided_spans_and_losses_by_error_type(clock: Any, span: Any) -> None:
    proc, exporter, reader = _build(clock, max_spans=3, overflow="evict")
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1))
    proc.on_end(span(trace_id=1, status=StatusCode.ERROR))  # kept: 2 spans
    proc.on_end(span(trace_id=2))  # dropped by no policy keeping it: 1 span
    clock.advance(2)
    proc.process_due()
    assert _points(reader)[PROCESSED] == {(): 3}  # no error series before the first loss
    proc.on_end(span(trace_id=1, span_id=3, parent_id=1))  # late, follows "kept"
    proc.on_end(span(trace_id=2, span_id=3, parent_id=1))  # late, follows "dropped"
    for sid in (2, 3, 4, 5):  # trace 3 fills the buffer: it is evicted at the 4th span
        proc.on_end(span(trace_id=3, span_id=sid, parent_id=1))
    proc.shutdown()
    proc.on_end(span(trace_id=4))  # after shutdown
    stats = proc.stats()
    points = _points(reader)[PROCESSED]
    assert points == {
        (): len(exporter.get_finished_spans()) + 2,  # forwarded, plus the two dropped by sampling
        (("error.type", "queue_full"),): 4,
        (("error.type", "already_shutdown"),): 1,
    }
    assert len(exporter.get_finished_spans()) == 3
    assert stats["evicted_traces"] == 1
    assert sum(points.values()) == stats["spans_kept"] + stats["spans_dropped"]  # every span, once


def test_queue_size_is_the_buffered_spans_and_capacity_max_spans(clock: Any, span: Any) -> None:
    proc, _exporter, reader = _build(clock, max_spans=500)
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1))
    proc.on_end(span(trace_id=2, span_id=2, parent_id=1))
    points = _points(reader)
    assert points["otel.sdk.processor.span.queue.size"] == {(): 2}
    assert points["otel.sdk.processor.span.queue.capacity"] == {(): 500}
    proc.on_end(span(trace_id=1))
    clock.advance(2)
    proc.process_due()
    assert _points(reader)["otel.sdk.processor.span.queue.size"] == {(): 1}
    proc.shutdown()


def test_otelkit_additions_have_units_and_namespaced_attributes(clock: Any, span: Any) -> None:
    proc, _exporter, reader = _build(clock)
    proc.on_end(span(trace_id=1, status=StatusCode.ERROR))
    proc.on_end(span(trace_id=2))
    proc.on_end(span(trace_id=3, span_id=2, parent_id=1))
    clock.advance(2)
    proc.process_due()
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1))  # late, kept
    points = _points(reader)
    decision, policy = "otelkit.tail.decision", "otelkit.tail.policy"
    assert points["otelkit.tail.traces"] == {((decision, "dropped"), (policy, "no_match")): 1,
                                             ((decision, "kept"), (policy, "errors")): 1}
    assert points["otelkit.tail.spans"][((decision, "kept"), (policy, "errors"))] == 2
    assert points["otelkit.tail.buffered.spans"] == {(): 1}
    assert points["otelkit.tail.decision.duration"] == {(): 2}
    assert points["otelkit.tail.late_spans"] == {(("otelkit.tail.outcome", "dropped"),): 0,
                                                 (("otelkit.tail.outcome", "kept"),): 1}
    data = reader.get_metrics_data()
    assert data is not None
    units = {m.name: m.unit for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert units["otelkit.tail.traces"] == units["otelkit.tail.buffered.traces"] == "{trace}"
    assert units["otelkit.tail.spans"] == units["otelkit.tail.buffered.spans"] == "{span}"
    assert units["otelkit.tail.decision.duration"] == "s"
    assert units[PROCESSED] == "{span}"
    proc.shutdown()


def test_decision_lag_is_how_long_the_oldest_due_trace_has_waited(clock: Any, span: Any) -> None:
    proc, _exporter, reader = _build(clock, decision_wait_ms=1000)
    proc.on_end(span(trace_id=1))  # a root: due 1 s from now
    clock.advance(0.5)
    proc.on_end(span(trace_id=2))  # due 1.5 s from the start
    assert _points(reader)["otelkit.tail.decision.lag"] == {(): 0.0}  # nothing due yet
    clock.advance(0.75)  # t=1.25: trace 1 is 0.25 s overdue (no decision thread runs)
    assert _points(reader)["otelkit.tail.decision.lag"] == {(): 0.25}
    proc.process_due()  # trace 1 decided; trace 2 is not due yet
    assert _points(reader)["otelkit.tail.decision.lag"] == {(): 0.0}
    clock.advance(1.0)  # t=2.25: trace 2 is 0.75 s overdue
    assert proc.stats()["decision_lag_s"] == 0.75
    data = reader.get_metrics_data()
    assert data is not None
    units = {m.name: m.unit for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert units["otelkit.tail.decision.lag"] == "s"
    proc.shutdown()


def test_no_instruments_without_self_metrics(clock: Any) -> None:
    reader = InMemoryMetricReader()
    TailSamplingProcessor(SimpleSpanProcessor(InMemorySpanExporter()), [StatusCodePolicy(["ERROR"])], clock=clock,
                          start_worker=False, self_metrics=False, meter_provider=MeterProvider(metric_readers=[reader]))
    data = reader.get_metrics_data()
    assert data is None or not data.resource_metrics
