"""Header-value handling shared by every carrier: never raise, warn (rate-limited), fall back.

Carriers meet values of every type: ``bytes`` (ASGI, Kafka), ``str`` (aiohttp, some Kafka
clients), ``None`` (Kafka headers without a value), ``bytearray``/``memoryview``, and now
and then something else entirely. :func:`header_text` turns any of them into ``str`` or
``None`` without raising:

* ``bytes``-like values are decoded as UTF-8; invalid UTF-8 is decoded as Latin-1 (every
  byte maps to one character, so nothing is lost and nothing raises) after one
  rate-limited warning. A ``str`` holding surrogate escapes (aiohttp's decoding of
  non-UTF-8 header bytes) is treated the same way, so aiohttp and ASGI see equal text. A
  malformed ``traceparent`` then fails the propagator's own validation and a new trace
  starts, as the W3C spec wants.
* warning kinds never carry the sender's header names (case-folded known names, else
  ``other``) and quote at most a short prefix of a bad value.
* values longer than :data:`MAX_HEADER_CHARS` (the W3C baggage limit, 8192) are ignored
  with a warning: no propagation header is legitimately that long.
* any other type is ignored with a warning naming the type.
"""

from __future__ import annotations

import logging

from otelkit._warn import short, warn_limited

__all__ = ["MAX_HEADER_CHARS", "header_text", "header_bytes"]

_logger = logging.getLogger("otelkit.propagation")

MAX_HEADER_CHARS = 8192
"""Largest header value a carrier hands to a propagator (W3C Baggage: 8192 bytes)."""


def header_text(value: object, key: str = "") -> str | None:
    """``value`` as text, or ``None`` when it is absent, oversized or of an unusable type."""
    if value is None:
        return None
    name = _kind(key)
    if isinstance(value, str):
        text = value
        if not text.isascii() and _has_surrogates(text):  # aiohttp's surrogate-escaped bytes
            try:
                value = text.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:  # another lone surrogate (a JSON envelope's "\ud800")
                value = text.encode("utf-8", "replace")
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            warn_limited(
                _logger,
                "header-utf8:" + name,
                "header %r is not valid UTF-8 (%d bytes, starts %s); decoding it as Latin-1",
                name,
                len(raw),
                short(raw, 32),
            )
            text = raw.decode("latin-1")
    elif not isinstance(value, str):
        warn_limited(
            _logger,
            "header-type:" + name,
            "header %r has a value of type %s; allowed: str, bytes or None; ignoring it",
            name,
            type(value).__name__,
        )
        return None
    if len(text) > MAX_HEADER_CHARS:
        warn_limited(
            _logger,
            "header-size:" + name,
            "header %r is %d characters long (starts %r); allowed: at most %d; ignoring it",
            name,
            len(text),
            short(text, 32),
            MAX_HEADER_CHARS,
        )
        return None
    return text


_KNOWN = frozenset({"traceparent", "tracestate", "baggage", "host", "user-agent", "query_string"})


def _kind(key: str) -> str:
    """The warning-kind label for header ``key``: case-folded; unknown names share one label.

    Header names come from the sender, so they must not mint new warning kinds:
    ``TraceParent``, ``TRACEPARENT``, ... are one kind, and any other name is ``other``.
    """
    low = key.lower() if isinstance(key, str) else ""
    return low if low in _KNOWN else "other"


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def header_bytes(value: str | bytes) -> bytes:
    """``value`` encoded for a bytes-valued carrier (propagators produce ASCII text)."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogateescape")
