"""Kafka producer helpers: span shape, injected context, caller headers untouched, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import SpanKind, StatusCode

from otelkit.middleware.kafka import aiokafka_send, confluent_produce, kafka_python_send, producer_span
from otelkit.propagation.kafka import kafka_getter

Memory = tuple[TracerProvider, InMemorySpanExporter]


@pytest.fixture
def memory() -> Iterator[Memory]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


class Metadata:
    partition = 2
    offset = 41


class KafkaPythonProducer:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def send(self, topic: str, **kw: Any) -> Any:
        if self.error:
            raise self.error
        self.calls.append({"topic": topic, **kw})
        producer = self

        class Future:
            def get(self, timeout: float) -> Metadata:
                producer.calls[-1]["waited"] = timeout
                return Metadata()

        return Future()


class ConfluentProducer:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def produce(self, topic: str, **kw: Any) -> None:
        self.calls.append({"topic": topic, **kw})


class AioProducer:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def send(self, topic: str, **kw: Any) -> Any:
        self.calls.append({"topic": topic, **kw})
        future: asyncio.Future[Metadata] = asyncio.get_running_loop().create_future()
        future.set_result(Metadata())
        return future


def sent_context(headers: Any) -> trace.SpanContext:
    return trace.get_current_span(propagate.extract(headers, getter=kafka_getter)).get_span_context()


def test_send_span_name_kind_and_attributes(memory: Memory) -> None:
    provider, exporter = memory
    kafka_python_send(KafkaPythonProducer(), "orders", b"v", key=b"order-1", partition=3, tracer_provider=provider)
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("send orders", SpanKind.PRODUCER)
    assert dict(span.attributes or {}) == {
        MESSAGING_SYSTEM: "kafka",
        MESSAGING_DESTINATION_NAME: "orders",
        MESSAGING_OPERATION_TYPE: "send",
        MESSAGING_OPERATION_NAME: "send",
        MESSAGING_KAFKA_MESSAGE_KEY: "order-1",
        MESSAGING_DESTINATION_PARTITION_ID: "3",
    }


def test_injected_context_is_the_producer_span(memory: Memory) -> None:
    provider, exporter = memory
    producer = KafkaPythonProducer()
    kafka_python_send(producer, "orders", b"v", tracer_provider=provider)
    (span,) = exporter.get_finished_spans()
    assert sent_context(producer.calls[0]["headers"]).span_id == span.context.span_id


def test_caller_headers_are_kept_and_not_modified(memory: Memory) -> None:
    provider, _ = memory
    producer = KafkaPythonProducer()
    mine = [("app", b"1")]
    kafka_python_send(producer, "orders", b"v", headers=mine, tracer_provider=provider)
    assert mine == [("app", b"1")]
    sent = producer.calls[0]["headers"]
    assert sent[0] == ("app", b"1")
    assert any(name == "traceparent" and isinstance(value, bytes) for name, value in sent)


def test_tuple_headers_are_copied_into_a_list(memory: Memory) -> None:
    provider, _ = memory
    producer = KafkaPythonProducer()
    kafka_python_send(producer, "orders", headers=(("app", b"1"),), tracer_provider=provider)
    assert sent_context(producer.calls[0]["headers"]).is_valid


def test_confluent_dict_headers_become_a_list_with_context(memory: Memory) -> None:
    provider, _ = memory
    producer = ConfluentProducer()
    confluent_produce(producer, "orders", b"v", headers={"app": b"1"}, tracer_provider=provider)
    sent = producer.calls[0]["headers"]
    assert ("app", b"1") in sent
    assert sent_context(sent).is_valid


def test_confluent_partition_and_callback_passed_only_when_given(memory: Memory) -> None:
    provider, _ = memory
    producer = ConfluentProducer()
    confluent_produce(producer, "orders", b"v", tracer_provider=provider)
    assert "partition" not in producer.calls[0] and "on_delivery" not in producer.calls[0]


def test_headers_of_an_unknown_type_pass_through_with_a_warning(
    memory: Memory, caplog: pytest.LogCaptureFixture
) -> None:
    provider, _ = memory
    producer = KafkaPythonProducer()
    odd = object()
    with caplog.at_level(logging.WARNING):
        kafka_python_send(producer, "orders", headers=odd, tracer_provider=provider)
    assert producer.calls[0]["headers"] is odd
    assert "without trace context" in caplog.text


def test_client_error_marks_the_span_and_propagates(memory: Memory) -> None:
    provider, exporter = memory
    with pytest.raises(BufferError):
        kafka_python_send(KafkaPythonProducer(BufferError("full")), "orders", tracer_provider=provider)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})[ERROR_TYPE] == "BufferError"


def test_kafka_python_wait_records_partition_and_offset(memory: Memory) -> None:
    provider, exporter = memory
    producer = KafkaPythonProducer()
    metadata = kafka_python_send(producer, "orders", b"v", wait_s=5.0, tracer_provider=provider)
    assert isinstance(metadata, Metadata) and producer.calls[0]["waited"] == 5.0
    attrs = exporter.get_finished_spans()[0].attributes or {}
    assert (attrs[MESSAGING_DESTINATION_PARTITION_ID], attrs[MESSAGING_KAFKA_OFFSET]) == ("2", 41)


def test_aiokafka_send_returns_the_future_and_injects(memory: Memory) -> None:
    provider, exporter = memory
    producer = AioProducer()

    async def main() -> Any:
        return await aiokafka_send(producer, "orders", b"v", key=b"k", tracer_provider=provider)

    future = asyncio.run(main())
    assert isinstance(future.result(), Metadata)
    (span,) = exporter.get_finished_spans()
    assert sent_context(producer.calls[0]["headers"]).span_id == span.context.span_id


def test_aiokafka_send_wait_returns_metadata(memory: Memory) -> None:
    provider, exporter = memory

    async def main() -> Any:
        return await aiokafka_send(AioProducer(), "orders", b"v", wait=True, tracer_provider=provider)

    assert isinstance(asyncio.run(main()), Metadata)
    assert (exporter.get_finished_spans()[0].attributes or {})[MESSAGING_KAFKA_OFFSET] == 41


def test_producer_span_is_a_child_of_the_current_span(memory: Memory) -> None:
    provider, exporter = memory
    with provider.get_tracer("t").start_as_current_span("request") as parent:
        with producer_span("orders", None, tracer_provider=provider) as (_span, headers):
            pass
    send = next(s for s in exporter.get_finished_spans() if s.name == "send orders")
    assert send.parent is not None and send.parent.span_id == parent.get_span_context().span_id
    assert sent_context(headers).trace_id == parent.get_span_context().trace_id


@pytest.mark.parametrize(
    ("key", "recorded"),
    [(b"order-1", "order-1"), ("order-2", "order-2"), (12, "12"), (b"\xff\xfe", None), (None, None),
     (object(), None), ("k" * 300, "k" * 256)],
    ids=["utf8-bytes", "str", "int", "binary", "none", "object", "long"],
)
def test_message_key_recorded_only_as_a_string(memory: Memory, key: object, recorded: str | None) -> None:
    provider, exporter = memory
    kafka_python_send(KafkaPythonProducer(), "orders", key=key, tracer_provider=provider)
    assert (exporter.get_finished_spans()[0].attributes or {}).get(MESSAGING_KAFKA_MESSAGE_KEY) == recorded


def test_extra_keyword_arguments_reach_the_client(memory: Memory) -> None:
    provider, _ = memory
    producer = ConfluentProducer()
    confluent_produce(producer, "orders", b"v", timestamp=123, tracer_provider=provider)
    assert producer.calls[0]["timestamp"] == 123
