"""Export statistics: snapshot keys, bounded latency reservoir, OTel self-metrics."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelkit.exporter._stats import ExportStats
from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.receiver import OtlpReceiver

from .conftest import realistic_batch

KEYS = {
    "spans_exported", "spans_failed", "spans_rejected", "spans_spooled", "requests", "retries",
    "raw_bytes", "wire_bytes", "export_latency_p50_ms", "export_latency_p99_ms",
}


def test_snapshot_keys_and_percentiles() -> None:
    stats = ExportStats("x", self_metrics=False)
    for ms in range(1, 101):
        stats.latency(ms / 1000.0, ok=True)
    snap = stats.snapshot()
    assert set(snap) == KEYS
    assert snap["export_latency_p50_ms"] == 51.0 and snap["export_latency_p99_ms"] == 100.0


def test_latency_reservoir_is_bounded() -> None:
    stats = ExportStats("x", self_metrics=False)
    for _ in range(5000):
        stats.latency(0.001, ok=True)
    assert len(stats._latencies) == 1024


def _points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, object], float]]]:
    out: dict[str, list[tuple[dict[str, object], float]]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    value = getattr(p, "value", None)
                    out.setdefault(metric.name, []).append((dict(p.attributes or {}), value if value is not None else p.count))
    return out


def test_self_metrics_follow_the_exports(sink: OtlpReceiver) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    exp = OtlpHttpSpanExporter(
        endpoint=sink.endpoint, compression="zstd", meter_provider=provider,
        environ={"OTELKIT_SELF_METRICS": "true"},
    )
    exp.export(realistic_batch(50))
    exp.shutdown()
    exp.export(realistic_batch(5))  # after shutdown: failed
    points = _points(reader)
    spans = {str(a.get("error.type", "ok")): v for a, v in points["otel.sdk.exporter.span.exported"]}
    assert spans == {"ok": 50, "shutdown": 5}
    assert points["otelkit.exporter.requests"][0][1] == 1
    assert points["otelkit.exporter.wire_bytes"][0][1] == exp.stats()["wire_bytes"]
    assert sum(v for _, v in points["otel.sdk.exporter.operation.duration"]) == 1  # refused calls are not timed
    provider.shutdown()


def test_self_metrics_off_creates_no_instruments(sink: OtlpReceiver) -> None:
    exp = OtlpHttpSpanExporter(endpoint=sink.endpoint, environ={"OTELKIT_SELF_METRICS": "false"})
    assert exp._stats._instruments is None
