"""OTLP over Kafka: a hand-written stock exporter vs ``KafkaSpanExporter``, same broker, same batch.

The Python SDK has no Kafka exporter, so "stock" is what a user would write with the SDK's
pieces: group the batch by trace, ``encode_spans(group).SerializeToString()`` per trace,
``confluent_kafka.Producer.produce`` keyed by trace ID, then ``flush``. The otelkit side is
``KafkaSpanExporter`` (its encoder is ``otelkit.exporter.encoder.SpanEncoder``). Both write
zstd-compressed messages to a Tansu broker on 127.0.0.1; a second group measures the
encoding step alone (no broker).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelkit.exporter.encoder import SpanEncoder
from otelkit.exporter.kafka import KafkaSpanExporter, trace_key
from otelkit.testing import Tansu, start_tansu

TRACES = 64
PER_TRACE = 8


class StockKafkaExporter(SpanExporter):
    """The straightforward SDK-pieces exporter: stock encoder per trace + confluent-kafka."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self.producer = Producer({"bootstrap.servers": bootstrap, "compression.type": "zstd", "linger.ms": 5})

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        groups: dict[int, list[ReadableSpan]] = {}
        for span in spans:
            groups.setdefault(span.context.trace_id, []).append(span)
        for trace_id, group in groups.items():
            self.producer.produce(self.topic, encode_spans(group).SerializeToString(), trace_key(trace_id))
        return SpanExportResult.SUCCESS if self.producer.flush(10) == 0 else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.producer.flush(10)


def realistic_batch() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "host.name": "web-1"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench", "1.0")
    for t in range(TRACES):
        with tracer.start_as_current_span("GET /orders/{id}", attributes={
            "http.request.method": "GET", "http.route": "/orders/{id}", "http.response.status_code": 200,
            "url.path": f"/orders/{t}", "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)",
        }):
            for c in range(PER_TRACE - 1):
                with tracer.start_as_current_span("SELECT orders", attributes={
                    "db.system.name": "postgresql", "db.query.text": "SELECT * FROM orders WHERE id = $1",
                    "db.collection.name": "orders", "row.index": c,
                }) as span:
                    span.add_event("fetched", {"rows": c})
    return list(memory.get_finished_spans())


@pytest.fixture(scope="module")
def tansu() -> Iterator[Tansu]:
    proc = start_tansu()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def batch() -> list[ReadableSpan]:
    return realistic_batch()


@pytest.mark.benchmark(group=f"kafka: export {TRACES * PER_TRACE} spans ({TRACES} traces) to Tansu, zstd")
def test_export(benchmark: Any, side: str, tansu: Tansu, batch: list[ReadableSpan]) -> None:
    topic = f"bench-{side}"
    tansu.create_topic(topic, partitions=3)
    exporter: SpanExporter
    if side == "stock":
        exporter = StockKafkaExporter(tansu.bootstrap, topic)
    else:
        exporter = KafkaSpanExporter(bootstrap_servers=tansu.bootstrap, topic=topic, compression="zstd", environ={})
    assert exporter.export(batch) is SpanExportResult.SUCCESS  # connect and warm up
    benchmark.extra_info["side"] = side
    benchmark.pedantic(lambda: exporter.export(batch), rounds=20, iterations=1, warmup_rounds=2)
    if isinstance(exporter, KafkaSpanExporter):
        stats = exporter.stats()
        benchmark.extra_info["value_bytes_per_span"] = stats["raw_bytes"] / stats["spans_exported"]
    exporter.shutdown()


@pytest.mark.benchmark(group=f"kafka: encode {TRACES * PER_TRACE} spans one message per trace")
def test_encode_per_trace(benchmark: Any, side: str, batch: list[ReadableSpan]) -> None:
    groups: dict[int, list[ReadableSpan]] = {}
    for span in batch:
        groups.setdefault(span.context.trace_id, []).append(span)
    encoder = SpanEncoder()

    def run() -> int:
        if side == "stock":
            return sum(len(encode_spans(g).SerializeToString()) for g in groups.values())
        return sum(len(encoder.encode(g)) for g in groups.values())

    benchmark.extra_info["side"] = side
    benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=2)
