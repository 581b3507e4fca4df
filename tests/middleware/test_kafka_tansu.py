"""Kafka helpers against a real broker (Tansu) with aiokafka, kafka-python and confluent-kafka.

Each test produces with the otelkit helper inside a request span, fetches with the batch
helper (one ``poll`` span per non-empty fetch, links capped at 2), then handles every record
in a ``process`` span continuing the producer's trace; the exported spans are checked.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_BATCH_MESSAGE_COUNT,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_OFFSET,
)
from opentelemetry.trace import SpanKind

from otelkit.middleware.kafka import (
    LINKS_DROPPED,
    aiokafka_getmany,
    aiokafka_send,
    confluent_consume,
    confluent_produce,
    kafka_python_poll,
    kafka_python_send,
    process_span,
)
from otelkit.testing import Tansu

pytestmark = pytest.mark.peers

N = 5
MAX_LINKS = 2
DEADLINE_S = 20.0
Memory = tuple[TracerProvider, InMemorySpanExporter]


@pytest.fixture
def memory() -> Iterator[Memory]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture
def topic(tansu: Tansu) -> str:
    name = "mw-" + uuid.uuid4().hex[:10]
    tansu.create_topic(name, partitions=1)
    return name


def check(exporter: InMemorySpanExporter, topic: str, fetches: list[int]) -> None:
    """The spans of one produce -> batch fetch -> process run are shaped as documented."""
    spans = exporter.get_finished_spans()
    request = next(s for s in spans if s.name == "request")
    sends = [s for s in spans if s.name == f"send {topic}"]
    polls = [s for s in spans if s.name == f"poll {topic}"]
    processes = [s for s in spans if s.name == f"process {topic}"]
    assert len(sends) == N and all(s.kind is SpanKind.PRODUCER for s in sends)
    assert all(s.context.trace_id == request.context.trace_id for s in sends)
    send_ids = {s.context.span_id for s in sends}
    # One poll span per non-empty fetch: no span for empty polls, none per record.
    assert len(polls) == len([n for n in fetches if n]) and sum(fetches) == N
    for poll in polls:
        count = (poll.attributes or {})[MESSAGING_BATCH_MESSAGE_COUNT]
        assert isinstance(count, int)
        assert len(poll.links) == min(count, MAX_LINKS)
        assert (poll.attributes or {}).get(LINKS_DROPPED, 0) == max(0, count - MAX_LINKS)
        assert {link.context.span_id for link in poll.links} <= send_ids
    assert sum(len(p.links) + (p.attributes or {}).get(LINKS_DROPPED, 0) for p in polls) == N
    # Each process span continues its producer's trace (parent mode) and links it.
    assert len(processes) == N
    for proc in processes:
        assert proc.parent is not None and proc.parent.span_id in send_ids
        assert proc.context.trace_id == request.context.trace_id
        assert proc.links[0].context.span_id == proc.parent.span_id
        assert (proc.attributes or {})[MESSAGING_DESTINATION_PARTITION_ID] == "0"
    assert sorted((p.attributes or {})[MESSAGING_KAFKA_OFFSET] for p in processes) == list(range(N))


def process_all(records: list[Any], provider: TracerProvider) -> None:
    for record in records:
        with process_span(record, context="parent", tracer_provider=provider):
            pass


def test_aiokafka(tansu: Tansu, topic: str, memory: Memory) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    provider, exporter = memory

    async def main() -> list[int]:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
        await producer.start()
        try:
            with provider.get_tracer("app").start_as_current_span("request"):
                for i in range(N):
                    await aiokafka_send(producer, topic, f"m{i}".encode(), key=b"k", headers=[("app", b"1")],
                                        wait=True, tracer_provider=provider)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=tansu.bootstrap, group_id="g-" + topic, auto_offset_reset="earliest",
            enable_auto_commit=False, session_timeout_ms=2000, heartbeat_interval_ms=500,
        )
        await consumer.start()
        fetches: list[int] = []
        records: list[Any] = []
        try:
            end = time.monotonic() + DEADLINE_S
            while len(records) < N and time.monotonic() < end:
                batch = await aiokafka_getmany(consumer, timeout_ms=500, max_links=MAX_LINKS, tracer_provider=provider)
                got = [r for recs in batch.values() for r in recs]
                fetches.append(len(got))
                records.extend(got)
        finally:
            await consumer.stop()
        assert [dict(r.headers)["app"] for r in records] == [b"1"] * N
        process_all(records, provider)
        return fetches

    check(exporter, topic, asyncio.run(main()))


def test_kafka_python(tansu: Tansu, topic: str, memory: Memory) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    provider, exporter = memory
    producer = KafkaProducer(bootstrap_servers=tansu.bootstrap)
    try:
        with provider.get_tracer("app").start_as_current_span("request"):
            for i in range(N):
                kafka_python_send(producer, topic, f"m{i}".encode(), key=b"k", wait_s=10.0, tracer_provider=provider)
    finally:
        producer.close(timeout=5)
    consumer = KafkaConsumer(
        topic, bootstrap_servers=tansu.bootstrap, group_id="g-" + topic, auto_offset_reset="earliest",
        enable_auto_commit=False, session_timeout_ms=2000, heartbeat_interval_ms=500,
    )
    fetches: list[int] = []
    records: list[Any] = []
    try:
        end = time.monotonic() + DEADLINE_S
        while len(records) < N and time.monotonic() < end:
            batch = kafka_python_poll(consumer, timeout_ms=500, max_links=MAX_LINKS, tracer_provider=provider)
            got = [r for recs in batch.values() for r in recs]
            fetches.append(len(got))
            records.extend(got)
    finally:
        consumer.close()
    process_all(records, provider)
    check(exporter, topic, fetches)


def test_confluent_kafka(tansu: Tansu, topic: str, memory: Memory) -> None:
    from confluent_kafka import Consumer, Producer

    provider, exporter = memory
    producer = Producer({"bootstrap.servers": tansu.bootstrap})
    with provider.get_tracer("app").start_as_current_span("request"):
        for i in range(N):
            confluent_produce(producer, topic, f"m{i}".encode(), key=b"k", headers={"app": b"1"},
                              tracer_provider=provider)
    assert producer.flush(10) == 0
    consumer = Consumer({
        "bootstrap.servers": tansu.bootstrap, "group.id": "g-" + topic, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "session.timeout.ms": 2000, "heartbeat.interval.ms": 500,
    })
    consumer.subscribe([topic])
    fetches: list[int] = []
    records: list[Any] = []
    try:
        end = time.monotonic() + DEADLINE_S
        while len(records) < N and time.monotonic() < end:
            batch = confluent_consume(consumer, num_messages=100, timeout=0.5, max_links=MAX_LINKS,
                                      tracer_provider=provider)
            got = [m for m in batch if m.error() is None]
            fetches.append(len(got))
            records.extend(got)
    finally:
        consumer.close()
    assert [dict(m.headers())["app"] for m in records] == [b"1"] * N
    process_all(records, provider)
    check(exporter, topic, fetches)


def test_link_mode_keeps_the_consumer_trace(tansu: Tansu, topic: str, memory: Memory) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    provider, exporter = memory
    producer = Producer({"bootstrap.servers": tansu.bootstrap})
    confluent_produce(producer, topic, b"m", tracer_provider=provider)
    assert producer.flush(10) == 0
    consumer = Consumer({"bootstrap.servers": tansu.bootstrap, "group.id": "g-" + topic,
                         "session.timeout.ms": 2000, "heartbeat.interval.ms": 500})
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        end = time.monotonic() + DEADLINE_S
        msg = None
        while msg is None and time.monotonic() < end:
            msg = consumer.poll(0.5)
    finally:
        consumer.close()
    assert msg is not None and msg.error() is None
    with process_span(msg, context="link", tracer_provider=provider):
        pass
    send: ReadableSpan = next(s for s in exporter.get_finished_spans() if s.name.startswith("send"))
    proc = next(s for s in exporter.get_finished_spans() if s.name.startswith("process"))
    assert proc.context.trace_id != send.context.trace_id
    assert [link.context.span_id for link in proc.links] == [send.context.span_id]
