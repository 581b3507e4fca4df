"""WebSocket carriers: handshake headers, and a per-message envelope for text and binary frames.

Handshake: :data:`websocket_headers_getter` reads the opening handshake's headers from a
``websockets`` ``Request`` or ``Headers``, an ASGI ``websocket`` scope, or a plain mapping.

Messages carry no headers, so context crosses a message only inside the payload. The
envelope schema (version 1):

* **Text frames** (JSON objects): a member ``"_otel"`` whose value is an object of
  propagation fields, placed first::

      {"_otel":{"traceparent":"00-<trace-id>-<span-id>-01","tracestate":"k=v","baggage":"k=v"},"user":"data"}

  :func:`wrap` inserts it textually (the payload is not re-serialized) and :func:`unwrap`
  removes it exactly, so ``unwrap(wrap(p))[0] == p``. An ``"_otel"`` member anywhere else
  in a JSON object is read too; the payload is then returned unchanged. Text that is not
  a JSON object is sent unwrapped (one rate-limited warning).
* **Binary frames**: a prefix ``MAGIC (b"OTW", 3 bytes) | version (1 byte, 0x01) |
  length (uint16 big-endian) | fields (length bytes of UTF-8 JSON object) | payload``.
  ``length`` is at most :data:`MAX_ENVELOPE_BYTES`.

Decoding never raises: a malformed envelope (bad JSON, wrong version, length past the end,
non-string fields) returns the payload as it came and no context, with a rate-limited
warning. Fields are whatever the global propagator injects (W3C ``traceparent``,
``tracestate``, ``baggage`` by default) and are extracted through the same propagator.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, MutableMapping
from typing import Any, TypeVar

from opentelemetry import baggage, propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators import textmap

from otelkit._warn import short, warn_limited
from otelkit.propagation._common import header_text
from otelkit.propagation._context import extract_context
from otelkit.propagation.asgi import asgi_getter

__all__ = [
    "ENVELOPE_FIELD",
    "BINARY_MAGIC",
    "BINARY_VERSION",
    "MAX_ENVELOPE_BYTES",
    "WebSocketHeadersGetter",
    "websocket_headers_getter",
    "wrap",
    "unwrap",
    "inject_json",
    "extract_json",
]

_logger = logging.getLogger("otelkit.propagation")

ENVELOPE_FIELD = "_otel"
"""JSON member holding the propagation fields of a text message."""
BINARY_MAGIC = b"OTW"
"""First three bytes of an enveloped binary message."""
BINARY_VERSION = 1
"""Envelope version written after the magic bytes."""
MAX_ENVELOPE_BYTES = 16384
"""Largest fields block accepted in a binary envelope (bytes)."""

_PREFIX = b"%s%c" % (BINARY_MAGIC, BINARY_VERSION)
_HEAD = len(_PREFIX) + 2
_TEXT_START = '{"' + ENVELOPE_FIELD + '":'
_WS = " \t\r\n"
_decoder = json.JSONDecoder()

P = TypeVar("P", str, bytes)


class WebSocketHeadersGetter(textmap.Getter[Any]):
    """Getter over handshake headers: ``websockets`` ``Request``/``Headers``, ASGI scope, mapping."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        """The value of header ``key`` (case-insensitive), repeats joined with ``","``, or ``None``."""
        try:
            if isinstance(carrier, Mapping) and "headers" in carrier and "type" in carrier:
                return asgi_getter.get(carrier, key)
            headers = getattr(carrier, "headers", carrier)
            get_all = getattr(headers, "get_all", None)
            if get_all is not None:
                values = list(get_all(key))
            else:
                value = headers.get(key)
                values = [] if value is None else [value]
            texts = [t for t in (header_text(v, key) for v in values) if t is not None]
        except Exception as exc:
            warn_limited(_logger, "ws-get", "cannot read header %r from %s (%s); ignoring it",
                         key, type(carrier).__name__, short(exc))
            return None
        return [",".join(texts)] if texts else None

    def keys(self, carrier: Any) -> list[str]:
        """Header names, each once."""
        try:
            if isinstance(carrier, Mapping) and "headers" in carrier and "type" in carrier:
                return asgi_getter.keys(carrier)
            headers = getattr(carrier, "headers", carrier)
            return list(dict.fromkeys(str(k).lower() for k in headers.keys()))
        except Exception:
            return []


class _FieldsGetter(textmap.Getter[Mapping[str, Any]]):
    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        text = header_text(carrier.get(key), key)
        return None if text is None else [text]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [str(k) for k in carrier]


websocket_headers_getter = WebSocketHeadersGetter()
_fields_getter = _FieldsGetter()


def _fields(context: Context | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        propagate.inject(fields, context=context)
    except Exception as exc:
        warn_limited(_logger, "ws-inject", "context injection failed (%s); message sent without it", exc)
        return {}
    return fields


def _context(fields: object) -> Context | None:
    if not isinstance(fields, Mapping):
        _warn_malformed("fields are not an object")
        return None
    ctx = extract_context(fields, _fields_getter, "websocket-envelope")
    if trace.get_current_span(ctx).get_span_context().is_valid or baggage.get_all(ctx):
        return ctx
    return None


def _warn_malformed(why: str) -> None:
    warn_limited(_logger, "ws-envelope", "malformed WebSocket envelope (%s); payload passed on as-is", short(why, 120))


def wrap(payload: P, context: Context | None = None) -> P:
    """``payload`` with ``context`` (default: the current context) in an envelope.

    Args:
        payload: a JSON-object text message (``str``) or a binary message (``bytes``).
        context: context to propagate; ``None`` means the current context.

    Returns:
        The enveloped payload, or ``payload`` itself when there is nothing to propagate or
        the text is not a JSON object. Never raises.
    """
    fields = _fields(context)
    if not fields:
        return payload
    block = json.dumps(fields, separators=(",", ":"), ensure_ascii=True)
    if isinstance(payload, str):
        start = len(payload) - len(payload.lstrip(_WS))
        if not payload.startswith("{", start):
            warn_limited(_logger, "ws-wrap-text", "text message is not a JSON object; sent without context")
            return payload
        rest = payload[start + 1:]
        sep = "" if rest.lstrip(_WS).startswith("}") else ","
        return payload[:start] + _TEXT_START + block + sep + rest
    if isinstance(payload, (bytes, bytearray, memoryview)):
        raw = block.encode("ascii")
        if len(raw) > MAX_ENVELOPE_BYTES:
            warn_limited(_logger, "ws-wrap-size", "context fields are %d bytes (max %d); sent without them",
                         len(raw), MAX_ENVELOPE_BYTES)
            return payload
        return _PREFIX + len(raw).to_bytes(2, "big") + raw + bytes(payload)
    return payload


def unwrap(payload: P) -> tuple[P, Context | None]:
    """Split an enveloped message into the original payload and the sender's context.

    Returns:
        ``(payload, context)``; ``context`` is ``None`` when the message has no usable
        envelope, and then ``payload`` is returned exactly as given. Never raises.
    """
    try:
        if isinstance(payload, str):
            return _unwrap_text(payload)
        if isinstance(payload, (bytes, bytearray, memoryview)):
            return _unwrap_binary(bytes(payload))
    except Exception as exc:  # pragma: no cover - every branch below is guarded
        _warn_malformed(f"{type(exc).__name__}: {exc}")
    return payload, None


def _unwrap_text(text: str) -> tuple[str, Context | None]:
    start = len(text) - len(text.lstrip(_WS))
    if text.startswith(_TEXT_START, start):
        try:
            fields, end = _decoder.raw_decode(text, start + len(_TEXT_START))
        except ValueError:
            _warn_malformed("the _otel member is not valid JSON")
            return text, None
        if not isinstance(fields, dict):
            _warn_malformed("the _otel member is not an object")
            return text, None
        tail = text[end:]
        if tail.startswith(","):
            tail = tail[1:]
        elif not tail.lstrip(_WS).startswith("}"):
            _warn_malformed("the _otel member is not followed by ',' or '}'")
            return text, None
        return text[:start] + "{" + tail, _context(fields)
    if '"' + ENVELOPE_FIELD + '"' in text:
        try:
            obj = json.loads(text)
        except ValueError:
            return text, None
        if isinstance(obj, dict) and ENVELOPE_FIELD in obj:
            return text, _context(obj[ENVELOPE_FIELD])
    return text, None


def _unwrap_binary(data: bytes) -> tuple[bytes, Context | None]:
    if not data.startswith(BINARY_MAGIC) or len(data) < _HEAD:
        return data, None
    if data[len(BINARY_MAGIC)] != BINARY_VERSION:
        _warn_malformed(f"version {data[len(BINARY_MAGIC)]}, supported: {BINARY_VERSION}")
        return data, None
    size = int.from_bytes(data[_HEAD - 2:_HEAD], "big")
    if size > MAX_ENVELOPE_BYTES or _HEAD + size > len(data):
        _warn_malformed(f"fields length {size} exceeds the message or {MAX_ENVELOPE_BYTES}")
        return data, None
    try:
        fields = json.loads(data[_HEAD:_HEAD + size].decode("utf-8"))
    except ValueError:
        _warn_malformed("fields are not UTF-8 JSON")
        return data, None
    if not isinstance(fields, dict):
        _warn_malformed("fields are not an object")
        return data, None
    return data[_HEAD + size:], _context(fields)


def inject_json(obj: MutableMapping[str, Any], context: Context | None = None) -> MutableMapping[str, Any]:
    """Put the ``"_otel"`` member into a JSON object before you serialize it; returns ``obj``."""
    fields = _fields(context)
    if fields:
        try:
            obj[ENVELOPE_FIELD] = fields
        except Exception as exc:
            warn_limited(_logger, "ws-inject-json", "cannot set %s on %s (%s)", ENVELOPE_FIELD,
                         type(obj).__name__, exc)
    return obj


def extract_json(obj: object) -> Context | None:
    """The sender's context from a parsed JSON object's ``"_otel"`` member, or ``None``."""
    if not isinstance(obj, Mapping) or ENVELOPE_FIELD not in obj:
        return None
    return _context(obj[ENVELOPE_FIELD])
