"""One span as the bytes of its OTLP ``Span`` message: the encoder's per-span hot path.

:class:`SpanWriter` writes the span's fields, events and links; attribute fields and names
come from its :class:`~otelkit.exporter._field_cache.FieldCache` (a hit is one ``dict.get``
read here, a miss is written and cached by the cache, which alone mutates its dicts).

For the SDK's own span and event classes the fields are read directly (an ended span's
``BoundedAttributes`` and ``BoundedList``\\ s no longer change: their dict and deque are read
without lock or copy); any other ``ReadableSpan``/``Event`` is read through its properties.
Output is byte-identical to the SDK's ``encode_spans`` (differential tests in
``tests/exporter/test_encoder.py``).

Example::

    writer = SpanWriter()
    data, trace_id = writer.span(ended_span)
"""

from __future__ import annotations

from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as _sdk_trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, SpanKind
from opentelemetry.trace.status import Status, StatusCode

from otelkit.exporter._field_cache import (
    DEFAULT_CACHE_ENTRIES,
    READ_BOUNDED,
    VALUES_PER_KEY,
    FieldCache,
    Fields,
)
from otelkit.exporter._wire import (
    FLAGS_LOCAL,
    FLAGS_REMOTE,
    KIND,
    LINK_FLAGS_LOCAL,
    LINK_FLAGS_REMOTE,
    M64,
    STATUS_UNSET,
    VARINTS,
    encode_status,
    encode_trace_state,
    pack_event_time,
    pack_ids,
    pack_kind_times,
    pack_u64,
    varint,
)

__all__ = ["SpanWriter", "PLAIN_SPANS", "DEFAULT_CACHE_ENTRIES", "VALUES_PER_KEY"]

# An ended span's BoundedLists no longer change: read their deque directly when it is there
_READ_LISTS = all(hasattr(BoundedList(1), a) for a in ("_dq", "dropped"))
_UNSET = StatusCode.UNSET
_STATUS_UNSET_LOCAL = STATUS_UNSET + FLAGS_LOCAL
# The SDK's span classes, whose private fields we know (any other subclass uses properties)
PLAIN_SPANS = frozenset(
    c for c in (ReadableSpan, _sdk_trace.Span, getattr(_sdk_trace, "_Span", None)) if isinstance(c, type)
)


