"""Spans-topic messages as span records: each span's own bytes, sliced off the wire.

Both producers this reads write the same bytes: otelkit's ``otelkit_kafka`` exporter and
the OpenTelemetry Collector's kafka exporter with ``encoding: otlp_proto`` (the serialized
``ExportTraceServiceRequest``, wire-identical to ``TracesData``). A message may hold spans
of several traces (the Collector without ``partition_traces_by_id``); :func:`decode` groups
them by trace ID.

:func:`decode` walks the request's wire format (tags and lengths; no message object is
built for the request) and slices each ``Span`` message out as it is. Each slice becomes a
:class:`~otelkit.tail._record.SpanRecord` (``record_from_wire``: the slice plus the summary
the tail policies read), routed by its resource and scope: those are decoded once per
distinct bytes (:class:`Routes` cache) into a
:class:`~otelkit.exporter._verbatim.VerbatimResource` and ``VerbatimScope``, which keep
the bytes they were read from. A kept span is forwarded as its slice with ``th`` and the
policy attributes spliced in, under the resource and scope bytes it arrived with (a kvlist
or bytes value, or a field otelkit does not model, goes out as it came), and exported
through ``export_encoded``: it is never decoded into an SDK span and encoded again. (A
span whose ids are not at the front, as no known serializer writes them, is re-serialized
once into field order first.)

A parent is always marked local: only a span with no parent counts as the trace's root for
``decision_wait`` (a service's server span with a remote parent is not the trace's end).

Bad input raises :class:`BadMessage` with a reason (``too_large``, ``not_otlp``,
``empty``); the worker counts it by reason and skips the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope as PbScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext

from otelkit.exporter._encoded import _ROUTES
from otelkit.exporter._routes import Route
from otelkit.exporter._verbatim import VerbatimResource, VerbatimScope
from otelkit.tail._record import SpanRecord, record_from_wire
from otelkit.tail._splice import readable_of

__all__ = ["BadMessage", "decode", "readable", "trace_id_of", "Held", "TOO_LARGE", "NOT_OTLP", "EMPTY"]

TOO_LARGE = "too_large"
NOT_OTLP = "not_otlp"
EMPTY = "empty"

Held = tuple[SpanRecord, int]
"""A span record and the bytes the tail buffer charges for it."""

_ROUTE_CACHE = 1024  # distinct (resource, scope) bytes remembered (cleared when full)
_routes: dict[tuple[bytes | None, bytes, bytes | None, bytes], Route] = {}


class BadMessage(ValueError):
    """A message that is not a usable ``ExportTraceServiceRequest``; ``reason`` names why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def _value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "bytes_value":
        return v.bytes_value.hex()
    if which == "array_value":
        items = [_value(x) for x in v.array_value.values]
        return tuple(i for i in items if i is not None)
    if which == "kvlist_value":
        return str({kv.key: _value(kv.value) for kv in v.kvlist_value.values})
    return None if which is None else getattr(v, which)


def _attrs(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: value for kv in kvs if (value := _value(kv.value)) is not None}


