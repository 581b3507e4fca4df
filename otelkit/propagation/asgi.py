"""ASGI carrier: read propagation headers from a scope, write them into a response message.

ASGI gives headers as a list of ``(name, value)`` byte pairs. Contrib's ``ASGIGetter``
decodes every header on every lookup (O(keys x headers)) and used to crash on non-UTF-8
values (contrib #1478, #1814). Here the list is indexed ONCE per request into a dict keyed
by lower-cased name; values are decoded only when looked up, through
:func:`otelkit.propagation._common.header_text` (UTF-8, else Latin-1, never raises).
Repeated headers are joined with ``","`` in arrival order, as RFC 9110 section 5.3 allows
and the W3C ``tracestate``/``baggage`` specs require; two different ``traceparent``
headers therefore join into an invalid value and a new trace starts.

Example::

    from opentelemetry import propagate
    from otelkit.propagation.asgi import asgi_getter

    ctx = propagate.extract(scope, getter=asgi_getter)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from opentelemetry.propagators import textmap

from otelkit._warn import warn_limited
from otelkit.propagation._common import header_bytes, header_text

__all__ = [
    "ASGIGetter",
    "ASGISetter",
    "HeaderIndexGetter",
    "asgi_getter",
    "asgi_setter",
    "header_index",
    "index_headers",
    "index_getter",
]

_logger = logging.getLogger("otelkit.propagation")

_CACHE_KEY = "otelkit.header_index"
"""Scope key caching ``(header list, its length, index)``: a replaced or appended-to list is re-indexed."""

HeaderIndex = dict[str, Any]
"""Lower-cased header name -> raw value (bytes or str); repeats already joined."""


def _name(raw: object) -> str | None:
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw).decode("latin-1").lower()
    if isinstance(raw, str):
        return raw.lower()
    return None


def index_headers(headers: object) -> HeaderIndex:
    """Index an ASGI header list once: O(headers), never raises.

    Args:
        headers: the scope's ``headers`` (an iterable of ``(name, value)`` pairs). Names
            and values may be ``bytes`` or ``str``; malformed items are skipped with a
            rate-limited warning.

    Returns:
        Lower-cased name -> raw value; repeated names are joined with ``","``.
    """
    if not headers:
        return {}
    if isinstance(headers, (list, tuple)):
        try:  # fast path: bytes names, no repeats (the common request)
            index: HeaderIndex = {k.decode("latin-1").lower(): v for k, v in headers}
            if len(index) == len(headers):
                return index
        except Exception:
            pass
    return _index_slow(headers)


def _index_slow(headers: object) -> HeaderIndex:
    """Item by item: str names, repeated names, malformed items (skipped with a warning)."""
    index: HeaderIndex = {}
    try:
        items: Iterable[Any] = headers  # type: ignore[assignment]
        for item in items:
            try:
                raw_name, value = item
            except (TypeError, ValueError):
                _warn_item(item)
                continue
            name = _name(raw_name)
            if name is None or not isinstance(value, (bytes, bytearray, str)):
                _warn_item(item)
                continue
            if isinstance(value, bytearray):
                value = bytes(value)
            prev = index.get(name)
            if prev is None:
                index[name] = value
            elif isinstance(prev, str) and isinstance(value, str):
                index[name] = prev + "," + value
            else:
                index[name] = header_bytes(prev) + b"," + header_bytes(value)
    except Exception as exc:  # not iterable, or an iterator that fails half-way
        warn_limited(_logger, "asgi-headers", "ASGI headers are unusable (%s: %s); ignoring them",
                     type(exc).__name__, exc)
    return index


def _warn_item(item: object) -> None:
    warn_limited(_logger, "asgi-header-item",
                 "ASGI header item of type %s is not a (bytes, bytes) pair; ignoring it", type(item).__name__)


def header_index(scope: object) -> HeaderIndex:
    """The scope's header index, built once per request and cached in the scope."""
    if not isinstance(scope, Mapping):
        return {}
    try:
        headers = scope.get("headers")
        cached = scope.get(_CACHE_KEY)
        if (type(cached) is tuple and len(cached) == 3 and cached[0] is headers
                and cached[1] == _size(headers) and type(cached[2]) is dict):
            return cached[2]
    except Exception:  # a Mapping whose get() misbehaves
        return {}
    index = index_headers(headers)
    if isinstance(scope, MutableMapping):
        try:
            scope[_CACHE_KEY] = (headers, _size(headers), index)
        except Exception:  # pragma: no cover - a read-only mapping posing as mutable
            pass
    return index


def _size(headers: object) -> int:
    return len(headers) if isinstance(headers, (list, tuple)) else -1


class HeaderIndexGetter(textmap.Getter[HeaderIndex]):
    """Getter over an index built by :func:`index_headers` (what the middleware uses)."""

    def get(self, carrier: HeaderIndex, key: str) -> list[str] | None:
        """The decoded value of ``key`` (case-insensitive) as a one-item list, or ``None``."""
        try:
            raw = carrier.get(key.lower())
        except Exception:
            return None
        text = header_text(raw, key) if raw is not None else None
        return None if text is None else [text]

    def keys(self, carrier: HeaderIndex) -> list[str]:
        """Header names (lower-cased, each once)."""
        try:
            return list(carrier)
        except Exception:
            return []


class ASGIGetter(textmap.Getter[Mapping[str, Any]]):
    """Getter over an ASGI ``http``/``websocket`` scope; indexes the headers once per scope."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        """The decoded value of header ``key`` (case-insensitive), repeats joined, or ``None``."""
        return index_getter.get(header_index(carrier), key)

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        """The scope's header names (lower-cased, each once)."""
        return list(header_index(carrier))


class ASGISetter(textmap.Setter[MutableMapping[str, Any]]):
    """Setter appending a header to an ASGI message (``http.response.start``) or scope."""

    def set(self, carrier: MutableMapping[str, Any], key: str, value: str) -> None:
        """Append ``(key, value)`` as lower-cased bytes; warns instead of raising."""
        try:
            headers = carrier.get("headers")
            pair = (key.lower().encode("latin-1"), header_bytes(value))
            if headers is None:
                carrier["headers"] = [pair]
            elif isinstance(headers, list):
                headers.append(pair)
            else:  # tuples and other immutable sequences: replace with a list
                carrier["headers"] = [*headers, pair]
        except Exception as exc:
            warn_limited(_logger, "asgi-set", "cannot set header %r on %s (%s); skipping it",
                         key, type(carrier).__name__, exc)


index_getter = HeaderIndexGetter()
asgi_getter = ASGIGetter()
asgi_setter = ASGISetter()
