"""A real tail-worker run for the dashboard test: otelkit's Kafka exporter writes traces
(every fourth one failing) to a Tansu topic, one :class:`TailWorker` (keeping errors)
consumes them and exports the kept traces with otelkit's OTLP/HTTP exporter to an
:class:`OtlpReceiver` on 127.0.0.1. Its self-metrics are collected with an SDK
``InMemoryMetricReader`` while it still holds its partitions (the per-partition gauges exist
only then). Conditions are waited on with deadlines, never a fixed sleep."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from otelkit.exporter.kafka import KafkaSpanExporter
from otelkit.receiver import OtlpReceiver
from otelkit.tailworker import TailWorker

__all__ = ["run_tail_worker", "describe"]

TRACES = 24
KAFKA_TEST = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


def _wait(condition: Callable[[], bool], timeout: float = 40.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def describe(data: Any) -> list[dict[str, Any]]:
    """{name, unit, kind, monotonic, attributes, points} of every metric an SDK reader collected."""
    from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

    out = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = {Sum: "sum", Gauge: "gauge", Histogram: "histogram"}.get(type(m.data), "other")
                keys = sorted({k for p in m.data.data_points for k in (p.attributes or {})})
                out.append({"name": m.name, "unit": m.unit or "", "kind": kind,
                            "monotonic": bool(getattr(m.data, "is_monotonic", False)), "attributes": keys,
                            "points": len(m.data.data_points)})
    return out


def run_tail_worker(tansu: Any) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """(metrics collected, the worker's stats at collection, spans the receiver got)."""
    topic = "dash-" + uuid.uuid4().hex[:8]
    tansu.create_topic(topic, partitions=2)
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    with OtlpReceiver() as rx:
        env = {"OTEL_TRACES_EXPORTER": "otelkit_otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rx.endpoint,
               "OTELKIT_TAIL_DECISION_WAIT_MS": "100", "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS": "200"}
        worker = TailWorker(bootstrap_servers=tansu.bootstrap, topic=topic, group="g-" + topic,
                            policies="errors=status_code(status_codes=ERROR)", kafka_config=KAFKA_TEST,
                            self_metrics=True, meter_provider=meters, environ=env)
        thread = threading.Thread(target=worker.run, name="dash-tail-worker", daemon=True)
        thread.start()
        provider = TracerProvider(resource=Resource({"service.name": "dash"}))
        provider.add_span_processor(SimpleSpanProcessor(
            KafkaSpanExporter(bootstrap_servers=tansu.bootstrap, topic=topic, environ={})))
        tracer = provider.get_tracer("dash")
        try:
            for i in range(TRACES):
                with tracer.start_as_current_span("GET /x"), tracer.start_as_current_span("db") as child:
                    if i % 4 == 0:
                        child.set_status(Status(StatusCode.ERROR))

            def decided() -> bool:
                s = worker.stats()
                return sum(v for k, v in s.items() if k.startswith("kept_by_policy.")) + s.get(
                    "traces_dropped", 0) >= TRACES and rx.stats()["spans"] >= 2 * (TRACES // 4)

            assert _wait(decided), worker.stats()
            stats = worker.stats()
            collected = describe(reader.get_metrics_data())
        finally:
            worker.stop()
            thread.join(30)
            provider.shutdown()
            meters.shutdown()
        return collected, stats, int(rx.stats()["spans"])