class SpanWriter:
    """Writes span bodies; thread-safe as its :class:`FieldCache` is.

    Args:
        cache_entries: bound of each cache (>= 1).
    """

    def __init__(self, cache_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.cache = cache = FieldCache(cache_entries)
        # read on the hot path; written only by the cache
        self._tagged = cache.tagged
        self._span_fields = cache.fields(b"\x4a")
        self._event_fields = cache.fields(b"\x1a")
        self._kv = cache.kv
        self._name_field = cache.name_field
        self._attrs_into = cache.attrs_into

    def fields(self, tag: bytes) -> Fields:
        """The cache's ``tag``-tagged fields (see :meth:`FieldCache.fields`)."""
        return self.cache.fields(tag)

    def attrs(self, tag: bytes, attrs: Any) -> list[bytes]:
        """Each attribute of ``attrs`` as ``tag`` + ``KeyValue`` (see :meth:`FieldCache.attrs`)."""
        return self.cache.attrs(tag, attrs)

    def span(self, span: ReadableSpan) -> tuple[bytes, int]:
        """The ``Span`` message bytes of ``span`` and its trace ID. Raises ``ValueError`` for
        a span without a context, and whatever reading a broken span subclass raises."""
        if type(span) in PLAIN_SPANS:
            ctx = span._context
            parent = span._parent
            name = span._name
            kind = span._kind
            start, end = span._start_time, span._end_time
            attributes: Any = span._attributes
            events: Any = span._events
            links: Any = span._links
            status = span._status
            if type(attributes) is BoundedAttributes and READ_BOUNDED and attributes._immutable:
                dropped_attrs = attributes.dropped
                attributes = attributes._dict
            else:
                dropped_attrs = getattr(attributes, "dropped", 0)
            if type(events) is BoundedList and _READ_LISTS:
                dropped_events = events.dropped
                events = events._dq  # type: ignore[attr-defined]
            else:
                dropped_events = getattr(events, "dropped", 0)
            if type(links) is BoundedList and _READ_LISTS:
                dropped_links = links.dropped
                links = links._dq  # type: ignore[attr-defined]
            else:
                dropped_links = getattr(links, "dropped", 0)
        else:
            ctx = span.get_span_context()
            parent = span.parent
            name = span.name
            kind = span.kind
            start, end = span.start_time, span.end_time
            attributes = span.attributes
            events = span.events
            links = span.links
            status = span.status
            dropped_attrs = span.dropped_attributes
            dropped_events = span.dropped_events
            dropped_links = span.dropped_links
        if type(ctx) is SpanContext:  # a plain tuple underneath: unpack, no properties
            trace_id, span_id, _, _, state, _ = ctx
        elif ctx is None:
            raise ValueError("the span has no span context")
        else:
            trace_id, span_id, state = ctx.trace_id, ctx.span_id, ctx.trace_state
        parts = [pack_ids(0x0A10, trace_id >> 64, trace_id & M64, 0x1208, span_id)]
        append = parts.append
        if state:
            append(encode_trace_state(state))
        if parent is not None:
            if type(parent) is SpanContext:
                _, parent_id, parent_remote, _, _, _ = parent
            else:
                parent_id, parent_remote = parent.span_id, parent.is_remote
            append(b"\x22\x08" + parent_id.to_bytes(8, "big"))
            flags = FLAGS_REMOTE if parent_remote else FLAGS_LOCAL
        else:
            flags = FLAGS_LOCAL
        if name:
            enc = self._tagged.get((b"\x2a", name))
            append(enc if enc is not None else self._name_field(b"\x2a", name))
        if start and end and type(kind) is SpanKind:  # kind, start and end in one pack
            append(pack_kind_times(0x30, kind._value_ + 1, 0x39, start, 0x41, end))
        else:
            append(KIND[kind._value_])
            if start:
                append(b"\x39" + pack_u64(start))
            if end:
                append(b"\x41" + pack_u64(end))
        if attributes:
            if type(attributes) is dict:  # inline: the hot loop without a call
                str_kv, int_kv, bool_kv, _ = span_fields = self._span_fields
                for key, value in attributes.items():
                    t = type(value)
                    if t is str:
                        enc = str_kv.get((key, value))
                    elif t is int:
                        enc = int_kv.get((key, value))
                    elif t is bool:
                        enc = bool_kv.get((key, value))
                    else:
                        enc = None
                    if enc is None:
                        enc = self._kv(b"\x4a", key, value, span_fields)
                        if enc is None:
                            continue
                    append(enc)
            else:
                self._attrs_into(parts, b"\x4a", attributes, self._span_fields)
        if dropped_attrs:
            append(b"\x50" + varint(dropped_attrs))
        if events:
            ev_kv = self._event_fields
            str_kv, int_kv, bool_kv, _ = ev_kv
            for event in events:
                if type(event) is Event:  # the SDK's event: fields, no ABC check
                    ev_name, ev_time, ev_attrs = event._name, event._timestamp, event._attributes
                    if type(ev_attrs) is BoundedAttributes and READ_BOUNDED and ev_attrs._immutable:
                        ev_dropped = ev_attrs.dropped
                        ev_attrs = ev_attrs._dict
                    else:
                        ev_dropped = getattr(ev_attrs, "dropped", 0)
                else:
                    ev_name, ev_time, ev_attrs = event.name, event.timestamp, event.attributes
                    ev_dropped = event.dropped_attributes
                if ev_name:
                    enc = self._tagged.get((b"\x12", ev_name))
                    if enc is None:
                        enc = self._name_field(b"\x12", ev_name)
                    ev = [pack_event_time(0x09, ev_time) + enc if ev_time else enc]
                else:
                    ev = [pack_event_time(0x09, ev_time) if ev_time else b""]
                if ev_attrs:
                    if type(ev_attrs) is dict:  # inline, as the span's attributes above
                        for key, value in ev_attrs.items():
                            t = type(value)
                            if t is str:
                                enc = str_kv.get((key, value))
                            elif t is int:
                                enc = int_kv.get((key, value))
                            elif t is bool:
                                enc = bool_kv.get((key, value))
                            else:
                                enc = None
                            if enc is None:
                                enc = self._kv(b"\x1a", key, value, ev_kv)
                                if enc is None:
                                    continue
                            ev.append(enc)
                    else:
                        self._attrs_into(ev, b"\x1a", ev_attrs, ev_kv)
                if ev_dropped:
                    ev.append(b"\x20" + varint(ev_dropped))
                body = b"".join(ev)
                n = len(body)
                append(b"\x5a" + VARINTS[n] if n < 4096 else b"\x5a" + varint(n))
                append(body)  # the frame and the body apart: no copy of the body
        if dropped_events:
            append(b"\x60" + varint(dropped_events))
        if links:
            for link in links:
                lctx = link.context
                lk = [b"\x0a\x10" + lctx.trace_id.to_bytes(16, "big"), b"\x12\x08" + lctx.span_id.to_bytes(8, "big")]
                lk += self.cache.attrs(b"\x22", link.attributes)
                if link.dropped_attributes:
                    lk.append(b"\x28" + varint(link.dropped_attributes))
                lk.append(LINK_FLAGS_REMOTE if lctx.is_remote else LINK_FLAGS_LOCAL)
                body = b"".join(lk)
                append(b"\x6a" + varint(len(body)) + body)
        if dropped_links:
            append(b"\x70" + varint(dropped_links))
        if type(status) is Status and status._status_code is _UNSET and status._description is None:
            append(_STATUS_UNSET_LOCAL if flags is FLAGS_LOCAL else STATUS_UNSET + flags)
        elif status is not None and status.description is None and not status.status_code.value:
            append(STATUS_UNSET + flags)
        else:
            append(encode_status(status) + flags)
        return b"".join(parts), trace_id
