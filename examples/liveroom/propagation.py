"""Trace-context seam of the live-room example for WebSocket messages.

:func:`extract_message_context` reads the context a client put in a WebSocket JSON
message's ``"_otel"`` member (the envelope of ``otelkit.propagation.websocket``:
``{"_otel": {"traceparent": "00-..."}, ...}``), with the W3C propagator and a small local
getter (same wire format) when that module is not installed. Kafka record headers are
handled by otelkit's Kafka helpers (:mod:`otelkit.middleware.kafka`) in
:mod:`examples.liveroom.persistence`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter

from otelkit.propagation._common import header_text

__all__ = ["ENVELOPE_FIELD", "extract_message_context"]

ENVELOPE_FIELD = "_otel"
"""JSON member of a WebSocket message that holds its propagation fields."""


class _FieldsGetter(Getter[Mapping[str, Any]]):
    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        text = header_text(carrier.get(key), key)
        return [text] if text is not None else None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [k for k in carrier if isinstance(k, str)]


def extract_message_context(message: Mapping[str, Any]) -> Context:
    """SEAM(carriers): the sender's context from a JSON message envelope (new trace if none)."""
    try:
        from otelkit.propagation.websocket import extract_json
    except ImportError:
        fields = message.get(ENVELOPE_FIELD)
        return propagate.extract(fields if isinstance(fields, Mapping) else {}, getter=_FieldsGetter())
    return extract_json(message) or Context()
