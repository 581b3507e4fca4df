"""Trace-context seams of the live-room example: one function per carrier.

Each function uses the W3C propagator with a small local getter/setter today.

* SEAM(carriers): :func:`extract_message_context` reads the context a client put in a
  WebSocket message envelope; switch it to ``otelkit.propagation.websocket``.
* SEAM(kafka): :func:`inject_kafka_headers` / :func:`extract_kafka_context` write and read
  Kafka record headers; switch them to ``otelkit.propagation.kafka``'s setter/getter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otelkit.propagation._common import header_bytes, header_text

__all__ = ["extract_message_context", "inject_kafka_headers", "extract_kafka_context"]

_W3C = TraceContextTextMapPropagator()
_ENVELOPE_KEYS = ("traceparent", "tracestate")


class _EnvelopeGetter(Getter[Mapping[str, Any]]):
    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        text = header_text(carrier.get(key), key)
        return [text] if text is not None else None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [k for k in _ENVELOPE_KEYS if k in carrier]


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
    return _W3C.extract(message, getter=_EnvelopeGetter())


def inject_kafka_headers(headers: list[tuple[str, bytes]], context: Context | None = None) -> None:
    """SEAM(kafka): write the current (or given) context into Kafka record headers."""
    _W3C.inject(headers, context=context, setter=_KafkaSetter())


def extract_kafka_context(headers: Iterable[tuple[str, Any]] | None) -> Context:
    """SEAM(kafka): the producer's context from Kafka record headers (new trace if none)."""
    return _W3C.extract(list(headers or ()), getter=_KafkaGetter())
