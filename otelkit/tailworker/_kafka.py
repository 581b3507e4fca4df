"""Kafka plumbing of the tail worker: the decisions topic and partition pauses."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["ensure_decisions_topic", "set_paused"]

_logger = logging.getLogger("otelkit.tailworker")


def ensure_decisions_topic(
    kafka: Mapping[str, str | int | float | bool], topic: str, decisions_topic: str, stop: threading.Event,
    timeout_s: float = 30.0,
) -> int:
    """Create ``decisions_topic`` with ``topic``'s partition count when missing; that count.

    Waits (at most ``timeout_s``, or until ``stop``: then 1) for the spans topic to exist;
    another worker creating the decisions topic at the same moment is fine.
    """
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    admin = AdminClient(dict(kafka))
    deadline = time.monotonic() + timeout_s
    while not stop.is_set():
        meta = admin.list_topics(timeout=5.0)
        spans = meta.topics.get(topic)
        if spans is not None and spans.error is None and spans.partitions:
            count = len(spans.partitions)
            if decisions_topic not in meta.topics:
                for future in admin.create_topics([NewTopic(decisions_topic, count, 1)]).values():
                    try:
                        future.result(10.0)
                    except Exception as exc:  # noqa: BLE001 - another worker may have created it
                        _logger.debug("create %s: %r", decisions_topic, exc)
            return count
        if time.monotonic() > deadline:
            raise RuntimeError(f"spans topic {topic!r} does not exist")
        stop.wait(0.5)
    return 1


def set_paused(consumer: Any, topic: str, want: set[int], paused: set[int], assigned: set[int]) -> set[int]:
    """Pause the partitions in ``want`` and resume the others of ``paused``; the new paused set."""
    from confluent_kafka import TopicPartition

    pause = [TopicPartition(topic, n) for n in sorted(want - paused)]
    resume = [TopicPartition(topic, n) for n in sorted(paused - want) if n in assigned]
    try:
        if pause:
            consumer.pause(pause)
        if resume:
            consumer.resume(resume)
    except Exception as exc:  # noqa: BLE001 - e.g. a partition revoked meanwhile: next round fixes it
        _logger.debug("pause/resume failed: %r", exc)
        return paused & assigned
    return set(want)
