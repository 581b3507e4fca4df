"""One ended span as the tail buffer holds it: its OTLP bytes, its route and a small summary.

The tail processor encodes each span once, at ``on_end`` (:func:`record_of`, the batcher's
encoder: byte-identical to the SDK's ``encode_spans``), and lets the SDK span go. What it
keeps is a :class:`SpanRecord`:

* ``data``: the serialized ``opentelemetry.proto.trace.v1.Span`` message; forwarding a kept
  span splices ``th`` and the policy attributes into it (:mod:`otelkit.tail._splice`)
  instead of encoding the span again;
* ``route``: the small-int route of its resource and scope (:mod:`otelkit.exporter._routes`);
* the summary policies read, with the names ``ReadableSpan`` gives them: ``name``,
  ``kind``, ``status`` (``status.status_code``/``status.description``), ``start_time``,
  ``end_time``, ``context`` (the span's own ``SpanContext``: ids, flags, ``trace_state``;
  held as plain fields, ``trace_id``, ``span_id``, ``trace_flags``, ``trace_state``, and
  built when read),
  ``parent``, ``attributes``, ``events_count``, ``resource``, ``instrumentation_scope``.

Which attributes the summary holds (``keys`` of :func:`record_of`): when every configured
policy declares the attribute keys it reads (``attribute_keys``, see
:func:`otelkit.tail.policy.attribute_keys`), only those keys are copied into a small dict
at ``on_end`` and counted in the record's bytes; when a policy declares nothing (a custom
policy: the safe default), ``attributes`` is decoded from ``data`` when a policy first reads
it (every attribute, exact values; no copy held while the trace waits).

Building one from wire bytes (the Kafka tail worker)::

    SpanRecord(data, route, context, parent, name, kind, status_code, description,
               start_time, end_time, attributes=None, events_count=0)
    record_from_wire(data, route)        # parses ``data`` (a Span message) for the summary

``held_bytes(record)`` is what the buffer charges for it (:data:`RECORD_OVERHEAD` measured
in ``tests/tail/test_record.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from otelkit.exporter._encoded import _ENCODER, _ROUTES, encode_held
from otelkit.exporter._routes import Route
from otelkit.exporter.encoder import PLAIN_SPANS

__all__ = ["SpanRecord", "record_of", "record_from_wire", "held_bytes", "decode_attributes", "RECORD_OVERHEAD"]

RECORD_OVERHEAD = 560
"""Bytes charged per held span on top of ``len(data)`` and its copied attributes: the record
(128), the ``bytes`` header (33), the span's ``SpanContext`` (104) with its flags, span ID,
trace ID and time ints (~230), the buffer's list slot; measured at ~530 B on CPython 3.11
(``tests/tail/test_record.py``: spans of a trace each, writer caches included), charged
with a margin."""

_STATUS_BY_VALUE = [Status(StatusCode(v)) for v in range(max(c.value for c in StatusCode) + 1)]
_BY_SCOPE = _ROUTES.by_scope
_route = _ROUTES.route
_span_body = _ENCODER.span_body
_KINDS = list(SpanKind)  # proto enum - 1 -> SpanKind
_EMPTY: Mapping[str, Any] = MappingProxyType({})  # the summary of a span with no declared key
_CODES = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}


class SpanRecord:
    """An ended span held as bytes plus the summary policies read (see the module docstring).

    Args:
        data: the span's ``Span`` message bytes (as :func:`otelkit.exporter._encoded.encode_held`).
        route: its resource/scope route.
        context: its ``SpanContext`` (trace/span ID, flags, ``trace_state``).
        parent: its parent's ``SpanContext`` or None.
        name, kind: as on the span.
        status_code, description: its status.
        start_time, end_time: ns since epoch.
        attributes: the attributes the summary holds, or None: decoded from ``data`` on read.
        events_count: number of events.
    """

    # The span's own context is held as its fields (plain ints, its tracestate), not as the
    # SpanContext: that tuple and its TraceFlags are two GC-tracked objects per held span,
    # which made cyclic collections run twice as often and walk twice as much.
    __slots__ = ("data", "route", "trace_id", "span_id", "remote", "trace_flags", "trace_state", "parent",
                 "name", "kind", "status_code", "description", "start_time", "end_time", "events_count",
                 "_attributes")

    def __init__(
        self,
        data: bytes,
        route: Route,
        context: SpanContext,
        parent: SpanContext | None,
        name: str,
        kind: SpanKind,
        status_code: StatusCode,
        description: str | None,
        start_time: int | None,
        end_time: int | None,
        attributes: Mapping[str, Any] | None = None,
        events_count: int = 0,
    ) -> None:
        self.data = data
        self.route = route
        if type(context) is SpanContext:  # a plain tuple underneath (the context setter, inline)
            self.trace_id, self.span_id, self.remote, flags, self.trace_state, _ = context
            self.trace_flags = int(flags)
        else:
            self.context = context
        self.parent = parent
        self.name = name
        self.kind = kind
        self.status_code = status_code
        self.description = description
        self.start_time = start_time
        self.end_time = end_time
        self.events_count = events_count
        self._attributes = attributes

    @property
    def context(self) -> SpanContext:
        """The span's ``SpanContext`` (built on read from the fields the record holds:
        ``trace_id``, ``span_id``, ``remote``, ``trace_flags`` (an int), ``trace_state``)."""
        return SpanContext(self.trace_id, self.span_id, self.remote, TraceFlags(self.trace_flags), self.trace_state)

    @context.setter
    def context(self, ctx: SpanContext) -> None:
        if type(ctx) is SpanContext:  # a plain tuple underneath: no property calls
            self.trace_id, self.span_id, self.remote, flags, self.trace_state, _ = ctx
        else:
            self.trace_id, self.span_id, self.remote = ctx.trace_id, ctx.span_id, ctx.is_remote
            flags, self.trace_state = ctx.trace_flags, ctx.trace_state
        self.trace_flags = int(flags)

    @property
    def status(self) -> Status:
        """The span's status (a shared ``Status`` when it has no description)."""
        if self.description is None:  # by the code's int: an Enum's hash is Python-level
            return _STATUS_BY_VALUE[self.status_code._value_]
        return Status(self.status_code, self.description)

    @property
    def attributes(self) -> Mapping[str, Any]:
        """The summary's attributes; all of them, decoded from ``data``, when it holds none."""
        attrs = self._attributes
        if attrs is None:
            return decode_attributes(self.data)
        return attrs

    @property
    def resource(self) -> Any:
        return _ROUTES.pair(self.route)[0]

    @property
    def instrumentation_scope(self) -> Any:
        return _ROUTES.pair(self.route)[1]

    def get_span_context(self) -> SpanContext:
        return self.context

    def __repr__(self) -> str:
        return f"SpanRecord({self.name!r}, trace_id={self.trace_id:032x}, {len(self.data)} bytes)"


