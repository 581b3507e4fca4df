"""One span as the bytes of its OTLP ``Span`` message: the encoder's per-span hot path.

:class:`SpanWriter` owns the caches this path reads: encoded ``KeyValue`` fields per field
tag, one dict per value type (str, int, bool: keeps ``True`` and ``1`` apart) keyed by
``(key, value)``, span/event names, and attribute key heads. The misses (unique paths,
counters, measurements, other types) are written inline after a cached key head; floats are
never cached (``-0.0 == 0.0``, ``nan != nan``).

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

import logging
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as _sdk_trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, SpanKind
from opentelemetry.trace.status import Status, StatusCode

from otelkit._warn import warn_limited
from otelkit.exporter._wire import (
    FLAGS_LOCAL,
    FLAGS_REMOTE,
    KIND,
    LINK_FLAGS_LOCAL,
    LINK_FLAGS_REMOTE,
    M64,
    MAX_I64,
    MIN_I64,
    STATUS_UNSET,
    VARINTS,
    encode_key_value,
    encode_status,
    encode_trace_state,
    length_prefixed,
    pack_double,
    pack_event_time,
    pack_ids,
    pack_kind_times,
    pack_u64,
    utf8,
    varint,
)

__all__ = ["SpanWriter", "PLAIN_SPANS", "DEFAULT_CACHE_ENTRIES", "VALUES_PER_KEY"]

_logger = logging.getLogger("otelkit.exporter.encoder")

DEFAULT_CACHE_ENTRIES = 4096
"""Default bound of each encoding cache (attribute fields per tag, names); cleared when full."""

# Ended spans' BoundedAttributes are immutable: read their dict directly when it is there
_READ_BOUNDED = all(hasattr(BoundedAttributes(), a) for a in ("_dict", "_immutable"))
# An ended span's BoundedLists no longer change: read their deque directly when it is there
_READ_LISTS = all(hasattr(BoundedList(1), a) for a in ("_dq", "dropped"))
_UNSET = StatusCode.UNSET
_STATUS_UNSET_LOCAL = STATUS_UNSET + FLAGS_LOCAL
Fields = tuple[dict[Any, bytes], dict[Any, bytes], dict[Any, bytes], dict[str, int]]
"""Per field tag: cached fields for str, int and bool values, keyed by ``(key, value)``, and
how many values of each key are cached."""

VALUES_PER_KEY = 256
"""Distinct values cached per attribute key (and field tag); later ones are encoded each time."""

_STR_HEADS = [varint(n + 2) + b"\x0a" + varint(n) for n in range(126)]  # AnyValue(string) lengths
_INT_HEADS = [varint(k + 1) + b"\x18" for k in range(12)]  # AnyValue(int) length, by varint size
_MAX_CACHED_STR = 256  # longer string values are encoded every time, never cached
# The SDK's span classes, whose private fields we know (any other subclass uses properties)
PLAIN_SPANS = frozenset(
    c for c in (ReadableSpan, _sdk_trace.Span, getattr(_sdk_trace, "_Span", None)) if isinstance(c, type)
)


def _plain_dict(attrs: Any) -> dict[str, Any] | None:
    """The dict behind ``attrs`` when it can be read without a copy, else ``None``."""
    if type(attrs) is dict:
        return attrs
    if type(attrs) is BoundedAttributes and _READ_BOUNDED and attrs._immutable:
        return attrs._dict
    return None


class SpanWriter:
    """Writes span bodies and attribute fields; thread-safe (single dict operations are
    atomic; a cache that reaches ``cache_entries`` is cleared).

    Args:
        cache_entries: bound of each cache (>= 1).
    """

    def __init__(self, cache_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if not isinstance(cache_entries, int) or cache_entries < 1:
            raise ValueError(f"cache_entries={cache_entries!r} is invalid: expected an integer >= 1")
        self._max = cache_entries
        self._fields: dict[bytes, Fields] = {}  # field tag -> its caches
        self._names: dict[str, bytes] = {}  # span/event name -> length-prefixed utf-8
        self._tagged: dict[tuple[bytes, str], bytes] = {}  # (field tag, name) -> the whole field
        self._heads: dict[str, bytes] = {}  # attribute key -> KeyValue key field + value tag
        self._span_fields = self.fields(b"\x4a")
        self._event_fields = self.fields(b"\x1a")

    def fields(self, tag: bytes) -> Fields:
        """The caches of ``tag``-tagged ``KeyValue`` fields for str, int and bool values
        (kept for life: cleared, never replaced)."""
        caches = self._fields.get(tag)
        if caches is None:
            caches = self._fields.setdefault(tag, ({}, {}, {}, {}))
        return caches

    def attrs(self, tag: bytes, attrs: Any) -> list[bytes]:
        """Each attribute of ``attrs`` as ``tag`` + ``KeyValue``."""
        out: list[bytes] = []
        if attrs:
            self.attrs_into(out, tag, attrs, self.fields(tag))
        return out

    def attrs_into(self, out: list[bytes], tag: bytes, attrs: Any, caches: Fields) -> None:
        """Append each attribute of ``attrs`` as ``tag`` + ``KeyValue`` to ``out`` (skipping
        the ones the SDK skips)."""
        d = attrs if type(attrs) is dict else _plain_dict(attrs)
        items = d.items() if d is not None else attrs.items()
        str_kv, int_kv, bool_kv, _ = caches
        for key, value in items:
            t = type(value)  # cache hits inline (a plain loop beats a map/zip pass here)
            if t is str:
                enc = str_kv.get((key, value))
            elif t is int:
                enc = int_kv.get((key, value))
            elif t is bool:
                enc = bool_kv.get((key, value))
            else:
                enc = None
            if enc is None:
                enc = self.kv(tag, key, value, caches)
                if enc is None:
                    continue
            out.append(enc)

    def kv(self, tag: bytes, key: str, value: Any, caches: Fields) -> bytes | None:
        """``tag`` + length-prefixed ``KeyValue``, or ``None`` when the SDK would skip the
        attribute. Short str, int and bool values are cached, at most
        :data:`VALUES_PER_KEY` per key: a key with more distinct values (a path, an ID, a
        counter) is encoded each time instead of filling the cache and evicting the rest."""
        t = type(value)
        cache: dict[Any, bytes] | None = None
        kv: bytes
        head = self._heads.get(key)
        if head is None:
            head = self._head(key)
        if t is str:
            v: bytes
            try:
                v = value.encode("utf-8")
            except UnicodeEncodeError:
                v = utf8(value)
            n = len(v)
            if n < 126:  # AnyValue and its string both fit one-byte lengths
                kv = head + _STR_HEADS[n] + v
            else:
                kv = head + varint(n + 1 + len(varint(n))) + b"\x0a" + varint(n) + v
            if n <= _MAX_CACHED_STR:
                cache = caches[0]
        elif t is float:
            n = len(head) + 10  # KeyValue: head, AnyValue length (1 byte) and the double (9)
            return b"".join((tag, VARINTS[n] if n < 4096 else varint(n), head, b"\x09\x21", pack_double(value)))
        elif t is int and MIN_I64 <= value <= MAX_I64:
            vi = VARINTS[value] if 0 <= value < 4096 else varint(value & M64)
            kv = head + _INT_HEADS[len(vi)] + vi
            cache = caches[1]
        else:
            try:
                kv = encode_key_value(key, value)
            except Exception as exc:  # noqa: BLE001 - the SDK logs and skips such attributes
                warn_limited(_logger, "encode-attr", "failed to encode attribute %r: %s; skipping it", key, exc)
                return None
            if t is bool:
                cache = caches[2]
        n = len(kv)
        enc = tag + (VARINTS[n] if n < 4096 else varint(n)) + kv
        if cache is not None:
            counts = caches[3]
            held = counts.get(key, 0)
            if held < VALUES_PER_KEY:
                if len(cache) >= self._max:
                    cache.clear()
                    counts.clear()
                    held = 0
                cache[(key, value)] = enc
                counts[key] = held + 1
        return enc

    def _head(self, key: str) -> bytes:
        """``KeyValue.key`` (absent when empty, as in proto3) + the ``value`` tag, cached."""
        kb = utf8(key)
        head = (b"\x0a" + length_prefixed(kb) if kb else b"") + b"\x12"
        if len(key) <= _MAX_CACHED_STR:
            if len(self._heads) >= self._max:
                self._heads.clear()
            self._heads[key] = head
        return head

    def name(self, name: str) -> bytes:
        """``name`` length-prefixed (cached up to 256 characters)."""
        enc = self._names.get(name)
        if enc is None:
            enc = length_prefixed(utf8(name))
            if len(name) <= _MAX_CACHED_STR:
                if len(self._names) >= self._max:
                    self._names.clear()
                self._names[name] = enc
        return enc

    def name_field(self, tag: bytes, name: str) -> bytes:
        """``tag`` + ``name`` length-prefixed (a span's or an event's name field), cached as
        :meth:`name` is."""
        enc = tag + self.name(name)
        if len(name) <= _MAX_CACHED_STR:
            if len(self._tagged) >= self._max:
                self._tagged.clear()
            self._tagged[(tag, name)] = enc
        return enc

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
            if type(attributes) is BoundedAttributes and _READ_BOUNDED and attributes._immutable:
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
            append(enc if enc is not None else self.name_field(b"\x2a", name))
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
                        enc = self.kv(b"\x4a", key, value, span_fields)
                        if enc is None:
                            continue
                    append(enc)
            else:
                self.attrs_into(parts, b"\x4a", attributes, self._span_fields)
        if dropped_attrs:
            append(b"\x50" + varint(dropped_attrs))
        if events:
            ev_kv = self._event_fields
            str_kv, int_kv, bool_kv, _ = ev_kv
            for event in events:
                if type(event) is Event:  # the SDK's event: fields, no ABC check
                    ev_name, ev_time, ev_attrs = event._name, event._timestamp, event._attributes
                    if type(ev_attrs) is BoundedAttributes and _READ_BOUNDED and ev_attrs._immutable:
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
                        enc = self.name_field(b"\x12", ev_name)
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
                                enc = self.kv(b"\x1a", key, value, ev_kv)
                                if enc is None:
                                    continue
                            ev.append(enc)
                    else:
                        self.attrs_into(ev, b"\x1a", ev_attrs, ev_kv)
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
                lk += self.attrs(b"\x22", link.attributes)
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
