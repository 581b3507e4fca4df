"""Header-value handling shared by every carrier: never raise, warn (rate-limited), fall back.

Carriers meet values of every type: ``bytes`` (ASGI, Kafka), ``str`` (aiohttp, some Kafka
clients), ``None`` (Kafka headers without a value), ``bytearray``/``memoryview``, and now
and then something else entirely. :func:`header_text` turns any of them into ``str`` or
``None`` without raising:

* ``bytes``-like values are decoded as UTF-8; invalid UTF-8 is decoded as Latin-1 (every
  byte maps to one character, so nothing is lost and nothing raises) after one
  rate-limited warning. A malformed ``traceparent`` then fails the propagator's own
  validation and a new trace starts, as the W3C spec wants.
* values longer than :data:`MAX_HEADER_CHARS` (the W3C baggage limit, 8192) are ignored
  with a warning: no propagation header is legitimately that long.
* any other type is ignored with a warning naming the type.
"""

from __future__ import annotations

import logging

from otelkit._warn import warn_limited

__all__ = ["MAX_HEADER_CHARS", "header_text", "header_bytes"]

_logger = logging.getLogger("otelkit.propagation")

MAX_HEADER_CHARS = 8192
"""Largest header value a carrier hands to a propagator (W3C Baggage: 8192 bytes)."""


def header_text(value: object, key: str = "") -> str | None:
    """``value`` as text, or ``None`` when it is absent, oversized or of an unusable type."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            warn_limited(
                _logger,
                "header-utf8:" + key[:64],
                "header %r is not valid UTF-8 (%d bytes); decoding it as Latin-1",
                key[:64],
                len(raw),
            )
            text = raw.decode("latin-1")
    else:
        warn_limited(
            _logger,
            "header-type:" + key[:64],
            "header %r has a value of type %s; allowed: str, bytes or None; ignoring it",
            key[:64],
            type(value).__name__,
        )
        return None
    if len(text) > MAX_HEADER_CHARS:
        warn_limited(
            _logger,
            "header-size:" + key[:64],
            "header %r is %d characters long; allowed: at most %d; ignoring it",
            key[:64],
            len(text),
            MAX_HEADER_CHARS,
        )
        return None
    return text


def header_bytes(value: str | bytes) -> bytes:
    """``value`` encoded for a bytes-valued carrier (propagators produce ASCII text)."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogateescape")
