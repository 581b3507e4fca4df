"""Traced Kafka produce for aiokafka, kafka-python and confluent-kafka.

Each helper wraps one send call of its client: it starts a ``PRODUCER`` span named
``send {topic}`` with the messaging semantic-convention attributes
(``messaging.system=kafka``, ``messaging.destination.name``, ``messaging.operation.type=send``,
``messaging.operation.name=send``, ``messaging.kafka.message.key``, and
``messaging.destination.partition.id`` when the partition is chosen by the caller or known
from the acknowledgement), injects that span's context (``traceparent``, ``tracestate``,
``baggage``) into a *copy* of the message headers, and calls the client. Errors raised by the
client mark the span failed and propagate unchanged; the helpers add no failure of their own.

The caller's headers may be ``None``, a list or tuple of ``(str, bytes)`` pairs, or (for
confluent-kafka) a dict; they are never modified.

Example (aiokafka)::

    from otelkit.middleware.kafka import aiokafka_send
    await aiokafka_send(producer, "orders", b"payload", key=b"order-1", wait=True)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_OFFSET,
    MessagingOperationTypeValues,
)
from opentelemetry.trace import Span, SpanKind

from otelkit._warn import warn_limited
from otelkit.middleware._kafka import base_attributes, get_tracer, record_error, span_name
from otelkit.propagation.kafka import kafka_setter

__all__ = ["aiokafka_send", "kafka_python_send", "confluent_produce", "producer_span"]

_logger = logging.getLogger("otelkit.middleware.kafka")

_SEND = "send"


def _headers_with_context(headers: object, span: Span) -> Any:
    """A copy of ``headers`` (list of pairs) with ``span``'s context injected into it."""
    if headers is None:
        out: list[Any] = []
    elif isinstance(headers, Mapping):
        out = list(headers.items())
    elif isinstance(headers, (list, tuple)):
        out = list(headers)
    else:
        warn_limited(
            _logger,
            "kafka-produce-headers:" + type(headers).__name__,
            "Kafka headers of type %s: allowed list, tuple, dict or None; sending them without "
            "trace context",
            type(headers).__name__,
        )
        return headers
    propagate.inject(out, context=trace.set_span_in_context(span), setter=kafka_setter)
    return out


@contextmanager
def producer_span(
    topic: str,
    headers: object = None,
    *,
    key: object = None,
    partition: int | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> Iterator[tuple[Span, Any]]:
    """A ``send {topic}`` PRODUCER span and the headers to send with it.

    For clients without a dedicated helper: ``with producer_span(topic, headers) as (span,
    hdrs): client.send(topic, ..., headers=hdrs)``. An exception leaving the block marks the
    span failed and propagates.
    """
    tracer = get_tracer(tracer_provider)
    attrs = base_attributes(
        MessagingOperationTypeValues.SEND, _SEND, topic, partition=partition, key=key
    )
    with tracer.start_as_current_span(
        span_name(_SEND, topic),
        kind=SpanKind.PRODUCER,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span, _headers_with_context(headers, span)
        except BaseException as exc:
            record_error(span, exc)
            raise


def _record_metadata(span: Span, metadata: object) -> None:
    partition = getattr(metadata, "partition", None)
    offset = getattr(metadata, "offset", None)
    if isinstance(partition, int) and partition >= 0:
        span.set_attribute(MESSAGING_DESTINATION_PARTITION_ID, str(partition))
    if isinstance(offset, int) and offset >= 0:
        span.set_attribute(MESSAGING_KAFKA_OFFSET, offset)


async def aiokafka_send(
    producer: Any,
    topic: str,
    value: Any = None,
    key: Any = None,
    *,
    partition: int | None = None,
    headers: object = None,
    timestamp_ms: int | None = None,
    wait: bool = False,
    tracer_provider: trace.TracerProvider | None = None,
    **kwargs: Any,
) -> Any:
    """``AIOKafkaProducer.send`` with a producer span and injected context.

    Other keyword arguments go to ``send`` unchanged. Returns what ``send`` returns (a future of the ``RecordMetadata``), or, with
    ``wait=True``, the awaited ``RecordMetadata`` (the span then covers the broker
    acknowledgement and records partition and offset).
    """
    with producer_span(topic, headers, key=key, partition=partition, tracer_provider=tracer_provider) as (
        span,
        hdrs,
    ):
        future = await producer.send(
            topic, value=value, key=key, partition=partition, timestamp_ms=timestamp_ms, headers=hdrs, **kwargs
        )
        if not wait:
            return future
        metadata = await future
        _record_metadata(span, metadata)
        return metadata


def kafka_python_send(
    producer: Any,
    topic: str,
    value: Any = None,
    key: Any = None,
    *,
    partition: int | None = None,
    headers: object = None,
    timestamp_ms: int | None = None,
    wait_s: float | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    **kwargs: Any,
) -> Any:
    """``kafka.KafkaProducer.send`` with a producer span and injected context.

    Other keyword arguments go to ``send`` unchanged. Returns the ``FutureRecordMetadata``, or, when ``wait_s`` (seconds) is given, the
    ``RecordMetadata`` obtained with ``future.get(timeout=wait_s)`` inside the span.
    """
    with producer_span(topic, headers, key=key, partition=partition, tracer_provider=tracer_provider) as (
        span,
        hdrs,
    ):
        future = producer.send(
            topic, value=value, key=key, partition=partition, timestamp_ms=timestamp_ms, headers=hdrs, **kwargs
        )
        if wait_s is None:
            return future
        metadata = future.get(timeout=wait_s)
        _record_metadata(span, metadata)
        return metadata


def confluent_produce(
    producer: Any,
    topic: str,
    value: Any = None,
    key: Any = None,
    *,
    partition: int | None = None,
    headers: object = None,
    on_delivery: Any = None,
    tracer_provider: trace.TracerProvider | None = None,
    **kwargs: Any,
) -> None:
    """``confluent_kafka.Producer.produce`` with a producer span and injected context.

    Other keyword arguments (``timestamp``, ...) go to ``produce`` unchanged. The span covers
    the (non-blocking) ``produce`` call; delivery is reported to
    ``on_delivery`` as usual, from the application's own ``poll``/``flush``.
    """
    with producer_span(topic, headers, key=key, partition=partition, tracer_provider=tracer_provider) as (
        _span,
        hdrs,
    ):
        args: dict[str, Any] = {"value": value, "key": key, "headers": hdrs, **kwargs}
        if partition is not None:
            args["partition"] = partition
        if on_delivery is not None:
            args["on_delivery"] = on_delivery
        producer.produce(topic, **args)
