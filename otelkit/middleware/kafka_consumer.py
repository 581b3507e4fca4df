"""Traced Kafka consumption for aiokafka, kafka-python and confluent-kafka.

Two span shapes, both following the messaging semantic conventions:

* **one message**: :func:`process_span` wraps the application's handling of one record in a
  ``CONSUMER`` span ``process {topic}``. The producer's context (from the record headers) is
  always added as a **link**; with ``context="parent"`` the span also *continues* the
  producer's trace (and its baggage). The default is ``link`` (``OTELKIT_KAFKA_CONSUMER_CONTEXT``),
  which the semantic conventions require for every consumer span, keeping the consumer's own
  trace intact; choose ``parent`` for one end-to-end trace per message.
* **one batch**: :func:`aiokafka_getmany`, :func:`kafka_python_poll` and
  :func:`confluent_consume` call their client's batch fetch and record one ``CLIENT`` span
  ``poll {topic}`` (operation type ``receive``) covering the fetch, with
  ``messaging.batch.message_count`` and one link per record's producer context, capped at
  ``max_links`` (``OTELKIT_KAFKA_MAX_LINKS``, default 128; the number left out is recorded in
  ``otelkit.kafka.links_dropped``). An empty poll creates **no** span. :func:`process_batch`
  is the same as a ``CONSUMER`` ``process`` span around the application's batch handling.

A batch from several topics has no ``messaging.destination.name`` and is named by the
operation alone. Record fields are read defensively: a malformed record never breaks
consumption, and header values may be bytes, str or None (see :mod:`otelkit.propagation.kafka`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_BATCH_MESSAGE_COUNT,
    MessagingOperationTypeValues,
)
from opentelemetry.trace import Link, Span, SpanContext, SpanKind

from otelkit import config
from otelkit._parse import check_range
from otelkit._warn import warn_limited
from otelkit.middleware._kafka import (
    base_attributes,
    get_tracer,
    record_error,
    record_fields,
    span_name,
)
from otelkit.propagation._context import extract_context
from otelkit.propagation.kafka import kafka_getter

__all__ = [
    "LINKS_DROPPED",
    "process_span",
    "process_batch",
    "aiokafka_getmany",
    "kafka_python_poll",
    "confluent_consume",
    "producer_context",
]

_logger = logging.getLogger("otelkit.middleware.kafka")

LINKS_DROPPED = "otelkit.kafka.links_dropped"
"""Span attribute: producer links left out of a batch span because of ``max_links``."""

_PROCESS = "process"
_POLL = "poll"


def producer_context(record: object) -> otel_context.Context:
    """The context propagated in ``record``'s headers (empty when there is none)."""
    return extract_context(record_fields(record).headers, kafka_getter, "kafka")


def _span_context(ctx: otel_context.Context) -> SpanContext | None:
    span_ctx = trace.get_current_span(ctx).get_span_context()
    return span_ctx if span_ctx.is_valid else None