def record_of(span: ReadableSpan, keys: frozenset[str] | None) -> tuple[SpanRecord, int]:
    """``span`` encoded and summarised, and the bytes the record holds (:func:`held_bytes`).

    ``keys``: the attribute keys the summary copies (None: none copied, all decoded on
    read). Raises what encoding a broken span raises (``ValueError`` without a context).
    """
    if type(span) in PLAIN_SPANS:  # the SDK's fields: no property calls, no copies
        resource, scope = span._resource, span._instrumentation_scope or None
        hit = _BY_SCOPE.get(id(scope))  # encode_held inline (one call less per span)
        route = hit[2] if hit is not None and hit[0] is scope and hit[1] is resource else _route(resource, scope)
        data = _span_body(span)[0]
        status, attrs, events = span._status, span._attributes, span._events
        dq = getattr(events, "_dq", events)  # BoundedList's deque: its __len__ is Python-level
        rec = SpanRecord(data, route, span._context, span._parent, span._name, span._kind,  # type: ignore[arg-type]
                         status._status_code, status._description, span._start_time, span._end_time,
                         None, len(dq) if dq else 0)
    else:
        data, route = encode_held(span)
        status, attrs, events = span.status, span.attributes, span.events
        rec = SpanRecord(data, route, span.context, span.parent, span.name, span.kind,
                         status.status_code, status.description, span.start_time, span.end_time,
                         None, len(events or ()))
    size = len(data) + RECORD_OVERHEAD
    if keys is not None:
        held: Mapping[str, Any] = _EMPTY
        if keys and attrs:
            attrs = getattr(attrs, "_dict", attrs)  # BoundedAttributes: its dict, no Mapping mixin
            for key in keys:
                value = attrs.get(key)
                if value is not None:
                    if held is _EMPTY:
                        held = {}
                    held[key] = value  # type: ignore[index]
                    size += _value_bytes(value) + 100  # the dict slot, key reference, rounding
        rec._attributes = held
    return rec, size


def held_bytes(record: SpanRecord) -> int:
    """The bytes ``record`` keeps alive, as :func:`record_of` charges them."""
    size = len(record.data) + RECORD_OVERHEAD
    attrs = record._attributes
    if attrs:
        size += sum(_value_bytes(v) + 100 for v in attrs.values())
    return size


def _value_bytes(value: Any) -> int:
    size = sys.getsizeof(value)
    if type(value) is tuple or type(value) is list:
        size += sum(sys.getsizeof(v) for v in value)
    return size


# -- from bytes ---------------------------------------------------------------------------
def _pb_value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return tuple(_pb_value(x) for x in v.array_value.values)
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    return None if which is None else getattr(v, which)


def decode_attributes(data: bytes) -> dict[str, Any]:
    """Every attribute of the ``Span`` message ``data`` (arrays as tuples, as the SDK holds them)."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

    return {kv.key: _pb_value(kv.value) for kv in PbSpan.FromString(data).attributes}


def record_from_wire(data: bytes, route: Route, keys: frozenset[str] | None = None) -> tuple[SpanRecord, int]:
    """A record for the ``Span`` message ``data`` (of ``route``'s resource and scope), and
    its :func:`held_bytes`. A parent is marked remote when the message's flags say so; the
    context's trace flags are the message's low 8 flag bits plus sampled (it was exported).
    Raises ``google.protobuf.message.DecodeError`` for bytes that are not a ``Span``."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

    pb = PbSpan.FromString(data)
    state = TraceState.from_header([pb.trace_state]) if pb.trace_state else TraceState()
    trace_id = int.from_bytes(pb.trace_id, "big")
    flags = TraceFlags((pb.flags & 0xFF) | TraceFlags.SAMPLED)  # an exported span was sampled
    ctx = SpanContext(trace_id, int.from_bytes(pb.span_id, "big"), False, flags, state)
    parent = None
    if pb.parent_span_id:
        parent = SpanContext(trace_id, int.from_bytes(pb.parent_span_id, "big"), bool(pb.flags & 0x200))
    attrs: dict[str, Any] | None = None
    if keys is not None:
        attrs = {kv.key: _pb_value(kv.value) for kv in pb.attributes if kv.key in keys}
    rec = SpanRecord(data, route, ctx, parent, pb.name, _KINDS[max(0, pb.kind - 1)],
                     _CODES.get(pb.status.code, StatusCode.UNSET), pb.status.message or None,
                     pb.start_time_unix_nano or None, pb.end_time_unix_nano or None, attrs, len(pb.events))
    return rec, held_bytes(rec)
