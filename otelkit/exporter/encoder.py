"""OTLP trace encoding: ``ReadableSpan`` sequence -> ``ExportTraceServiceRequest`` wire bytes.

Interim implementation backed by the SDK's ``encode_spans``; the direct encoder replaces
the body of :meth:`SpanEncoder.encode` and keeps its signature.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["SpanEncoder"]


class SpanEncoder:
    """Encode spans to the bytes of one ``ExportTraceServiceRequest``."""

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        return bytes(encode_spans(spans).SerializeToString())
