"""The spool's record format: a 28-byte header (magic ``OKS1``, state, key flag, span count,
creation time as Unix seconds, key and body lengths), the key, the body, and a CRC-32 of
everything but the state byte, which replay rewrites in place (pending -> delivered/dropped).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = ["MAGIC", "HEADER", "CRC", "PENDING", "DELIVERED", "DROPPED", "CORRUPT", "Record", "pack", "checksum"]

MAGIC = b"OKS1"
HEADER = struct.Struct("<4sBBHIdII")  # magic, state, has_key, reserved, spans, created, key_len, body_len
CRC = struct.Struct("<I")
PENDING, DELIVERED, DROPPED, CORRUPT = 0, 1, 2, 3


@dataclass(frozen=True)
class Record:
    """One spooled request: ``spans`` spans, written at ``created`` (Unix seconds)."""

    offset: int
    spans: int
    created: float
    key: bytes | None
    body: bytes


def pack(spans: int, created: float, key: bytes | None, body: bytes) -> bytes:
    k = key or b""
    head = HEADER.pack(MAGIC, PENDING, 1 if key is not None else 0, 0, spans, created, len(k), len(body))
    return head + k + body + CRC.pack(checksum(head, k, body))


def checksum(head: bytes, key: bytes, body: bytes) -> int:
    """CRC-32 of a record, its state byte (offset 4) left out so it can change in place."""
    return zlib.crc32(body, zlib.crc32(key, zlib.crc32(head[5:], zlib.crc32(head[:4]))))
