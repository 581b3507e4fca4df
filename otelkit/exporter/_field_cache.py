"""The encoder's caches of attribute fields and names: :class:`FieldCache` owns them.

Encoded ``KeyValue`` fields per field tag, one dict per value type (str, int, bool: keeps
``True`` and ``1`` apart) keyed by ``(key, value)``, span/event names, and attribute key
heads. The misses (unique paths, counters, measurements, other types) are written inline
after a cached key head; floats are never cached (``-0.0 == 0.0``, ``nan != nan``). Each
cache is bounded and cleared when full; a key with more than :data:`VALUES_PER_KEY`
distinct values is encoded each time instead of filling its cache.

Only :class:`FieldCache` writes to these dicts. :class:`~otelkit.exporter._span_writer.SpanWriter`
reads them on its hot path (a hit is one ``dict.get``) and calls :meth:`FieldCache.kv` and
:meth:`FieldCache.name_field` on a miss.

Example::

    cache = FieldCache()
    fields = cache.attrs(b"\\x4a", {"http.route": "/orders/{id}"})  # Span.attributes fields
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.attributes import BoundedAttributes

from otelkit._warn import warn_limited
from otelkit.exporter._wire import (
    M64,
    MAX_I64,
    MIN_I64,
    VARINTS,
    encode_key_value,
    length_prefixed,
    pack_double,
    utf8,
    varint,
)

__all__ = ["FieldCache", "Fields", "DEFAULT_CACHE_ENTRIES", "VALUES_PER_KEY", "READ_BOUNDED"]

_logger = logging.getLogger("otelkit.exporter.encoder")

DEFAULT_CACHE_ENTRIES = 4096
"""Default bound of each encoding cache (attribute fields per tag, names); cleared when full."""

READ_BOUNDED = all(hasattr(BoundedAttributes(), a) for a in ("_dict", "_immutable"))
"""Ended spans' ``BoundedAttributes`` are immutable: their dict is read directly when it is there."""
Fields = tuple[dict[Any, bytes], dict[Any, bytes], dict[Any, bytes], dict[str, int]]
"""Per field tag: cached fields for str, int and bool values, keyed by ``(key, value)``, and
how many values of each key are cached."""

VALUES_PER_KEY = 256
"""Distinct values cached per attribute key (and field tag); later ones are encoded each time."""

_STR_HEADS = [varint(n + 2) + b"\x0a" + varint(n) for n in range(126)]  # AnyValue(string) lengths
_INT_HEADS = [varint(k + 1) + b"\x18" for k in range(12)]  # AnyValue(int) length, by varint size
MAX_CACHED_STR = 256
"""Longer string values and names are encoded every time, never cached."""


def _plain_dict(attrs: Any) -> dict[str, Any] | None:
    """The dict behind ``attrs`` when it can be read without a copy, else ``None``."""
    if type(attrs) is dict:
        return attrs
    if type(attrs) is BoundedAttributes and READ_BOUNDED and attrs._immutable:
        return attrs._dict
    return None


class FieldCache:
    """Writes and caches attribute fields and names; thread-safe (single dict operations
    are atomic; a cache that reaches ``cache_entries`` is cleared).

    Args:
        cache_entries: bound of each cache (>= 1).
    """

    def __init__(self, cache_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if not isinstance(cache_entries, int) or cache_entries < 1:
            raise ValueError(f"cache_entries={cache_entries!r} is invalid: expected an integer >= 1")
        self._max = cache_entries
        self._fields: dict[bytes, Fields] = {}  # field tag -> its caches
        self._names: dict[str, bytes] = {}  # span/event name -> length-prefixed utf-8
        self.tagged: dict[tuple[bytes, str], bytes] = {}  # (field tag, name) -> the whole field
        self._heads: dict[str, bytes] = {}  # attribute key -> KeyValue key field + value tag

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
            if n <= MAX_CACHED_STR:
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
        if len(key) <= MAX_CACHED_STR:
            if len(self._heads) >= self._max:
                self._heads.clear()
            self._heads[key] = head
        return head

    def name(self, name: str) -> bytes:
        """``name`` length-prefixed (cached up to 256 characters)."""
        enc = self._names.get(name)
        if enc is None:
            enc = length_prefixed(utf8(name))
            if len(name) <= MAX_CACHED_STR:
                if len(self._names) >= self._max:
                    self._names.clear()
                self._names[name] = enc
        return enc

    def name_field(self, tag: bytes, name: str) -> bytes:
        """``tag`` + ``name`` length-prefixed (a span's or an event's name field), cached as
        :meth:`name` is."""
        enc = tag + self.name(name)
        if len(name) <= MAX_CACHED_STR:
            if len(self.tagged) >= self._max:
                self.tagged.clear()
            self.tagged[(tag, name)] = enc
        return enc
