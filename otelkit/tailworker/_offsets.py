"""Committed offsets and lag of a worker's assigned partitions.

:class:`Offsets` owns when the worker last committed and each partition's lag (messages
not read yet, from the consumer's cached high watermark). A commit writes, per partition,
the offset below its oldest span that is undecided or not yet exported
(``Partition.committable``), and only once the decisions are delivered (``ready``): a
commit before could let a restarted owner skip spans whose decision it never sees.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from otelkit.tailworker._partition import Partition

__all__ = ["Offsets"]

_logger = logging.getLogger("otelkit.tailworker")


class Offsets:
    """Commits of ``topic``'s assigned partitions, due every ``interval_s`` seconds of
    ``clock`` (default ``time.monotonic``).

    Attributes:
        last: ``clock()`` at the last commit attempt (0.0 before the first).
        lag: partition number -> messages not read yet (measured at each commit).
    """

    def __init__(self, topic: str, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.topic = topic
        self.interval_s = interval_s
        self._clock = clock
        self.last = 0.0
        self.lag: dict[int, int] = {}

    def due(self) -> bool:
        """Whether ``interval_s`` passed since the last commit."""
        return self._clock() - self.last >= self.interval_s

    def commit(self, consumer: Any, parts: Mapping[int, Partition], numbers: Iterable[int], *, asynchronous: bool,
               ready: Callable[[], bool]) -> None:
        """Commit the committable offsets of ``numbers`` (those still in ``parts``), and
        measure their lag, if ``ready()`` (the decisions are delivered); a failed commit is
        left to the next one."""
        from confluent_kafka import TopicPartition

        self.last = self._clock()
        if not ready():
            return  # decisions not delivered yet: committing now could let a trace be re-decided
        offsets = []
        for number in numbers:
            part = parts.get(number)
            self._measure(consumer, number, part)
            at = part.committable() if part is not None else None
            if at is not None:
                offsets.append(TopicPartition(self.topic, number, at))
        if offsets:
            try:
                consumer.commit(offsets=offsets, asynchronous=asynchronous)
            except Exception as exc:  # noqa: BLE001 - e.g. a rebalance in progress; the next commit retries
                _logger.debug("commit failed: %r", exc)

    def forget(self, number: int) -> None:
        """Drop the lag of a partition no longer assigned."""
        self.lag.pop(number, None)

    def _measure(self, consumer: Any, number: int, part: Partition | None) -> None:
        from confluent_kafka import TopicPartition

        if part is not None and part.position is not None:
            try:
                high = consumer.get_watermark_offsets(TopicPartition(self.topic, number), cached=True)[1]
                self.lag[number] = max(0, high - part.position)
            except Exception:  # noqa: BLE001 - no cached watermark yet
                self.lag.pop(number, None)
