"""The decisions topic: one small record per decided trace, keyed by trace ID.

A record goes to the decisions partition with the same number as the spans partition the
trace came from (the topic has the spans topic's partition count), so a worker that is
assigned spans partition ``p`` replays decisions partition ``p`` - the decisions of exactly
the traces it may see again - from ``now - ttl`` (``offsets_for_times``; no log compaction
needed) up to the high watermark it saw at assignment (and on while records keep coming).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from otelkit._warn import warn_limited
from otelkit.tailworker._partition import Verdict

__all__ = ["encode", "decode", "replay"]

_logger = logging.getLogger("otelkit.tailworker")


def encode(verdict: Verdict, worker: str = "") -> bytes:
    """The record value; ``worker`` (``host:pid``) names who decided, for operators and the demo."""
    return json.dumps(
        {"k": int(verdict.keep), "l": verdict.label, "t": verdict.threshold, "at": verdict.at, "w": worker},
        separators=(",", ":"),
    ).encode()


def decode(key: bytes | None, value: bytes | None) -> tuple[int, Verdict] | None:
    """(trace ID, verdict) of a record, or None (counted by the caller) when malformed."""
    try:
        trace_id = int((key or b"").decode("ascii"), 16)
        raw = json.loads(value or b"")
        th = raw["t"]
        return trace_id, Verdict(bool(raw["k"]), str(raw["l"]), None if th is None else int(th), float(raw["at"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def replay(
    consumer: Any,
    topic: str,
    partition: int,
    ttl_s: float,
    accept: Callable[[int, Verdict], object],
    timeout_s: float,
) -> int:
    """Feed ``accept`` the decisions of ``topic``/``partition`` from the last ``ttl_s`` seconds.

    ``consumer`` is a confluent-kafka consumer used with ``assign`` only. Reads up to the
    high watermark seen at the start and on until a poll comes back empty, at most
    ``timeout_s``; returns the records read.
    """
    from confluent_kafka import OFFSET_END, TopicPartition

    deadline = time.monotonic() + timeout_s
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
        if high <= low:
            return 0
        start = low
        try:
            since_ms = int((time.time() - ttl_s) * 1000)
            found = consumer.offsets_for_times([TopicPartition(topic, partition, since_ms)], timeout=timeout_s)
            if found and found[0].offset >= 0:
                start = max(low, found[0].offset)
        except Exception as exc:  # noqa: BLE001 - no time index: replay the whole retained partition
            _logger.debug("offsets_for_times failed on %s[%d]: %r", topic, partition, exc)
        if start == OFFSET_END or start >= high:
            return 0
        consumer.assign([TopicPartition(topic, partition, start)])
        read, offset = 0, start
        while time.monotonic() < deadline:
            msg = consumer.poll(min(0.2, max(0.0, deadline - time.monotonic())))
            if msg is None:
                if offset >= high:
                    break  # caught up (read on while records come: Tansu's high mark can lag)
                continue
            if msg.error():
                continue
            offset = msg.offset() + 1
            record = decode(msg.key(), msg.value())
            if record is not None:
                accept(*record)
                read += 1
        if offset < high:
            warn_limited(_logger, "tailworker-replay", "replaying decisions of %s[%d] timed out at offset %d of %d",
                         topic, partition, offset, high)
        return read
    except Exception as exc:  # noqa: BLE001 - a failed replay must not stop the worker
        warn_limited(_logger, "tailworker-replay", "replaying decisions of %s[%d] failed: %r", topic, partition, exc)
        return 0
    finally:
        try:
            consumer.unassign()
        except Exception:  # noqa: BLE001
            _logger.debug("unassign failed", exc_info=True)
