from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ._helpers import Recording, end_spans, pipeline


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out[metric.name] = list(metric.data.data_points)
    return out


def test_self_metrics_report_queue_outcomes_targets_and_latency() -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    provider, processor = pipeline(Recording(), self_metrics=True, meter_provider=meters, max_queue_size=50)
    end_spans(provider, [f"s{i}" for i in range(5)])
    assert processor.force_flush(10_000)
    points = _points(reader)
    processed = {p.attributes.get("error.type"): p.value for p in points["otel.sdk.processor.span.processed"]}
    assert processed[None] == 5
    assert set(processed) == {None}  # as the SDK: no error series before the first drop
    assert points["otel.sdk.processor.span.queue.capacity"][0].value == 50
    assert points["otel.sdk.processor.span.queue.size"][0].value == 0
    assert points["otelkit.batch.target_size"][0].value == processor.stats()["target_batch"]
    assert points["otelkit.batch.target_wait"][0].value > 0
    assert points["otelkit.batch.export.duration"][0].count >= 1
    provider.shutdown()
    end_spans(provider, ["late"])
    late = {p.attributes.get("error.type"): p.value for p in _points(reader)["otel.sdk.processor.span.processed"]}
    assert late["already_shutdown"] == 1


def test_self_metrics_off_creates_no_instruments() -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    provider, processor = pipeline(Recording(), self_metrics=False, meter_provider=meters)
    end_spans(provider, ["a"])
    assert processor.force_flush(10_000)
    data = reader.get_metrics_data()
    assert data is None or not any(sm.metrics for rm in data.resource_metrics for sm in rm.scope_metrics)
    provider.shutdown()


def test_received_batch_size_and_queue_bytes_are_reported() -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    exporter = Recording()
    provider, processor = pipeline(exporter, self_metrics=True, meter_provider=meters)
    end_spans(provider, [f"s{i}" for i in range(7)])
    assert processor.force_flush(10_000)
    points = _points(reader)
    assert points["otelkit.batch.received"][0].value == 7
    sizes = points["otelkit.batch.size"][0]
    assert sizes.sum == 7 and sizes.count == exporter.calls  # one record per export call
    assert points["otelkit.batch.queue.bytes"][0].value == 0  # a plain exporter: spans are not held as bytes
    component = dict(points["otelkit.batch.received"][0].attributes)
    assert component["otel.component.type"] == "batching_span_processor"
    for name in ("otelkit.batch.size", "otel.sdk.processor.span.processed", "otel.sdk.processor.span.queue.size"):
        assert [dict(p.attributes) for p in points[name]] == [component]
    provider.shutdown()


def test_queue_full_is_counted_like_the_stock_processor(monkeypatch: Any) -> None:
    # Same workload against a hung exporter: both count a span either handed to export() or
    # dropped with error.type=queue_full; otelkit exactly once. (Stock 1.45 can count one drop
    # too many: emit() checks len(queue) == max, counts, then appends, and the worker may pop
    # in between, so nothing is evicted.)
    import threading

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    results = {}
    for kind in ("stock", "otelkit"):
        reader = InMemoryMetricReader()
        meters = MeterProvider(metric_readers=[reader])
        gate = threading.Event()
        exporter = Recording(gate=gate)
        if kind == "stock":
            processor: Any = BatchSpanProcessor(exporter, max_queue_size=8, max_export_batch_size=8,
                                                meter_provider=meters)
        else:
            processor = pipeline(exporter, self_metrics=True, meter_provider=meters, max_queue_size=8,
                                 max_concurrent_exports=1)[1]
        provider = TracerProvider()
        provider.add_span_processor(processor)
        end_spans(provider, [f"s{i}" for i in range(100)])
        gate.set()
        assert processor.force_flush(10_000)
        processed = {p.attributes.get("error.type"): p.value for p in _points(reader)["otel.sdk.processor.span.processed"]}
        assert set(processed) == {None, "queue_full"}
        assert processed[None] == len(exporter.names)
        if kind == "otelkit":
            assert processed[None] + processed["queue_full"] == 100
        else:
            assert processed[None] + processed["queue_full"] >= 100
        results[kind] = processed
        provider.shutdown()
    assert results["stock"]["queue_full"] > 0 and results["otelkit"]["queue_full"] > 0
