"""A kept span's bytes without encoding it again: ``th`` and the policy attributes spliced in.

The tail processor forwards a kept span with a new ``trace_state`` (the decision's ``th``)
and two attributes (:data:`~otelkit.tail._forward.POLICY_ATTRIBUTE` and the adjusted
count), exactly as :func:`otelkit.tail._forward.exportable` builds the SDK copy. The
encoder writes a ``Span``'s fields in field-number order (trace ID and span ID: 28 bytes,
``trace_state`` field 3, then parent 4, name 5, kind 6, times 7-8, attributes 9, ...), so
:func:`splice` walks the fields up to the end of the attributes (a tag and a length per
field; no value decoded) and rebuilds the message as

    ids + new trace_state + fields 4..9 (an existing policy/count attribute replaced in
    place) + the new attributes + the rest unchanged

which is byte-identical to the SDK's ``encode_spans`` of the ``exportable`` copy
(``tests/tail/test_splice.py``, a property test). Only kept spans are walked.

:func:`readable_of` turns spliced bytes back into a ``ReadableSpan`` for a downstream
processor that takes no bytes (a stock SDK processor); it encodes to the same bytes.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, SpanContext, Status, TraceFlags, TraceState

from otelkit.exporter._span_writer import SpanWriter
from otelkit.exporter._wire import encode_trace_state
from otelkit.tail._record import _CODES, _KINDS, SpanRecord, _pb_value

__all__ = ["splice", "attribute_fields", "state_field", "readable_of"]

_WRITER = SpanWriter(cache_entries=1024)
_IDS_END = 28  # 0x0a 0x10 trace_id(16) 0x12 0x08 span_id(8): always written


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def state_field(state: TraceState) -> bytes:
    """``Span.trace_state`` (field 3) for ``state``; empty when the state is empty."""
    return encode_trace_state(state) if state else b""


def attribute_fields(attributes: dict[str, Any]) -> dict[bytes, bytes]:
    """Each attribute as a ``Span.attributes`` field, keyed by its key's UTF-8 bytes."""
    fields = _WRITER.attrs(b"\x4a", attributes)
    return {key.encode("utf-8"): field for key, field in zip(attributes, fields, strict=True)}


def splice(data: bytes, state: bytes, attributes: dict[bytes, bytes]) -> bytes:
    """``data`` (a ``Span`` message) with its ``trace_state`` field replaced by ``state`` and
    each of ``attributes`` (key bytes -> field, :func:`attribute_fields`) replacing the
    attribute of that key in place, or appended after the last attribute, in order."""
    pos = _IDS_END
    if len(data) > pos and data[pos] == 0x1A:
        n, pos = _varint_at(data, pos + 1)
        pos += n
    out = [data[:_IDS_END], state]
    left = dict(attributes)
    mark = pos  # copied up to here
    end = len(data)
    while pos < end:
        tag, body = _varint_at(data, pos)
        if tag >> 3 > 9:
            break
        wire = tag & 7
        if wire == 2:
            n, start = _varint_at(data, body)
            nxt = start + n
            if tag == 0x4A and left and data[start] == 0x0A:  # an attribute with a key
                klen, kstart = _varint_at(data, start + 1)
                key = data[kstart:kstart + klen]
                field = left.pop(key, None)
                if field is not None:
                    out.append(data[mark:pos])
                    out.append(field)
                    mark = nxt
        elif wire == 0:
            nxt = _varint_at(data, body)[1]
        elif wire == 1:
            nxt = body + 8
        else:  # 5: fixed32
            nxt = body + 4
        pos = nxt
    out.append(data[mark:pos])
    out.extend(left.values())
    out.append(data[pos:])
    return b"".join(out)


class _DecodedSpan(ReadableSpan):
    """A ``ReadableSpan`` rebuilt from bytes, with the message's dropped counts."""

    def __init__(self, dropped: tuple[int, int, int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._dropped_counts = dropped

    @property
    def dropped_attributes(self) -> int:
        return self._dropped_counts[0]

    @property
    def dropped_events(self) -> int:
        return self._dropped_counts[1]

    @property
    def dropped_links(self) -> int:
        return self._dropped_counts[2]


def _attrs(pb_attrs: Any, dropped: int) -> Any:
    """Decoded attributes; a ``BoundedAttributes`` carrying ``dropped`` when that is not 0."""
    plain = {kv.key: _pb_value(kv.value) for kv in pb_attrs}
    if not dropped:
        return plain
    bounded = BoundedAttributes(immutable=False)
    bounded._dict.update(plain)  # as decoded: the SDK's value cleaning would alter them
    bounded.dropped = dropped
    bounded._immutable = True
    return bounded


def _event(pb: Any) -> Event:
    event = Event(pb.name, _attrs(pb.attributes, pb.dropped_attributes_count), pb.time_unix_nano)
    event._timestamp = pb.time_unix_nano  # 0 stays 0 (the SDK would stamp it now)
    return event


def readable_of(record: SpanRecord, data: bytes, state: TraceState) -> ReadableSpan:
    """A sampled ``ReadableSpan`` of ``record`` whose content is ``data`` (its spliced bytes)
    and whose tracestate is ``state``: what a stock downstream processor receives. It
    encodes to ``data`` again (``tests/tail/test_splice.py``)."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

    pb = PbSpan.FromString(data)
    ctx = record.context
    context = SpanContext(ctx.trace_id, ctx.span_id, ctx.is_remote, TraceFlags(ctx.trace_flags | TraceFlags.SAMPLED),
                          state)
    events = [_event(e) for e in pb.events]
    links = [
        Link(SpanContext(int.from_bytes(lk.trace_id, "big"), int.from_bytes(lk.span_id, "big"), bool(lk.flags & 0x200)),
             _attrs(lk.attributes, lk.dropped_attributes_count))
        for lk in pb.links
    ]
    resource, scope = record.resource, record.instrumentation_scope
    return _DecodedSpan(
        (pb.dropped_attributes_count, pb.dropped_events_count, pb.dropped_links_count),
        name=pb.name,
        context=context,
        parent=record.parent,
        resource=resource,
        attributes={kv.key: _pb_value(kv.value) for kv in pb.attributes},
        events=events,
        links=links,
        kind=_KINDS[max(0, pb.kind - 1)],
        status=Status(_CODES.get(pb.status.code, _CODES[0]), pb.status.message or None),
        start_time=pb.start_time_unix_nano or None,
        end_time=pb.end_time_unix_nano or None,
        instrumentation_scope=scope,
    )
