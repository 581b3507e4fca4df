"""Kafka plumbing of the tail worker: the decisions topic, the group consumer's assignment
strategy, partition pauses.

Assignment: ``cooperative`` is librdkafka's ``cooperative-sticky`` (a rebalance revokes
only the partitions that move; the others keep being read), ``eager`` is ``range`` (every
member hands over everything). A group cannot mix the two: the broker answers a member
whose strategy no other member supports with ``INCONSISTENT_GROUP_PROTOCOL``
(:data:`REFUSED`); the worker then rejoins eager."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["ensure_decisions_topic", "set_paused", "group_config", "is_cooperative", "ASSIGNMENTS", "REFUSED"]

ASSIGNMENTS = {"cooperative": "cooperative-sticky", "eager": "range"}
"""``OTELKIT_TAIL_WORKER_ASSIGNMENT`` value -> librdkafka ``partition.assignment.strategy``."""

REFUSED = frozenset({23, -165})
"""Consumer error codes that mean the group refuses cooperative assignment:
``INCONSISTENT_GROUP_PROTOCOL`` (members with other strategies), ``_UNSUPPORTED_FEATURE``."""


def group_config(kafka: Mapping[str, str | int | float | bool], group: str, assignment: str) -> dict[str, Any]:
    """The group consumer's properties: manual commits, from the earliest offset, and the
    strategy of ``assignment`` (unless ``kafka`` sets ``partition.assignment.strategy``)."""
    return {"partition.assignment.strategy": ASSIGNMENTS[assignment], **kafka, "group.id": group,
            "enable.auto.commit": "false", "auto.offset.reset": "earliest"}


def is_cooperative(config: Mapping[str, Any]) -> bool:
    """Whether ``config``'s assignment strategy is cooperative (incremental assign/unassign)."""
    return "cooperative" in str(config.get("partition.assignment.strategy", ""))

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
