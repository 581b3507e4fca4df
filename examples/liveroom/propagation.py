"""Trace-context seams of the live-room example: one function per carrier.

Each seam uses otelkit's shared carrier when it is installed and otherwise the W3C
propagator with a small local getter/setter (same wire format), so the example works with
or without those modules:

* SEAM(carriers): :func:`extract_message_context` reads the context a client put in a
  WebSocket JSON message's ``"_otel"`` member (the envelope of
  ``otelkit.propagation.websocket``: ``{"_otel": {"traceparent": "00-..."}, ...}``).
* SEAM(kafka): :func:`inject_kafka_headers` / :func:`extract_kafka_context` write and read
  Kafka record headers (``otelkit.propagation.kafka``'s setter/getter: a list of
  ``(str, bytes)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter

from otelkit.propagation._common import header_bytes, header_text

__all__ = ["ENVELOPE_FIELD", "extract_message_context", "inject_kafka_headers", "extract_kafka_context"]

ENVELOPE_FIELD = "_otel"
"""JSON member of a WebSocket message that holds its propagation fields."""


class _FieldsGetter(Getter[Mapping[str, Any]]):
    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        text = header_text(carrier.get(key), key)
        return [text] if text is not None else None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [k for k in carrier if isinstance(k, str)]


class _KafkaGetter(Getter[Iterable[tuple[str, Any]]]):
    def get(self, carrier: Iterable[tuple[str, Any]], key: str) -> list[str] | None:
        values = [t for k, v in carrier if k.lower() == key and (t := header_text(v, key)) is not None]
        return values or None

    def keys(self, carrier: Iterable[tuple[str, Any]]) -> list[str]:
        return [k for k, _ in carrier]


class _KafkaSetter(Setter[list[tuple[str, bytes]]]):
    def set(self, carrier: list[tuple[str, bytes]], key: str, value: str) -> None:
        carrier[:] = [(k, v) for k, v in carrier if k != key]
        carrier.append((key, header_bytes(value)))


def extract_message_context(message: Mapping[str, Any]) -> Context:
    """SEAM(carriers): the sender's context from a JSON message envelope (new trace if none)."""
    try:
        from otelkit.propagation.websocket import extract_json
    except ImportError:
        fields = message.get(ENVELOPE_FIELD)
        return propagate.extract(fields if isinstance(fields, Mapping) else {}, getter=_FieldsGetter())
    return extract_json(message) or Context()


def inject_kafka_headers(headers: list[tuple[str, bytes]], context: Context | None = None) -> None:
    """SEAM(kafka): write the current (or given) context into Kafka record headers."""
    try:
        from otelkit.propagation.kafka import kafka_setter
    except ImportError:
        propagate.inject(headers, context=context, setter=_KafkaSetter())
        return
    propagate.inject(headers, context=context, setter=kafka_setter)


def extract_kafka_context(headers: Iterable[tuple[str, Any]] | None) -> Context:
    """SEAM(kafka): the producer's context from Kafka record headers (new trace if none)."""
    try:
        from otelkit.propagation.kafka import kafka_getter
    except ImportError:
        return propagate.extract(list(headers or ()), getter=_KafkaGetter())
    return propagate.extract(list(headers or ()), getter=kafka_getter)
