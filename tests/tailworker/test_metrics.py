"""The tail worker's instruments: every one has a unit, every attribute is namespaced
(``otelkit.tailworker.*``) or the semantic conventions' name, values as they type them."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelkit.tailworker._metrics import register

STATS: dict[str, Any] = {
    "kept_by_policy.errors": 3, "traces_dropped": 5, "spans_exported": 6, "export_failures": 1,
    "bad_messages.not_otlp": 2, "late_kept_spans": 4, "late_dropped_spans": 1, "duplicate_spans": 2,
    "pause_events.buffer": 1, "paused_partitions": [1], "topic": "shop_spans",
    "partitions": {0: {"lag": 7, "buffered_spans": 9}, 1: {"lag": 0, "buffered_spans": 0}},
}


SEMCONV = ("messaging.destination.name", "messaging.destination.partition.id")
TOPIC = ("messaging.destination.name", "shop_spans")


class FakeWorker:
    def stats(self) -> dict[str, Any]:
        return STATS


def collect() -> dict[str, Any]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    worker = FakeWorker()
    register(worker, provider)  # type: ignore[arg-type]
    data = reader.get_metrics_data()
    provider.shutdown()
    return {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def test_every_instrument_has_a_unit_and_only_namespaced_attributes() -> None:
    metrics = collect()
    assert len(metrics) == 10
    for name, metric in metrics.items():
        assert metric.unit, name
        for point in metric.data.data_points:
            for key in point.attributes or {}:
                assert key.startswith("otelkit.tailworker.") or key in SEMCONV, (name, key)


def test_points_carry_the_namespaced_attributes() -> None:
    metrics = collect()

    def points(name: str) -> dict[tuple[tuple[str, Any], ...], int]:
        return {tuple(sorted(p.attributes.items())): p.value for p in metrics[name].data.data_points}

    assert points("otelkit.tailworker.traces") == {
        (("otelkit.tailworker.decision", "kept"), ("otelkit.tailworker.policy", "errors")): 3,
        (("otelkit.tailworker.decision", "dropped"), ("otelkit.tailworker.policy", "")): 5,
    }
    assert points("otelkit.tailworker.bad_messages") == {(("otelkit.tailworker.reason", "not_otlp"),): 2}
    assert points("otelkit.tailworker.pause_events") == {(("otelkit.tailworker.reason", "buffer"),): 1}
    assert points("otelkit.tailworker.late_spans") == {(("otelkit.tailworker.outcome", "kept"),): 4,
                                                       (("otelkit.tailworker.outcome", "dropped"),): 1}
    # per partition: the spans topic, and the partition as semconv types it (a string)
    assert points("otelkit.tailworker.lag") == {(TOPIC, ("messaging.destination.partition.id", "0")): 7,
                                                (TOPIC, ("messaging.destination.partition.id", "1")): 0}
    assert points("otelkit.tailworker.buffered.spans")[(TOPIC, ("messaging.destination.partition.id", "0"))] == 9
    assert metrics["otelkit.tailworker.lag"].unit == "{message}"
