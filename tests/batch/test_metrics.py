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
