"""Shared pieces of the Kafka producer and consumer helpers: record fields, attributes, tracer.

Nothing here imports a Kafka client: records and producers are duck-typed, so the same
code serves kafka-python, aiokafka and confluent-kafka (whose record fields are methods).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
    MessagingOperationTypeValues,
    MessagingSystemValues,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

__all__ = [
    "RecordFields",
    "record_fields",
    "base_attributes",
    "span_name",
    "get_tracer",
    "record_error",
    "key_text",
]

_TRACER_NAME = "otelkit.middleware.kafka"
_MAX_KEY_CHARS = 256


class RecordFields(NamedTuple):
    """The fields of a consumed record the helpers use (``None`` when unknown)."""

    topic: str | None
    partition: int | None
    offset: int | None
    key: object
    headers: object


def _field(record: object, name: str) -> Any:
    """``record.name``, or ``record.name()`` for confluent-kafka; ``None`` on any failure."""
    try:
        value = getattr(record, name, None)
        if callable(value):
            value = value()
        return value
    except Exception:  # noqa: BLE001 - a foreign record type must not break consumption
        return None


def record_fields(record: object) -> RecordFields:
    """Topic, partition, offset, key and headers of any client's record; never raises."""
    topic = _field(record, "topic")
    partition = _field(record, "partition")
    offset = _field(record, "offset")
    return RecordFields(
        topic if isinstance(topic, str) else None,
        partition if isinstance(partition, int) and partition >= 0 else None,
        offset if isinstance(offset, int) and offset >= 0 else None,
        _field(record, "key"),
        _field(record, "headers"),
    )


def key_text(key: object) -> str | None:
    """A message key as text for ``messaging.kafka.message.key`` (at most 256 characters).

    ``str`` keys and UTF-8 ``bytes`` keys are recorded; binary keys (not UTF-8) are not
    strings, so they are left out, as the semantic conventions record string keys only.
    """
    if isinstance(key, str):
        return key[:_MAX_KEY_CHARS]
    if isinstance(key, (bytes, bytearray, memoryview)):
        try:
            return bytes(key[: _MAX_KEY_CHARS * 4]).decode("utf-8")[:_MAX_KEY_CHARS]
        except UnicodeDecodeError:
            return None
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return str(key)
    return None


def base_attributes(
    operation: MessagingOperationTypeValues,
    operation_name: str,
    topic: str | None,
    *,
    partition: int | None = None,
    key: object = None,
    offset: int | None = None,
    consumer_group: str | None = None,
) -> dict[str, AttributeValue]:
    """The messaging semantic-convention attributes of one Kafka span."""
    attrs: dict[str, AttributeValue] = {
        MESSAGING_SYSTEM: MessagingSystemValues.KAFKA.value,
        MESSAGING_OPERATION_TYPE: operation.value,
        MESSAGING_OPERATION_NAME: operation_name,
    }
    if topic:
        attrs[MESSAGING_DESTINATION_NAME] = topic
    if partition is not None:
        attrs[MESSAGING_DESTINATION_PARTITION_ID] = str(partition)
    text = key_text(key)
    if text is not None:
        attrs[MESSAGING_KAFKA_MESSAGE_KEY] = text
    if offset is not None:
        attrs[MESSAGING_KAFKA_OFFSET] = offset
    if consumer_group:
        attrs[MESSAGING_CONSUMER_GROUP_NAME] = consumer_group
    return attrs


def span_name(operation_name: str, topic: str | None) -> str:
    """``"{operation} {destination}"``, or just the operation when the destination is unknown."""
    return f"{operation_name} {topic}" if topic else operation_name


def get_tracer(tracer_provider: trace.TracerProvider | None) -> trace.Tracer:
    """The helpers' tracer from ``tracer_provider`` (default: the global provider)."""
    return trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)


def record_error(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc`` (status ERROR, ``error.type``, exception event)."""
    span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, str(exc)[:256]))
