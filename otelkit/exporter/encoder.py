"""Direct OTLP trace encoder: ``ReadableSpan`` sequence -> ``ExportTraceServiceRequest`` bytes.

The SDK's ``encode_spans`` builds one protobuf message object per span, attribute and
value (~54 µs/span for realistic spans); this encoder writes the protobuf wire format by
hand instead: precomputed field tags, cached resource/scope encodings, a bounded cache of
encoded attribute key/value pairs and span names, and no intermediate message objects.
Span bodies are written by :class:`~otelkit.exporter._span_writer.SpanWriter` (the
per-span hot path and its caches); this class owns the resource/scope encodings and the
request assembly.

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

from opentelemetry.sdk.trace import ReadableSpan

from otelkit._warn import warn_limited
from otelkit.exporter._request import Groups, group_spans, write_parts
from otelkit.exporter._span_writer import DEFAULT_CACHE_ENTRIES, PLAIN_SPANS, SpanWriter
from otelkit.exporter._verbatim import VerbatimResource, VerbatimScope
from otelkit.exporter._wire import length_prefixed, utf8, varint

__all__ = ["SpanEncoder", "DEFAULT_CACHE_ENTRIES", "PLAIN_SPANS"]

_logger = logging.getLogger("otelkit.exporter.encoder")

T = TypeVar("T")


class SpanEncoder:
    """Encode spans to the bytes of one ``ExportTraceServiceRequest``.

    Thread-safe: the caches are plain dicts whose single operations are atomic; a cache
    that reaches ``cache_entries`` is cleared (never grows without bound).

    Args:
        cache_entries: bound of each encoding cache; default :data:`DEFAULT_CACHE_ENTRIES`.

    Attributes:
        span_body: ``span_body(span) -> (bytes, trace_id)``: one span as the bytes of an
            OTLP ``Span`` message, and its trace ID. Raises ``ValueError`` for a span without
            a context, and whatever reading a broken span subclass raises; text never raises
            (lone surrogates become U+FFFD).
    """

    span_body: Callable[[ReadableSpan], tuple[bytes, int]]

    def __init__(self, cache_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.writer = SpanWriter(cache_entries)
        self.span_body = self.writer.span  # bound once: no wrapper frame per span
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
        """``ResourceSpans.resource`` field (tag + length + message) of ``resource``, cached
        (a :class:`~otelkit.exporter._verbatim.VerbatimResource`: the field it was read from)."""
        return self._resource(resource)

    def scope_bytes(self, scope: Any) -> bytes:
        """``ScopeSpans.scope`` field (tag + length + message) of ``scope``, cached
        (a :class:`~otelkit.exporter._verbatim.VerbatimScope`: the field it was read from)."""
        return self._scope(scope)

    # ------------------------------------------------------------------ internals

    def _resource(self, resource: Any) -> bytes:
        hit = self._resources.get(id(resource))
        if hit is not None and hit[0] is resource:
            return hit[1]
        if type(resource) is VerbatimResource:  # read off the wire: its own bytes
            enc = resource.field
        else:
            enc = b"\x0a" + length_prefixed(b"".join(self.writer.attrs(b"\x0a", resource.attributes)))
        if len(self._resources) >= 64:
            self._resources.clear()
        self._resources[id(resource)] = (resource, enc)
        return enc

    def _scope(self, scope: Any) -> bytes:
        hit = self._scopes.get(id(scope))
        if hit is not None and hit[0] is scope:
            return hit[1]
        if type(scope) is VerbatimScope:  # read off the wire: its own bytes
            enc = scope.field
        else:
            body = b""
            if scope is not None:
                if scope.name:
                    body += b"\x0a" + length_prefixed(utf8(scope.name))
                if scope.version:
                    body += b"\x12" + length_prefixed(utf8(scope.version))
                body += b"".join(self.writer.attrs(b"\x1a", scope.attributes))
            enc = b"\x0a" + length_prefixed(body)
        if len(self._scopes) >= 256:
            self._scopes.clear()
        self._scopes[id(scope)] = (scope, enc)
        return enc

    def _encode_spans(self, spans: list[ReadableSpan], out: list[bytes]) -> int:
        """Append each span as ``ScopeSpans.spans`` (field 2) to ``out``; return how many
        could not be encoded (left out)."""
        encode = self.span_body
        failed = 0
        for span in spans:
            try:
                body = encode(span)[0]
            except Exception as exc:  # noqa: BLE001 - one broken span must not lose the batch
                failed += 1
                warn_limited(_logger, "encode-span", "cannot encode span %r: %r; dropping it",
                             getattr(span, "name", span), exc)
                continue
            out.append(b"\x12" + varint(len(body)))
            out.append(body)
        return failed
