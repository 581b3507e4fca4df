"""Direct OTLP trace encoder: ``ReadableSpan`` sequence -> ``ExportTraceServiceRequest`` bytes.

The SDK's ``encode_spans`` builds one protobuf message object per span, attribute and
value (~54 µs/span for realistic spans); this encoder writes the protobuf wire format by
hand instead: precomputed field tags, cached resource/scope encodings, a bounded cache of
encoded attribute key/value pairs and span names, and no intermediate message objects.

Output is byte-identical to the SDK's ``encode_spans(spans).SerializeToString()`` for the
same spans, with the same grouping (by resource, then instrumentation scope, in order of first
appearance) and the same per-span fields; it also leaves out what the SDK leaves out
(links carry no ``trace_state``; ``flags`` carries only the has-remote/is-remote bits).
For the SDK's own span and event classes it reads their fields directly; any other
``ReadableSpan``/``Event`` subclass is read through its public properties.
Attributes whose value the SDK cannot encode (an int outside int64, an unknown type) are
skipped with a logged warning, as the SDK does.

Example::

    encoder = SpanEncoder()
    payload = encoder.encode(spans)              # bytes
    buf = bytearray(1 << 20)
    n = encoder.encode_into(spans, buf)          # request is buf[:n]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as _sdk_trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext
from opentelemetry.trace.status import Status, StatusCode

from otelkit._warn import warn_limited
from otelkit.exporter._request import Groups, group_spans, write_parts
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
    encode_key_value,
    encode_status,
    encode_trace_state,
    length_prefixed,
    pack_double,
    pack_event_time,
    pack_ids,
    pack_span_times,
    pack_u64,
    utf8,
    varint,
)

__all__ = ["SpanEncoder", "DEFAULT_CACHE_ENTRIES", "PLAIN_SPANS"]

_logger = logging.getLogger("otelkit.exporter.encoder")

DEFAULT_CACHE_ENTRIES = 4096
"""Default bound of each encoding cache (attribute pairs, names); cleared when full."""

T = TypeVar("T")
Caches = tuple[dict[Any, bytes], dict[Any, bytes], dict[Any, bytes]]

# Ended spans' BoundedAttributes are immutable: read their dict directly when it is there
_READ_BOUNDED = all(hasattr(BoundedAttributes(), a) for a in ("_dict", "_immutable"))

# An ended span's BoundedLists no longer change: read their deque directly when it is there
_READ_LISTS = all(hasattr(BoundedList(1), a) for a in ("_dq", "dropped"))
_UNSET = StatusCode.UNSET
STATUS_UNSET_LOCAL = STATUS_UNSET + FLAGS_LOCAL

_MAX_CACHED_STR = 256  # longer string values are encoded every time, never cached
# The SDK's span classes, whose private fields we know (any other subclass uses properties)
PLAIN_SPANS = frozenset(
    c for c in (ReadableSpan, _sdk_trace.Span, getattr(_sdk_trace, "_Span", None)) if isinstance(c, type)
)


class SpanEncoder:
    """Encode spans to the bytes of one ``ExportTraceServiceRequest``.

    Thread-safe: the caches are plain dicts whose single operations are atomic; a cache
    that reaches ``cache_entries`` is cleared (never grows without bound).

    Args:
        cache_entries: bound of each encoding cache; default :data:`DEFAULT_CACHE_ENTRIES`.
    """

    def __init__(self, cache_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if not isinstance(cache_entries, int) or cache_entries < 1:
            raise ValueError(f"cache_entries={cache_entries!r} is invalid: expected an integer >= 1")
        self._max = cache_entries
        # per field tag: ({(key, str)}, {(key, int)}, {(key, bool)}) -> tagged, length-prefixed KeyValue
        self._caches: dict[bytes, tuple[dict[Any, bytes], dict[Any, bytes], dict[Any, bytes]]] = {}
        self._names: dict[str, bytes] = {}  # span/event name -> length-prefixed utf-8
        self._heads: dict[str, bytes] = {}  # attribute key -> KeyValue key field + value tag
        # id(obj) -> (obj, encoding); the strong ref keeps the id from being reused
        self._resources: dict[int, tuple[Any, bytes]] = {}
        self._scopes: dict[int, tuple[Any, bytes]] = {}

    # ------------------------------------------------------------------ public API

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The ``ExportTraceServiceRequest`` for ``spans`` as bytes (spans that cannot be
        encoded are left out, see :meth:`encode_parts`)."""
        return b"".join(self.encode_parts(spans)[0])

    def encode_into(self, spans: Sequence[ReadableSpan], buf: bytearray) -> int:
        """Write the request for ``spans`` at the start of ``buf``; return its length.

        ``buf`` keeps its length when the request fits (so a pooled buffer keeps its
        allocation) and grows when it does not; the request is ``buf[:n]``.
        """
        return write_parts(self.encode_parts(spans)[0], buf)

    def encode_parts(self, spans: Sequence[ReadableSpan]) -> tuple[list[bytes], int]:
        """The request for ``spans`` as pieces to concatenate, and how many spans could not
        be encoded (left out, with a rate-limited warning). Text is never a reason: invalid
        UTF-8 is replaced; a span is left out only when reading it raises (no context...)."""
        return self.request_parts(group_spans(spans, [(s.resource, s.instrumentation_scope) for s in spans]),
                                  self._encode_spans)

    def span_body(self, span: ReadableSpan) -> tuple[bytes, int]:
        """One span as the bytes of an OTLP ``Span`` message, and its trace ID.

        Raises ``ValueError`` for a span without a context, and whatever reading a broken
        span subclass raises; text never raises (lone surrogates become U+FFFD).
        """
        return self._span(span, self._caches_for(b"\x4a"), self._caches_for(b"\x1a"))

    def request_parts(self, groups: Groups[T], add_spans: Callable[[list[T], list[bytes]], int]) -> tuple[list[bytes], int]:
        """Assemble a request from ``groups`` (see :func:`group_spans`): ``add_spans(members,
        out)`` appends each member as a ``ScopeSpans.spans`` field and returns how many it
        left out. Returns the pieces and the total left out; empty scopes are dropped."""
        out: list[bytes] = []
        failed = 0
        for resource, scopes in groups:
            rs_parts: list[bytes] = [self._resource(resource)]
            for scope, members in scopes:
                ss_parts = [self._scope(scope)]
                lost = add_spans(members, ss_parts)
                failed += lost
                if lost == len(members):
                    continue
                schema = scope.schema_url if scope is not None else None
                if schema:
                    ss_parts.append(b"\x1a" + length_prefixed(utf8(schema)))
                rs_parts.append(b"\x12" + varint(sum(map(len, ss_parts))))
                rs_parts.extend(ss_parts)
            if len(rs_parts) == 1:
                continue
            if resource.schema_url:
                rs_parts.append(b"\x1a" + length_prefixed(utf8(resource.schema_url)))
            out.append(b"\x0a" + varint(sum(map(len, rs_parts))))
            out.extend(rs_parts)
        return out, failed

    def resource_bytes(self, resource: Any) -> bytes:
        """``ResourceSpans.resource`` field (tag + length + message) of ``resource``, cached."""
        return self._resource(resource)

    def scope_bytes(self, scope: Any) -> bytes:
        """``ScopeSpans.scope`` field (tag + length + message) of ``scope``, cached."""
        return self._scope(scope)

    # ------------------------------------------------------------------ internals

    def _resource(self, resource: Any) -> bytes:
        hit = self._resources.get(id(resource))
        if hit is not None and hit[0] is resource:
            return hit[1]
        body = b"".join(self._attrs(b"\x0a", resource.attributes))
        enc = b"\x0a" + length_prefixed(body)
        if len(self._resources) >= 64:
            self._resources.clear()
        self._resources[id(resource)] = (resource, enc)
        return enc

    def _scope(self, scope: Any) -> bytes:
        hit = self._scopes.get(id(scope))
        if hit is not None and hit[0] is scope:
            return hit[1]
        body = b""
        if scope is not None:
            if scope.name:
                body += b"\x0a" + length_prefixed(utf8(scope.name))
            if scope.version:
                body += b"\x12" + length_prefixed(utf8(scope.version))
            body += b"".join(self._attrs(b"\x1a", scope.attributes))
        enc = b"\x0a" + length_prefixed(body)
        if len(self._scopes) >= 256:
            self._scopes.clear()
        self._scopes[id(scope)] = (scope, enc)
        return enc

    def _caches_for(self, tag: bytes) -> tuple[dict[Any, bytes], dict[Any, bytes], dict[Any, bytes]]:
        caches = self._caches.get(tag)
        if caches is None:
            caches = self._caches[tag] = ({}, {}, {})
        return caches

    def _kv(
        self, tag: bytes, key: str, value: Any, caches: tuple[dict[Any, bytes], dict[Any, bytes], dict[Any, bytes]]
    ) -> bytes | None:
        """``tag`` + length-prefixed ``KeyValue`` (cached for short str, int and bool
        values), or ``None`` when the SDK would skip the attribute. str, int and float
        values are written inline after a cached key head (the common cache misses:
        unique paths, counters, measurements); other types take the generic path."""
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
            kv = head + varint(n + 1 + len(varint(n))) + b"\x0a" + varint(n) + v
            if n <= _MAX_CACHED_STR:
                cache = caches[0]
        elif t is float:
            return tag + varint(len(head) + 10) + head + b"\x09\x21" + pack_double(value)
        elif t is int and MIN_I64 <= value <= MAX_I64:
            vi = varint(value & M64)
            kv = head + varint(len(vi) + 1) + b"\x18" + vi
            cache = caches[1]
        else:
            try:
                kv = encode_key_value(key, value)
            except Exception as exc:  # noqa: BLE001 - the SDK logs and skips such attributes
                warn_limited(_logger, "encode-attr", "failed to encode attribute %r: %s; skipping it", key, exc)
                return None
            if t is bool:
                cache = caches[2]
        enc = tag + varint(len(kv)) + kv
        if cache is not None:
            if len(cache) >= self._max:
                cache.clear()
            cache[(key, value)] = enc
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

    def _attrs(self, tag: bytes, attrs: Any) -> list[bytes]:
        out: list[bytes] = []
        if attrs:
            self._attrs_into(out, tag, attrs, self._caches_for(tag))
        return out

    def _attrs_into(
        self,
        out: list[bytes],
        tag: bytes,
        attrs: Any,
        caches: tuple[dict[Any, bytes], dict[Any, bytes], dict[Any, bytes]],
    ) -> None:
        """Append each attribute of ``attrs`` as ``tag`` + ``KeyValue`` to ``out``."""
        str_kv, int_kv, bool_kv = caches
        if type(attrs) is BoundedAttributes and _READ_BOUNDED and attrs._immutable:
            items = attrs._dict.items()  # frozen: no lock, no Mapping-mixin __getitem__ per key
        else:
            items = attrs.items()
        for key, value in items:
            t = type(value)  # cache hits inline; misses (and other types) via _kv
            if t is str:
                enc = str_kv.get((key, value))
            elif t is int:
                enc = int_kv.get((key, value))
            elif t is bool:
                enc = bool_kv.get((key, value))
            else:
                enc = None
            if enc is None:
                enc = self._kv(tag, key, value, caches)
                if enc is None:
                    continue
            out.append(enc)

    def _name(self, name: str) -> bytes:
        enc = self._names.get(name)
        if enc is None:
            enc = length_prefixed(utf8(name))
            if len(name) <= _MAX_CACHED_STR:
                if len(self._names) >= self._max:
                    self._names.clear()
                self._names[name] = enc
        return enc

    def _encode_spans(self, spans: list[ReadableSpan], out: list[bytes]) -> int:
        """Append each span as ``ScopeSpans.spans`` (field 2) to ``out``; return how many
        could not be encoded (left out)."""
        span_caches = self._caches_for(b"\x4a")
        event_caches = self._caches_for(b"\x1a")
        encode = self._span
        failed = 0
        for span in spans:
            try:
                body = encode(span, span_caches, event_caches)[0]
            except Exception as exc:  # noqa: BLE001 - one broken span must not lose the batch
                failed += 1
                warn_limited(_logger, "encode-span", "cannot encode span %r: %r; dropping it",
                             getattr(span, "name", span), exc)
                continue
            out.append(b"\x12" + varint(len(body)))
            out.append(body)
        return failed

    def _span(self, span: ReadableSpan, span_caches: Caches, event_caches: Caches) -> tuple[bytes, int]:
        """The ``Span`` message bytes of ``span`` and its trace ID."""
        attrs_into = self._attrs_into
        name_of = self._name
        if type(span) in PLAIN_SPANS:
            # The SDK's own span classes: read their fields directly instead of through
            # properties that copy (events, links, attributes) or run ABC isinstance
            # checks (dropped counts). An ended span's lists no longer change: its
            # BoundedLists are read through their deque (no lock, no copy).
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
            enc = self._names.get(name)
            append(b"\x2a" + (enc if enc is not None else name_of(name)))
        append(KIND[kind._value_])
        if start and end:
            append(pack_span_times(0x39, start, 0x41, end))
        else:
            if start:
                append(b"\x39" + pack_u64(start))
            if end:
                append(b"\x41" + pack_u64(end))
        if attributes:
            if type(attributes) is dict:  # the frozen dict of an ended span: inline cache hits
                str_kv, int_kv, bool_kv = span_caches
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
                        enc = self._kv(b"\x4a", key, value, span_caches)
                        if enc is None:
                            continue
                    append(enc)
            else:
                attrs_into(parts, b"\x4a", attributes, span_caches)
        if dropped_attrs:
            append(b"\x50" + varint(dropped_attrs))
        if events:
            for event in events:
                if type(event) is Event:  # the SDK's event: fields, no ABC check
                    ev_name, ev_time, ev_attrs = event._name, event._timestamp, event._attributes
                    ev_dropped = getattr(ev_attrs, "dropped", 0)
                else:
                    ev_name, ev_time, ev_attrs = event.name, event.timestamp, event.attributes
                    ev_dropped = event.dropped_attributes
                ev = [pack_event_time(0x09, ev_time)] if ev_time else []
                if ev_name:
                    enc = self._names.get(ev_name)
                    ev.append(b"\x12" + (enc if enc is not None else name_of(ev_name)))
                if ev_attrs:
                    if type(ev_attrs) is BoundedAttributes and _READ_BOUNDED and ev_attrs._immutable:
                        ev_str, ev_int, ev_bool = event_caches
                        for key, value in ev_attrs._dict.items():
                            t = type(value)
                            if t is str:
                                enc = ev_str.get((key, value))
                            elif t is int:
                                enc = ev_int.get((key, value))
                            elif t is bool:
                                enc = ev_bool.get((key, value))
                            else:
                                enc = None
                            if enc is None:
                                enc = self._kv(b"\x1a", key, value, event_caches)
                                if enc is None:
                                    continue
                            ev.append(enc)
                    else:
                        attrs_into(ev, b"\x1a", ev_attrs, event_caches)
                if ev_dropped:
                    ev.append(b"\x20" + varint(ev_dropped))
                body = b"".join(ev)
                append(b"\x5a" + varint(len(body)) + body)
        if dropped_events:
            append(b"\x60" + varint(dropped_events))
        if links:
            for link in links:
                lctx = link.context
                lk = [
                    b"\x0a\x10" + lctx.trace_id.to_bytes(16, "big"),
                    b"\x12\x08" + lctx.span_id.to_bytes(8, "big"),
                ]
                lk.extend(self._attrs(b"\x22", link.attributes))
                if link.dropped_attributes:
                    lk.append(b"\x28" + varint(link.dropped_attributes))
                lk.append(LINK_FLAGS_REMOTE if lctx.is_remote else LINK_FLAGS_LOCAL)
                body = b"".join(lk)
                append(b"\x6a" + varint(len(body)) + body)
        if dropped_links:
            append(b"\x70" + varint(dropped_links))
        if status is not None and type(status) is Status and status._status_code is _UNSET and status._description is None:
            append(STATUS_UNSET_LOCAL if flags is FLAGS_LOCAL else STATUS_UNSET + flags)
        elif status is not None and status.description is None and not status.status_code.value:
            append(STATUS_UNSET + flags)
        else:
            append(encode_status(status) + flags)
        return b"".join(parts), trace_id
