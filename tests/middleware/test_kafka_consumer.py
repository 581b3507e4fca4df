"""Kafka consumer helpers: per-message link/parent, batch spans with capped links, no empty spans."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_BATCH_MESSAGE_COUNT,
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
)
from opentelemetry.trace import SpanKind, StatusCode

from otelkit.middleware.kafka import (
    LINKS_DROPPED,
    aiokafka_getmany,
    confluent_consume,
    kafka_python_poll,
    process_batch,
    process_span,
)
from otelkit.propagation.kafka import kafka_setter

Memory = tuple[TracerProvider, InMemorySpanExporter]


@pytest.fixture
def memory() -> Iterator[Memory]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@dataclass
class Record:
    """Shaped like kafka-python's and aiokafka's ConsumerRecord."""

    topic: str = "orders"
    partition: int = 1
    offset: int = 7
    key: Any = b"k1"
    value: Any = b"v"
    headers: Any = field(default_factory=list)


class Message:
    """Shaped like confluent_kafka.Message (fields are methods)."""

    def __init__(self, headers: Any = None, error: Any = None) -> None:
        self._headers, self._error = headers, error

    def topic(self) -> str:
        return "orders"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 9

    def key(self) -> bytes:
        return b"ck"

    def headers(self) -> Any:
        return self._headers

    def error(self) -> Any:
        return self._error


def produced(provider: TracerProvider, baggage_value: str | None = None) -> tuple[list[Any], trace.SpanContext]:
    """Headers carrying the context of a fresh producer span."""
    span = provider.get_tracer("producer").start_span("send orders")
    span.end()
    ctx = trace.set_span_in_context(span)
    if baggage_value is not None:
        ctx = baggage.set_baggage("tenant", baggage_value, ctx)
    headers: list[Any] = []
    propagate.inject(headers, context=ctx, setter=kafka_setter)
    return headers, span.get_span_context()


def consumer_spans(exporter: InMemorySpanExporter) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name != "send orders"]


def test_process_span_name_kind_and_attributes(memory: Memory) -> None:
    provider, exporter = memory
    with process_span(Record(), consumer_group="g1", tracer_provider=provider, environ={}):
        pass
    (span,) = consumer_spans(exporter)
    assert (span.name, span.kind) == ("process orders", SpanKind.CONSUMER)
    assert dict(span.attributes or {}) == {
        MESSAGING_SYSTEM: "kafka",
        MESSAGING_OPERATION_TYPE: "process",
        MESSAGING_OPERATION_NAME: "process",
        MESSAGING_DESTINATION_NAME: "orders",
        MESSAGING_DESTINATION_PARTITION_ID: "1",
        MESSAGING_KAFKA_OFFSET: 7,
        MESSAGING_KAFKA_MESSAGE_KEY: "k1",
        MESSAGING_CONSUMER_GROUP_NAME: "g1",
    }


def test_link_mode_links_the_producer_and_keeps_the_current_trace(memory: Memory) -> None:
    provider, exporter = memory
    headers, producer = produced(provider)
    with process_span(Record(headers=headers), context="link", tracer_provider=provider):
        pass
    (span,) = consumer_spans(exporter)
    assert span.context.trace_id != producer.trace_id
    assert [link.context.span_id for link in span.links] == [producer.span_id]


def test_link_is_the_default(memory: Memory) -> None:
    provider, exporter = memory
    headers, producer = produced(provider)
    with process_span(Record(headers=headers), tracer_provider=provider, environ={}):
        pass
    assert consumer_spans(exporter)[0].context.trace_id != producer.trace_id


def test_parent_mode_continues_the_producer_trace_and_links_it(memory: Memory) -> None:
    provider, exporter = memory
    headers, producer = produced(provider)
    with process_span(Record(headers=headers), context="parent", tracer_provider=provider):
        pass
    (span,) = consumer_spans(exporter)
    assert span.context.trace_id == producer.trace_id
    assert span.parent is not None and span.parent.span_id == producer.span_id
    assert [link.context.span_id for link in span.links] == [producer.span_id]


def test_parent_mode_from_the_environment(memory: Memory) -> None:
    provider, exporter = memory
    headers, producer = produced(provider)
    env = {"OTELKIT_KAFKA_CONSUMER_CONTEXT": "parent"}
    with process_span(Record(headers=headers), tracer_provider=provider, environ=env):
        pass
    assert consumer_spans(exporter)[0].context.trace_id == producer.trace_id


def test_parent_mode_makes_baggage_and_the_span_current(memory: Memory) -> None:
    provider, _ = memory
    headers, _ = produced(provider, baggage_value="acme")
    with process_span(Record(headers=headers), context="parent", tracer_provider=provider) as span:
        assert baggage.get_baggage("tenant") == "acme"
        assert trace.get_current_span() is span
    assert baggage.get_baggage("tenant") is None


def test_work_inside_the_block_is_a_child_of_the_process_span(memory: Memory) -> None:
    provider, exporter = memory
    with process_span(Record(), tracer_provider=provider, environ={}) as span:
        with provider.get_tracer("app").start_as_current_span("work"):
            pass
    work = next(s for s in exporter.get_finished_spans() if s.name == "work")
    assert work.parent is not None and work.parent.span_id == span.get_span_context().span_id


@pytest.mark.parametrize(
    "headers",
    [None, [], [("traceparent", b"garbage")], [("traceparent", b"\xff\xfe")], "junk", 5],
    ids=["none", "empty", "malformed", "non-utf8", "str-carrier", "int-carrier"],
)
def test_records_without_a_usable_context_get_a_span_without_link(memory: Memory, headers: Any) -> None:
    provider, exporter = memory
    with process_span(Record(headers=headers), context="parent", tracer_provider=provider):
        pass
    (span,) = consumer_spans(exporter)
    assert span.links == () and span.parent is None


def test_a_foreign_record_object_still_gets_a_span(memory: Memory) -> None:
    provider, exporter = memory
    with process_span(object(), tracer_provider=provider, environ={}):
        pass
    (span,) = consumer_spans(exporter)
    assert span.name == "process"


def test_confluent_message_fields_are_read_through_methods(memory: Memory) -> None:
    provider, exporter = memory
    headers, producer = produced(provider)
    with process_span(Message(headers), tracer_provider=provider, environ={}):
        pass
    (span,) = consumer_spans(exporter)
    attrs = span.attributes or {}
    assert (attrs[MESSAGING_DESTINATION_PARTITION_ID], attrs[MESSAGING_KAFKA_OFFSET]) == ("2", 9)
    assert span.links[0].context.span_id == producer.span_id


def test_exception_in_processing_marks_the_span_and_propagates(memory: Memory) -> None:
    provider, exporter = memory
    with pytest.raises(KeyError), process_span(Record(), tracer_provider=provider, environ={}):
        raise KeyError("x")
    assert consumer_spans(exporter)[0].status.status_code is StatusCode.ERROR


def test_bad_context_argument_raises() -> None:
    with pytest.raises(ValueError, match="context='child'"), process_span(Record(), context="child"):
        pass


class PythonConsumer:
    def __init__(self, result: Any) -> None:
        self.result = result

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        return self.result


def test_batch_poll_creates_one_span_linking_every_producer(memory: Memory) -> None:
    provider, exporter = memory
    produced_ctx = [produced(provider) for _ in range(3)]
    result = {("orders", 0): [Record(headers=h) for h, _ in produced_ctx[:2]], ("orders", 1): [Record(headers=produced_ctx[2][0])]}
    assert kafka_python_poll(PythonConsumer(result), tracer_provider=provider) is result
    (span,) = consumer_spans(exporter)
    assert (span.name, span.kind) == ("poll orders", SpanKind.CLIENT)
    attrs = span.attributes or {}
    assert (attrs[MESSAGING_BATCH_MESSAGE_COUNT], attrs[MESSAGING_OPERATION_TYPE]) == (3, "receive")
    assert [link.context.span_id for link in span.links] == [ctx.span_id for _, ctx in produced_ctx]


@pytest.mark.parametrize("empty", [{}, {("orders", 0): []}, [], None])
def test_empty_poll_creates_no_span(memory: Memory, empty: Any) -> None:
    provider, exporter = memory
    kafka_python_poll(PythonConsumer(empty), tracer_provider=provider)
    assert exporter.get_finished_spans() == ()


def test_links_are_capped_and_the_rest_counted(memory: Memory) -> None:
    provider, exporter = memory
    records = [Record(headers=produced(provider)[0]) for _ in range(5)]
    kafka_python_poll(PythonConsumer({("orders", 0): records}), max_links=2, tracer_provider=provider)
    (span,) = consumer_spans(exporter)
    assert len(span.links) == 2
    assert (span.attributes or {})[LINKS_DROPPED] == 3
    assert (span.attributes or {})[MESSAGING_BATCH_MESSAGE_COUNT] == 5


def test_default_link_cap_is_128(memory: Memory) -> None:
    provider, exporter = memory
    headers, _ = produced(provider)
    records = [Record(headers=headers) for _ in range(130)]
    kafka_python_poll(PythonConsumer({("orders", 0): records}), tracer_provider=provider)
    (span,) = consumer_spans(exporter)
    assert len(span.links) == 128 and (span.attributes or {})[LINKS_DROPPED] == 2


def test_batch_from_several_topics_has_no_destination(memory: Memory) -> None:
    provider, exporter = memory
    records = [Record(topic="a"), Record(topic="b")]
    kafka_python_poll(PythonConsumer({("a", 0): records[:1], ("b", 0): records[1:]}), tracer_provider=provider)
    (span,) = consumer_spans(exporter)
    assert span.name == "poll" and MESSAGING_DESTINATION_NAME not in (span.attributes or {})


class ConfluentConsumer:
    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]:
        return self.messages


def test_confluent_consume_skips_error_messages(memory: Memory) -> None:
    provider, exporter = memory
    headers, producer = produced(provider)
    messages = [Message(headers), Message(error="partition EOF")]
    assert confluent_consume(ConfluentConsumer(messages), 10, 0.1, tracer_provider=provider) is messages
    (span,) = consumer_spans(exporter)
    assert (span.attributes or {})[MESSAGING_BATCH_MESSAGE_COUNT] == 1


def test_confluent_consume_of_only_errors_creates_no_span(memory: Memory) -> None:
    provider, exporter = memory
    confluent_consume(ConfluentConsumer([Message(error="EOF")]), tracer_provider=provider)
    assert exporter.get_finished_spans() == ()


class AioConsumer:
    def __init__(self, result: Any) -> None:
        self.result = result

    async def getmany(self, *partitions: Any, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        return self.result


def test_aiokafka_getmany_creates_one_span(memory: Memory) -> None:
    provider, exporter = memory
    result = {("orders", 0): [Record(), Record()]}
    got = asyncio.run(aiokafka_getmany(AioConsumer(result), timeout_ms=10, tracer_provider=provider))
    assert got is result
    (span,) = consumer_spans(exporter)
    assert (span.attributes or {})[MESSAGING_BATCH_MESSAGE_COUNT] == 2


def test_garbage_poll_result_is_returned_without_a_span(memory: Memory) -> None:
    provider, exporter = memory
    assert kafka_python_poll(PythonConsumer(42), tracer_provider=provider) == 42
    assert exporter.get_finished_spans() == ()


def test_process_batch_wraps_the_batch_in_one_consumer_span(memory: Memory) -> None:
    provider, exporter = memory
    headers, producer = produced(provider)
    with process_batch([Record(headers=headers), Record()], tracer_provider=provider) as span:
        assert trace.get_current_span() is span
    (done,) = consumer_spans(exporter)
    assert (done.name, done.kind) == ("process orders", SpanKind.CONSUMER)
    assert [link.context.span_id for link in done.links] == [producer.span_id]


def test_process_batch_of_nothing_yields_none(memory: Memory) -> None:
    provider, exporter = memory
    with process_batch({}, tracer_provider=provider) as span:
        assert span is None
    assert exporter.get_finished_spans() == ()


def test_negative_link_cap_raises() -> None:
    with pytest.raises(ValueError, match="max_links=-1"):
        kafka_python_poll(PythonConsumer({}), max_links=-1)


def test_duplicate_traceparent_starts_a_new_trace_with_a_warning(
    memory: Memory, caplog: pytest.LogCaptureFixture
) -> None:
    provider, exporter = memory
    first = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    second = "00-" + "3" * 32 + "-" + "4" * 16 + "-01"
    headers = [("traceparent", first.encode()), ("traceparent", second.encode())]
    with caplog.at_level("WARNING", logger="otelkit.propagation"):
        with process_span(Record(headers=headers), context="parent", tracer_provider=provider):
            pass
    (span,) = consumer_spans(exporter)
    assert span.parent is None and span.links == ()
    assert span.context.trace_id not in (int("1" * 32, 16), int("3" * 32, 16))
    assert "malformed traceparent" in caplog.text