def _fields(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """``(field number, value start, value end)`` of each length-delimited field of the
    message ``data[start:end]`` (other wire types are skipped). Raises :class:`BadMessage`."""
    pos = start
    while pos < end:
        tag, pos = _varint(data, pos, end)
        wire = tag & 7
        if wire == 2:
            n, pos = _varint(data, pos, end)
            if pos + n > end:
                raise BadMessage(NOT_OTLP, "a field runs past the end of its message (truncated?)")
            yield tag >> 3, pos, pos + n
            pos += n
        elif wire == 0:
            pos = _varint(data, pos, end)[1]
        elif wire == 1 or wire == 5:
            pos += 8 if wire == 1 else 4
        else:
            raise BadMessage(NOT_OTLP, f"wire type {wire} at byte {pos}")
    if pos != end:
        raise BadMessage(NOT_OTLP, "a fixed-size field runs past the end of its message (truncated?)")


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while pos < end and shift < 64:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    raise BadMessage(NOT_OTLP, "a varint runs past the end of its message (truncated?)")


def _route(resource: bytes | None, res_schema: bytes, scope: bytes | None, scope_schema: bytes) -> Route:
    """The route of a resource and scope (their message bytes, ``None`` when absent) and
    schema URLs: verbatim values, so a kept span goes out under the bytes it came with."""
    key = (resource, res_schema, scope, scope_schema)
    route = _routes.get(key)
    if route is None:
        try:
            pb_res, pb_scope = PbResource.FromString(resource or b""), PbScope.FromString(scope or b"")
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError
            raise BadMessage(NOT_OTLP, f"a resource or scope does not parse ({exc})") from None
        res = VerbatimResource(resource, _attrs(pb_res.attributes), res_schema.decode("utf-8", "replace") or None)
        sc = VerbatimScope(scope, pb_scope.name, pb_scope.version or None,
                           scope_schema.decode("utf-8", "replace") or None, _attrs(pb_scope.attributes))
        route = _ROUTES.route(res, sc)
        if len(_routes) >= _ROUTE_CACHE:
            _routes.clear()
        _routes[key] = route
    return route


def _record(data: bytes, route: Route, keys: frozenset[str] | None) -> Held:
    if data[:2] != b"\x0a\x10" or data[18:20] != b"\x12\x08":  # ids first, as every serializer writes them
        try:
            data = PbSpan.FromString(data).SerializeToString()
        except Exception as exc:  # noqa: BLE001
            raise BadMessage(NOT_OTLP, f"a span does not parse ({exc})") from None
        if data[:2] != b"\x0a\x10" or data[18:20] != b"\x12\x08":
            raise BadMessage(NOT_OTLP, "a span without a 16-byte trace ID and an 8-byte span ID")
    try:
        record, size = record_from_wire(data, route, keys)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError
        raise BadMessage(NOT_OTLP, f"a span does not parse ({exc})") from None
    parent = record.parent
    if parent is not None and parent.is_remote:  # see the module docstring
        record.parent = SpanContext(parent.trace_id, parent.span_id, False)
    return record, size


def decode(value: bytes | None, max_bytes: int, keys: frozenset[str] | None = None) -> dict[int, list[Held]]:
    """The span records of one message, by trace ID (arrival order kept); ``keys``: the
    attribute keys their summaries copy (None: decoded on read). Raises :class:`BadMessage`."""
    if not value:
        raise BadMessage(EMPTY, "an empty message")
    if len(value) > max_bytes:
        raise BadMessage(TOO_LARGE, f"{len(value)} bytes, more than the {max_bytes} allowed")
    out: dict[int, list[Held]] = {}
    for number, rs_start, rs_end in _fields(value, 0, len(value)):
        if number != 1:
            continue
        resource: bytes | None = None
        res_schema = b""
        scopes: list[tuple[int, int]] = []
        for field, start, end in _fields(value, rs_start, rs_end):
            if field == 1:
                resource = value[start:end]
            elif field == 2:
                scopes.append((start, end))
            elif field == 3:
                res_schema = value[start:end]
        for ss_start, ss_end in scopes:
            scope: bytes | None = None
            scope_schema = b""
            spans: list[tuple[int, int]] = []
            for field, start, end in _fields(value, ss_start, ss_end):
                if field == 1:
                    scope = value[start:end]
                elif field == 2:
                    spans.append((start, end))
                elif field == 3:
                    scope_schema = value[start:end]
            if not spans:
                continue
            route = _route(resource, res_schema, scope, scope_schema)
            for start, end in spans:
                held = _record(value[start:end], route, keys)
                out.setdefault(held[0].context.trace_id, []).append(held)
    if not out:
        raise BadMessage(EMPTY, "an ExportTraceServiceRequest without spans")
    return out


def trace_id_of(data: bytes) -> int:
    """The trace ID of a ``Span`` message whose ids come first (as :func:`decode` keeps them)."""
    return int.from_bytes(data[2:18], "big")


def readable(data: bytes, route: Route) -> ReadableSpan:
    """A ``ReadableSpan`` of a (kept, spliced) ``Span`` message: for an exporter without
    ``export_encoded``, and for tests. It encodes to ``data`` again."""
    record = record_from_wire(data, route, frozenset())[0]
    return readable_of(record, data, record.context.trace_state)
