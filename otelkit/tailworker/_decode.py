"""Decode spans-topic messages: one ``ExportTraceServiceRequest`` each, into SDK spans.

Both producers this reads write the same bytes: otelkit's ``otelkit_kafka`` exporter and
the OpenTelemetry Collector's kafka exporter with ``encoding: otlp_proto`` (the serialized
``ExportTraceServiceRequest``, wire-identical to ``TracesData``). A message may hold spans
of several traces (the Collector without ``partition_traces_by_id``); :func:`decode` groups
them by trace ID.

The spans become :class:`~opentelemetry.sdk.trace.ReadableSpan` objects because the
tail policies (:mod:`otelkit.tail`) judge those and the otelkit exporters encode those.
A parent is always marked local: only a span with no parent counts as the trace's root for
``decision_wait`` (a service's server span with a remote parent is not the trace's end).

Bad input raises :class:`BadMessage` with a reason (``too_large``, ``not_otlp``,
``empty``); the worker counts it by reason and skips the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

__all__ = ["BadMessage", "decode", "TOO_LARGE", "NOT_OTLP", "EMPTY"]

TOO_LARGE = "too_large"
NOT_OTLP = "not_otlp"
EMPTY = "empty"

_KINDS = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
_CODES = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}


class BadMessage(ValueError):
    """A message that is not a usable ``ExportTraceServiceRequest``; ``reason`` names why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def _value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value
    if which == "bool_value":
        return v.bool_value
    if which == "int_value":
        return v.int_value
    if which == "double_value":
        return v.double_value
    if which == "bytes_value":
        return v.bytes_value.hex()
    if which == "array_value":
        items = [_value(x) for x in v.array_value.values]
        return tuple(i for i in items if i is not None)
    if which == "kvlist_value":
        return str({kv.key: _value(kv.value) for kv in v.kvlist_value.values})
    return None


def _attrs(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        value = _value(kv.value)
        if value is not None:
            out[kv.key] = value
    return out


def _int(raw: bytes, size: int) -> int:
    if len(raw) != size:
        raise BadMessage(NOT_OTLP, f"an ID of {len(raw)} bytes, expected {size}")
    return int.from_bytes(raw, "big")


def _state(raw: str) -> TraceState:
    return TraceState.from_header([raw]) if raw else TraceState()


def _span(pb: PbSpan, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    trace_id = _int(pb.trace_id, 16)
    context = SpanContext(trace_id, _int(pb.span_id, 8), False, TraceFlags(pb.flags & 0xFF), _state(pb.trace_state))
    parent = SpanContext(trace_id, _int(pb.parent_span_id, 8), False) if pb.parent_span_id else None
    events = [Event(e.name, _attrs(e.attributes), e.time_unix_nano) for e in pb.events]
    links = [
        Link(SpanContext(_int(lk.trace_id, 16), _int(lk.span_id, 8), True, TraceFlags(lk.flags & 0xFF),
                         _state(lk.trace_state)), _attrs(lk.attributes))
        for lk in pb.links
    ]
    code = _CODES.get(pb.status.code, StatusCode.UNSET)
    return ReadableSpan(
        name=pb.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=_attrs(pb.attributes),
        events=events,
        links=links,
        kind=_KINDS.get(pb.kind, SpanKind.INTERNAL),
        status=Status(code, pb.status.message or None) if code is StatusCode.ERROR else Status(code),
        start_time=pb.start_time_unix_nano,
        end_time=pb.end_time_unix_nano,
        instrumentation_scope=scope,
    )


def decode(value: bytes | None, max_bytes: int) -> dict[int, list[ReadableSpan]]:
    """The spans of one message, by trace ID (arrival order kept). Raises :class:`BadMessage`."""
    if not value:
        raise BadMessage(EMPTY, "an empty message")
    if len(value) > max_bytes:
        raise BadMessage(TOO_LARGE, f"{len(value)} bytes, more than the {max_bytes} allowed")
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(value)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise BadMessage(NOT_OTLP, f"not an ExportTraceServiceRequest ({exc})") from None
    out: dict[int, list[ReadableSpan]] = {}
    for rs in request.resource_spans:
        resource = Resource(_attrs(rs.resource.attributes), rs.schema_url or None)
        for ss in rs.scope_spans:
            scope = InstrumentationScope(
                ss.scope.name, ss.scope.version or None, ss.schema_url or None, _attrs(ss.scope.attributes)
            )
            for pb in ss.spans:
                span = _span(pb, resource, scope)
                out.setdefault(int.from_bytes(pb.trace_id, "big"), []).append(span)
    if not out:
        raise BadMessage(EMPTY, "an ExportTraceServiceRequest without spans")
    return out
