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
from collections.abc import Iterator, Sequence
from typing import Any, overload

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext

from otelkit._warn import warn_limited
from otelkit.exporter._request import group_spans, write_parts
from otelkit.exporter._routes import Route, Routes
from otelkit.exporter._wire import VARINTS, utf8, varint
from otelkit.exporter.encoder import PLAIN_SPANS, SpanEncoder

__all__ = [
    "EncodedSpan",
    "EncodedBatch",
    "encode_span",
    "encode_held",
    "encode_sampled",
    "encode_each",
    "request_parts",
    "encode_request",
    "encode_request_into",
    "split_requests",
]

_logger = logging.getLogger("otelkit.exporter.encoder")

_ENCODER = SpanEncoder()  # caches shared by every caller (single dict operations are atomic)
_ROUTES = Routes(_ENCODER)


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


_span_body = _ENCODER.span_body
_BY_SCOPE = _ROUTES.by_scope
_route = _ROUTES.route


def encode_held(span: ReadableSpan) -> tuple[bytes, Route]:
    """``span`` as the batcher holds it: its ``Span`` message bytes and its route (a small
    int for its resource and scope, see :mod:`otelkit.exporter._routes`). Neither is a
    container the cyclic GC tracks. Raises as :func:`encode_span` does."""
    if type(span) in PLAIN_SPANS:
        resource, scope = span._resource, span._instrumentation_scope or None
    else:
        resource, scope = span.resource, span.instrumentation_scope or None
    hit = _BY_SCOPE.get(id(scope))
    if hit is not None and hit[0] is scope and hit[1] is resource:
        route = hit[2]
    else:
        route = _route(resource, scope)
    return _span_body(span)[0], route


def encode_sampled(span: ReadableSpan) -> tuple[bytes, Route] | None:
    """:func:`encode_held` for a sampled span; ``None`` for a span a batcher ignores (not
    sampled, or without a context). For the SDK's span classes the flags are read from the
    span's fields (no property calls: this is the batcher's whole ``on_end``)."""
    if type(span) in PLAIN_SPANS:
        ctx = span._context
        resource, scope = span._resource, span._instrumentation_scope or None
    else:
        ctx = span.context
        resource, scope = span.resource, span.instrumentation_scope or None
    if type(ctx) is SpanContext:  # a tuple: index 3 is the trace flags
        if not ctx[3] & 1:
            return None
    elif ctx is None or not ctx.trace_flags & 1:
        return None
    hit = _BY_SCOPE.get(id(scope))
    if hit is not None and hit[0] is scope and hit[1] is resource:
        route = hit[2]
    else:
        route = _route(resource, scope)
    return _span_body(span)[0], route


def _held_span(data: bytes, route: Route) -> EncodedSpan:
    resource, scope = _ROUTES.pair(route)
    return EncodedSpan(data, resource, scope, int.from_bytes(data[2:18], "big"))  # data opens with the trace ID


class EncodedBatch(Sequence[EncodedSpan]):
    """Spans as the batcher held them (:func:`encode_held`): parallel lists of ``Span``
    bytes and routes. A ``Sequence[EncodedSpan]`` (an item is built when it is read; its
    resource and scope are the first of their content seen, equal and encoding the same
    bytes as the span's own); slices are batches. :func:`request_parts` and
    :func:`split_requests` read the lists directly."""

    __slots__ = ("datas", "routes")

    def __init__(self, datas: list[bytes], routes: list[Route]) -> None:
        self.datas = datas
        self.routes = routes

    def __len__(self) -> int:
        return len(self.datas)

    @overload
    def __getitem__(self, index: int) -> EncodedSpan: ...

    @overload
    def __getitem__(self, index: slice) -> EncodedBatch: ...

    def __getitem__(self, index: int | slice) -> EncodedSpan | EncodedBatch:
        if isinstance(index, slice):
            return EncodedBatch(self.datas[index], self.routes[index])
        return _held_span(self.datas[index], self.routes[index])

    def __iter__(self) -> Iterator[EncodedSpan]:
        for data, route in zip(self.datas, self.routes, strict=True):
            yield _held_span(data, route)

    def __repr__(self) -> str:
        return f"EncodedBatch({len(self.datas)} spans, {sum(map(len, self.datas))} bytes)"


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


_FRAMES = [b"\x12" + v for v in VARINTS]  # ScopeSpans.spans tag + length, by length


def _frame(members: list[EncodedSpan], out: list[bytes]) -> int:
    for span in members:
        out.append(b"\x12" + varint(span.size))
        out.append(span.data)
    return 0


def _frame_datas(datas: list[bytes], out: list[bytes]) -> int:
    frames, cut = _FRAMES, len(_FRAMES)
    append = out.append
    for data in datas:
        n = len(data)
        append(frames[n] if n < cut else b"\x12" + varint(n))
        append(data)
    return 0


def _routes_seen(batch: EncodedBatch) -> list[Route]:
    """The batch's distinct routes in first-seen order (one route: one comparison pass)."""
    routes = batch.routes
    first = routes[0]
    if routes.count(first) == len(routes):
        return [first]
    return list(dict.fromkeys(routes))


def request_parts(spans: Sequence[EncodedSpan]) -> list[bytes]:
    """The ``ExportTraceServiceRequest`` of ``spans`` as pieces to concatenate (grouped by
    resource, then scope, in first-seen order, as the SDK's ``encode_spans``)."""
    if type(spans) is EncodedBatch:
        if not spans.datas:
            return []
        pair = _ROUTES.pair
        routes = _routes_seen(spans)
        if len(routes) == 1:
            resource, scope = pair(routes[0])
            return _ENCODER.request_parts([(resource, [(scope, spans.datas)])], _frame_datas)[0]
        keys = [pair(r) for r in spans.routes]  # the first pair of each route: one dict hit per span
        return _ENCODER.request_parts(group_spans(spans.datas, keys), _frame_datas)[0]
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
    if type(spans) is EncodedBatch:
        pairs = [_ROUTES.pair(r) for r in _routes_seen(spans)]
        bound = sum(map(len, spans.datas)) + FRAME_MAX * len(spans.datas)
        bound += sum(_resource_cost(res) + _scope_cost(scope) for res, scope in pairs)
        if bound <= max_bytes:  # the whole batch fits for sure: no per-span sizing
            return [spans]
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
