"""``otelkit tail-worker`` as a command reports its self-metrics through the standard
``OTEL_METRICS_EXPORTER`` variables (it has no application's meter provider to use)."""

from __future__ import annotations

import sys
import time
import uuid

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from otelkit.exporter.kafka import KafkaSpanExporter
from otelkit.receiver import OtlpReceiver
from otelkit.testing import ManagedProcess, Tansu, scrubbed_env

from ._metrics_sink import MetricsSink

pytestmark = pytest.mark.peers

TRACES = 12


def _until(condition: object, timeout: float = 40.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return bool(condition())  # type: ignore[operator]


def test_the_command_exports_lag_and_decisions_over_otlp(tansu: Tansu) -> None:
    topic = "cmd-" + uuid.uuid4().hex[:8]
    tansu.create_topic(topic, partitions=2)
    with MetricsSink() as sink, OtlpReceiver() as rx:
        env = scrubbed_env({
            "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": tansu.bootstrap, "OTELKIT_KAFKA_TOPIC": topic,
            "OTELKIT_TAIL_WORKER_GROUP": "g-" + topic,
            "OTELKIT_TAIL_WORKER_CONSUMER_CONFIG": "session.timeout.ms=2000,heartbeat.interval.ms=500",
            "OTELKIT_TAIL_POLICIES": "errors=status_code(status_codes=ERROR)",
            "OTELKIT_TAIL_DECISION_WAIT_MS": "100",
            "OTEL_TRACES_EXPORTER": "otelkit_otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rx.endpoint,
            "OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": sink.endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "300", "OTEL_SERVICE_NAME": "tail-eu",
        })
        worker = ManagedProcess([sys.executable, "-m", "otelkit", "tail-worker"], env, "tail-worker")
        provider = TracerProvider(resource=Resource({"service.name": "shop"}))
        provider.add_span_processor(SimpleSpanProcessor(KafkaSpanExporter(bootstrap_servers=tansu.bootstrap,
                                                                          topic=topic, environ={})))
        tracer = provider.get_tracer("cmd")
        try:
            for i in range(TRACES):
                with tracer.start_as_current_span("GET /x"), tracer.start_as_current_span("db") as child:
                    if i % 3 == 0:
                        child.set_status(Status(StatusCode.ERROR))
            # 4 error traces of 2 spans each reach the receiver; the metrics say so too
            assert _until(lambda: rx.stats()["spans"] >= 8), worker.log()

            def decided() -> bool:
                traces = sink.metrics().get("otelkit.tailworker.traces")
                return traces is not None and "otelkit.tailworker.decision" in traces["attributes"]

            assert _until(decided), (sink.metrics().keys(), worker.log())
            assert _until(lambda: "otelkit.tailworker.lag" in sink.metrics()), worker.log()
        finally:
            worker.stop()
            provider.shutdown()
    got = sink.metrics()
    assert got["otelkit.tailworker.lag"]["unit"] == "{message}"
    assert sorted(got["otelkit.tailworker.lag"]["attributes"]) == ["messaging.destination.name",
                                                                   "messaging.destination.partition.id"]
    assert sorted(got["otelkit.tailworker.traces"]["attributes"]) == ["otelkit.tailworker.decision",
                                                                      "otelkit.tailworker.policy"]
    assert got["otelkit.tailworker.spans_exported"]["unit"] == "{span}"
    assert rx.stats()["spans"] == 8
