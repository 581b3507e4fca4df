"""Ended spans as bytes: :class:`EncodedSpan`, and requests assembled by concatenation.

A processor that encodes each span when it ends (``encode_span``) holds a few hundred
bytes per span instead of the SDK's span object graph: nothing for the cyclic GC to walk,
and a batch becomes an ``ExportTraceServiceRequest`` by concatenating the held bytes under
the (cached) resource and scope headers. The request is byte-identical to the SDK's
``encode_spans(spans).SerializeToString()`` for the same spans in the same order.

Example::

    from otelkit.exporter._encoded import encode_span, encode_request
    held = [encode_span(s) for s in ended_spans]      # at on_end
    payload = encode_request(held)                     # at export
    exporter.export_encoded(held)                      # OtlpHttpSpanExporter / KafkaSpanExporter
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from otelkit._warn import warn_limited
from otelkit.exporter._request import group_spans, write_parts
from otelkit.exporter._wire import utf8, varint
from otelkit.exporter.encoder import SpanEncoder

__all__ = [
    "EncodedSpan",
    "encode_span",
    "encode_each",
    "request_parts",
    "encode_request",
    "encode_request_into",
    "split_requests",
]

_logger = logging.getLogger("otelkit.exporter.encoder")

_ENCODER = SpanEncoder()  # caches shared by every caller (single dict operations are atomic)


class EncodedSpan:
    """One ended span as the bytes of its OTLP ``Span`` message, plus what routes it.

    Attributes:
        data: the serialized ``opentelemetry.proto.trace.v1.Span`` message (no field tag
            or length prefix: ``Span.FromString(data)`` parses it).
        resource: the span's SDK ``Resource`` (shared, not copied).
        scope: the span's ``InstrumentationScope`` or ``None`` (shared, not copied).
        trace_id: the 128-bit trace ID as an int.
        size: ``len(data)`` in bytes; inside a request the span costs ``size`` plus at most
            6 bytes of framing (:data:`FRAME_MAX`).

    Holds no reference to the SDK span; the only references it keeps are to the resource
    and scope, which every span of a provider already shares.
    """

    __slots__ = ("data", "resource", "scope", "trace_id", "size")

    def __init__(self, data: bytes, resource: Any, scope: Any, trace_id: int) -> None:
        self.data = data
        self.resource = resource
        self.scope = scope
        self.trace_id = trace_id
        self.size = len(data)

    def __repr__(self) -> str:
        return f"EncodedSpan(trace_id={self.trace_id:032x}, size={self.size})"


FRAME_MAX = 6
"""Largest framing of one span in a request: tag (1 byte) + length varint (<= 5 bytes)."""


def encode_span(span: ReadableSpan) -> EncodedSpan:
    """``span`` encoded now. Raises what reading a broken span raises (never for text:
    invalid UTF-8 is replaced by U+FFFD); :func:`encode_each` counts instead."""
    data, trace_id = _ENCODER.span_body(span)
    return EncodedSpan(data, span.resource, span.instrumentation_scope or None, trace_id)


def encode_each(spans: Sequence[ReadableSpan]) -> tuple[list[EncodedSpan], int]:
    """Every span of ``spans`` that can be encoded, and how many could not (left out, with
    a rate-limited warning naming the first span and the error)."""
    out: list[EncodedSpan] = []
    failed = 0
    body = _ENCODER.span_body
    for span in spans:
        try:
            data, trace_id = body(span)
            out.append(EncodedSpan(data, span.resource, span.instrumentation_scope or None, trace_id))
        except Exception as exc:  # noqa: BLE001 - one broken span must not lose the batch
            failed += 1
            warn_limited(_logger, "encode-span", "cannot encode span %r: %r; dropping it",
                         getattr(span, "name", span), exc)
    return out, failed


def _frame(members: list[EncodedSpan], out: list[bytes]) -> int:
    for span in members:
        out.append(b"\x12" + varint(span.size))
        out.append(span.data)
    return 0


def request_parts(spans: Sequence[EncodedSpan]) -> list[bytes]:
    """The ``ExportTraceServiceRequest`` of ``spans`` as pieces to concatenate (grouped by
    resource, then scope, in first-seen order, as the SDK's ``encode_spans``)."""
    groups = group_spans(spans, [(s.resource, s.scope) for s in spans])
    return _ENCODER.request_parts(groups, _frame)[0]


def encode_request(spans: Sequence[EncodedSpan]) -> bytes:
    """The ``ExportTraceServiceRequest`` of ``spans`` as bytes."""
    return b"".join(request_parts(spans))


def encode_request_into(spans: Sequence[EncodedSpan], buf: bytearray) -> int:
    """Write the request of ``spans`` at the start of ``buf`` (grown if too short); return
    its length: the request is ``buf[:n]``."""
    return write_parts(request_parts(spans), buf)


def split_requests(spans: Sequence[EncodedSpan], max_bytes: int) -> list[Sequence[EncodedSpan]]:
    """``spans`` cut, in order, into runs whose request is at most ``max_bytes`` (a span
    whose request alone is larger goes alone). Sizes come from the held bytes and the cached
    resource/scope headers (exact per span, at most 4 bytes over per resource and scope
    group): nothing is encoded twice."""
    if not spans:
        return []
    runs: list[Sequence[EncodedSpan]] = []
    start = 0
    total = 0
    seen: set[tuple[int, int]] = set()
    seen_res: set[int] = set()
    for i, span in enumerate(spans):
        cost = span.size + 1 + len(varint(span.size))
        res, scope = span.resource, span.scope
        if id(res) not in seen_res:
            cost += _resource_cost(res)
        if (id(res), id(scope)) not in seen:
            cost += _scope_cost(scope)
        if i > start and total + cost > max_bytes:
            runs.append(spans[start:i])
            start, total = i, 0
            seen.clear()
            seen_res.clear()
            cost = span.size + 1 + len(varint(span.size)) + _resource_cost(res) + _scope_cost(scope)
        seen_res.add(id(res))
        seen.add((id(res), id(scope)))
        total += cost
    runs.append(spans[start:])
    return runs


def _resource_cost(resource: Any) -> int:
    schema = resource.schema_url
    return FRAME_MAX + len(_ENCODER.resource_bytes(resource)) + (FRAME_MAX + len(utf8(schema)) if schema else 0)


def _scope_cost(scope: Any) -> int:
    schema = scope.schema_url if scope is not None else None
    return FRAME_MAX + len(_ENCODER.scope_bytes(scope)) + (FRAME_MAX + len(utf8(schema)) if schema else 0)