@contextmanager
def process_span(
    record: object,
    *,
    context: str | None = None,
    consumer_group: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[Span]:
    """A ``process {topic}`` CONSUMER span around the handling of one record.

    Args:
        record: a kafka-python/aiokafka ``ConsumerRecord`` or a confluent-kafka ``Message``.
        context: ``link`` or ``parent`` (default ``OTELKIT_KAFKA_CONSUMER_CONTEXT``: ``link``).
        consumer_group: recorded as ``messaging.consumer.group.name`` when given.
        tracer_provider: default the global one.
        environ: environment mapping to read (default ``os.environ``).

    Raises:
        ValueError: ``context`` is not ``link`` or ``parent``.
    """
    if context is not None and context not in ("link", "parent"):
        raise ValueError(f"context={context!r} is invalid: expected 'link' or 'parent'")
    mode = config.OTELKIT_KAFKA_CONSUMER_CONTEXT.resolve(context, environ)
    fields = record_fields(record)
    extracted = extract_context(fields.headers, kafka_getter, "kafka")
    producer = _span_context(extracted)
    attrs = base_attributes(
        MessagingOperationTypeValues.PROCESS,
        _PROCESS,
        fields.topic,
        partition=fields.partition,
        key=fields.key,
        offset=fields.offset,
        consumer_group=consumer_group,
    )
    # Parent mode: the extracted context (producer span and baggage) is current for the block.
    token = otel_context.attach(extracted) if mode == "parent" and producer is not None else None
    try:
        with get_tracer(tracer_provider).start_as_current_span(
            span_name(_PROCESS, fields.topic),
            kind=SpanKind.CONSUMER,
            attributes=attrs,
            links=[Link(producer)] if producer is not None else None,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                record_error(span, exc)
                raise
    finally:
        if token is not None:
            otel_context.detach(token)


def _check_max_links(max_links: int | None) -> None:
    if max_links is not None:
        check_range("max_links", max_links, lo=0, integer=True)


def _flatten(records: object) -> list[object]:
    """Records of a ``{TopicPartition: [records]}`` dict or an iterable, as one list."""
    if records is None:
        return []
    if isinstance(records, Mapping):
        return [rec for batch in records.values() for rec in batch]
    if isinstance(records, Iterable) and not isinstance(records, (str, bytes)):
        return list(records)
    return []


def _batch_parts(
    records: list[object], max_links: int
) -> tuple[str | None, list[Link], int]:
    topics: set[str] = set()
    links: list[Link] = []
    dropped = 0
    for rec in records:
        fields = record_fields(rec)
        if fields.topic:
            topics.add(fields.topic)
        producer = _span_context(extract_context(fields.headers, kafka_getter, "kafka"))
        if producer is None:
            continue
        if len(links) < max_links:
            links.append(Link(producer))
        else:
            dropped += 1
    topic = next(iter(topics)) if len(topics) == 1 else None
    return topic, links, dropped


def _batch_span(
    records: list[object],
    operation: MessagingOperationTypeValues,
    operation_name: str,
    kind: SpanKind,
    *,
    max_links: int | None,
    consumer_group: str | None,
    tracer_provider: trace.TracerProvider | None,
    start_time: int | None = None,
) -> Span:
    cap = config.OTELKIT_KAFKA_MAX_LINKS.resolve(max_links)
    topic, links, dropped = _batch_parts(records, cap)
    attrs = base_attributes(operation, operation_name, topic, consumer_group=consumer_group)
    attrs[MESSAGING_BATCH_MESSAGE_COUNT] = len(records)
    if dropped:
        attrs[LINKS_DROPPED] = dropped
    return get_tracer(tracer_provider).start_span(
        span_name(operation_name, topic), kind=kind, attributes=attrs, links=links, start_time=start_time
    )


@contextmanager
def process_batch(
    records: object,
    *,
    max_links: int | None = None,
    consumer_group: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> Iterator[Span | None]:
    """One ``process {topic}`` CONSUMER span around the handling of a whole batch.

    ``records`` is what the batch fetch returned (a ``{TopicPartition: [records]}`` dict or a
    list). Yields ``None`` and creates no span when the batch is empty.
    """
    _check_max_links(max_links)
    batch = _flatten(records)
    if not batch:
        yield None
        return
    span = _batch_span(
        batch,
        MessagingOperationTypeValues.PROCESS,
        _PROCESS,
        SpanKind.CONSUMER,
        max_links=max_links,
        consumer_group=consumer_group,
        tracer_provider=tracer_provider,
    )
    with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            yield span
        except BaseException as exc:
            record_error(span, exc)
            raise


def _receive(
    result: object,
    start_ns: int,
    max_links: int | None,
    consumer_group: str | None,
    tracer_provider: trace.TracerProvider | None,
) -> None:
    try:
        batch = [rec for rec in _flatten(result) if _field_error(rec) is None]
        if not batch:
            return
        span = _batch_span(
            batch,
            MessagingOperationTypeValues.RECEIVE,
            _POLL,
            SpanKind.CLIENT,
            max_links=max_links,
            consumer_group=consumer_group,
            tracer_provider=tracer_provider,
            start_time=start_ns,
        )
        span.end()
    except Exception:  # noqa: BLE001 - the fetched records must reach the application
        _logger.debug("recording a Kafka poll span failed", exc_info=True)
        warn_limited(_logger, "kafka-receive-span", "recording a Kafka poll span failed")


def _field_error(record: object) -> object:
    """confluent-kafka's ``Message.error()`` (other clients' records have none)."""
    error = getattr(record, "error", None)
    if not callable(error):
        return None
    try:
        return error()
    except Exception:  # noqa: BLE001
        return None


async def aiokafka_getmany(
    consumer: Any,
    *partitions: Any,
    timeout_ms: int = 0,
    max_records: int | None = None,
    max_links: int | None = None,
    consumer_group: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> Any:
    """``AIOKafkaConsumer.getmany`` plus one ``poll`` span per non-empty batch."""
    _check_max_links(max_links)
    start = time.time_ns()
    result = await consumer.getmany(*partitions, timeout_ms=timeout_ms, max_records=max_records)
    _receive(result, start, max_links, consumer_group, tracer_provider)
    return result


def kafka_python_poll(
    consumer: Any,
    timeout_ms: int = 0,
    max_records: int | None = None,
    *,
    max_links: int | None = None,
    consumer_group: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> Any:
    """``kafka.KafkaConsumer.poll`` plus one ``poll`` span per non-empty batch."""
    _check_max_links(max_links)
    start = time.time_ns()
    result = consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
    _receive(result, start, max_links, consumer_group, tracer_provider)
    return result


def confluent_consume(
    consumer: Any,
    num_messages: int = 1,
    timeout: float = -1,
    *,
    max_links: int | None = None,
    consumer_group: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> Any:
    """``confluent_kafka.Consumer.consume`` plus one ``poll`` span per non-empty batch.

    Messages carrying an error (``msg.error()`` not ``None``) are returned but neither
    counted nor linked.
    """
    _check_max_links(max_links)
    start = time.time_ns()
    result = consumer.consume(num_messages=num_messages, timeout=timeout)
    _receive(result, start, max_links, consumer_group, tracer_provider)
    return result
