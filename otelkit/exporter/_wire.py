"""Protobuf wire-format pieces of the OTLP trace encoder: varints, tags, values.

Field numbers follow ``opentelemetry/proto/trace/v1/trace.proto`` and
``common/v1/common.proto``; every function returns ready-to-concatenate ``bytes``.
Value encoding mirrors the SDK's ``_encode_value`` type order (bool before int, str,
int64 range check, float, bytes, sequence, mapping), so the same values are skipped.
Text goes through :func:`utf8`: protobuf strings must be valid UTF-8, so a lone surrogate
(which Python strings may hold) becomes U+FFFD instead of failing the whole request.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "M64",
    "MIN_I64",
    "MAX_I64",
    "pack_u64",
    "pack_double",
    "pack_span_times",
    "pack_event_time",
    "pack_kind_times",
    "pack_ids",
    "varint_slow",
    "VARINTS",
    "varint",
    "length_prefixed",
    "utf8",
    "encode_any_value",
    "encode_key_value",
    "encode_status",
    "encode_trace_state",
    "KIND",
    "FLAGS_LOCAL",
    "FLAGS_REMOTE",
    "LINK_FLAGS_LOCAL",
    "LINK_FLAGS_REMOTE",
    "STATUS_UNSET",
]

M64 = (1 << 64) - 1
MIN_I64 = -(1 << 63)
MAX_I64 = (1 << 63) - 1

pack_u64 = struct.Struct("<Q").pack
pack_double = struct.Struct("<d").pack
pack_span_times = struct.Struct("<BQBQ").pack  # span start (field 7) + end (field 8), fixed64
pack_event_time = struct.Struct("<BQ").pack
pack_kind_times = struct.Struct("<BBBQBQ").pack  # kind (field 6, one-byte varint) + start + end
pack_ids = struct.Struct(">HQQHQ").pack  # trace_id (field 1, 16 B) + span_id (field 2, 8 B)


def varint_slow(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


VARINTS = [varint_slow(i) for i in range(4096)]


def varint(n: int) -> bytes:
    """Varint of a non-negative int (table lookup below 4096, two bytes inline below 2**14)."""
    if n < 4096:
        return VARINTS[n]
    if n < 16384:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    return varint_slow(n)


def utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate becomes U+FFFD (a surrogate pair spelled as two
    code points becomes the character it encodes). Valid text: ``text.encode("utf-8")``."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")


def length_prefixed(body: bytes) -> bytes:
    """``body`` with its varint length prefix."""
    return varint(len(body)) + body


def encode_any_value(v: Any) -> bytes:
    """Body of an ``AnyValue`` for ``v``, with the SDK's ``_encode_value`` type order."""
    if v is None:
        return b""
    if isinstance(v, bool):
        return b"\x10\x01" if v else b"\x10\x00"
    if isinstance(v, str):
        return b"\x0a" + length_prefixed(utf8(v))
    if isinstance(v, int):
        if not MIN_I64 <= v <= MAX_I64:
            raise ValueError(f"int {v} is outside int64")
        return b"\x18" + varint_slow(v & M64)
    if isinstance(v, float):
        return b"\x21" + pack_double(v)
    if isinstance(v, bytes):
        return b"\x3a" + length_prefixed(v)
    if isinstance(v, Sequence):
        return b"\x2a" + length_prefixed(b"".join([b"\x0a" + length_prefixed(encode_any_value(x)) for x in v]))
    if isinstance(v, Mapping):
        return b"\x32" + length_prefixed(b"".join([b"\x0a" + length_prefixed(encode_key_value(str(k), x)) for k, x in v.items()]))
    raise TypeError(f"invalid type {type(v).__name__} of value {v!r}")


def encode_key_value(key: str, value: Any) -> bytes:
    """Body of a ``KeyValue`` (an empty key is left out, as proto3 does)."""
    kb = utf8(key)
    head = b"\x0a" + length_prefixed(kb) if kb else b""
    return head + b"\x12" + length_prefixed(encode_any_value(value))


def encode_status(status: Any) -> bytes:
    """``Span.status`` field (15) with its length prefix; the SDK always sends one."""
    if status is None:
        return b""
    body = b""
    desc = status.description
    if desc:
        body = b"\x12" + length_prefixed(utf8(desc))
    code = status.status_code.value
    if code:
        body += b"\x18" + varint(code)
    return b"\x7a" + length_prefixed(body)


def encode_trace_state(ts: Any) -> bytes:
    if ts is None:
        return b""
    text = ",".join([f"{k}={v}" for k, v in ts.items()])
    return b"\x1a" + length_prefixed(utf8(text)) if text else b""


KIND = {i: b"\x30" + varint(i + 1) for i in range(5)}  # SpanKind.value -> proto enum (+1)
FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)  # field 16 fixed32: has-is-remote
FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)  # ... and is-remote
LINK_FLAGS_LOCAL = b"\x35" + struct.pack("<I", 0x100)  # Link field 6 fixed32
LINK_FLAGS_REMOTE = b"\x35" + struct.pack("<I", 0x300)
STATUS_UNSET = b"\x7a\x00"
