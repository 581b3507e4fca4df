"""Which spans partitions a tail worker pauses, and why (one owner: :class:`Backpressure`).

Two reasons to stop reading a partition, never to drop what it holds:

* ``buffer``: its trace buffer is near full. Above the high-water mark (a share of the
  buffer's span and byte limits) the partition is paused; it is resumed once decisions
  brought the buffer below the low-water mark (hysteresis: no pause/resume flapping).
  Reading on would make the buffer decide traces early (``overflow="decide"``) to stay
  within its limits; pausing lets them wait for their decision.
* ``export``: kept traces of the partition wait for a failed export to be retried.

The worker reports each partition's fill after every message (:meth:`Backpressure.took`:
pauses at once, rewinding the consumer to the next unread offset, whose batch's later
messages :meth:`Backpressure.skips`) and every loop round (:meth:`Backpressure.apply`:
pauses and resumes on the consumer). Pause events are counted by reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = ["Backpressure", "BUFFER", "EXPORT"]

_logger = logging.getLogger("otelkit.tailworker")

BUFFER = "buffer"
EXPORT = "export"


class Backpressure:
    """Pause state of the assigned partitions (used by the worker's loop thread only).

    Args:
        high: buffer fill (0..1, the larger of spans/max_spans and bytes/max_bytes) at or
            above which a partition is paused.
        low: fill at or below which a partition paused for its buffer is resumed.
    """

    def __init__(self, high: float, low: float) -> None:
        if not 0.0 < high <= 1.0:
            raise ValueError(f"high-water mark {high!r} is not allowed: a share in (0, 1]")
        if not 0.0 <= low <= high:
            raise ValueError(f"low-water mark {low!r} is not allowed: a share in [0, high-water mark {high}]")
        self.high, self.low = high, low
        self._full: set[int] = set()
        self.paused: set[int] = set()
        self.events: dict[str, int] = {BUFFER: 0, EXPORT: 0}
        self._rewind: dict[int, int] = {}  # paused mid-batch: the offset it reads next on resume

    def fill(self, number: int, fill: float) -> bool:
        """Record partition ``number``'s buffer fill; True if it must be paused now (it just
        crossed the high-water mark and is not paused yet)."""
        if number in self._full:
            if fill <= self.low:
                self._full.discard(number)
            return False
        if fill < self.high:
            return False
        self._full.add(number)
        if number in self.paused:
            return False
        self.events[BUFFER] += 1
        self.paused.add(number)
        return True

    def full(self) -> set[int]:
        """Partitions paused for their buffer (until it is below the low-water mark)."""
        return set(self._full)

    def wanted(self, export_waiting: Collection[int], assigned: Collection[int]) -> set[int]:
        """The partitions to keep paused: buffer full or kept traces waiting for export."""
        want = (self._full | set(export_waiting)) & set(assigned)
        self.events[EXPORT] += len((set(export_waiting) & set(assigned)) - self.paused)
        return want

    def applied(self, paused: set[int]) -> None:
        """The consumer's paused set after a pause/resume round."""
        self.paused = set(paused)

    def forget(self, numbers: Collection[int]) -> None:
        """Partitions revoked or lost: no longer paused, their fill unknown."""
        self._full.difference_update(numbers)
        self.paused.difference_update(numbers)
        for number in numbers:
            self._rewind.pop(number, None)

    # -- on the consumer --------------------------------------------------------------
    def skips(self, number: int) -> bool:
        """Whether a fetched message of ``number`` is to be skipped (paused mid-batch and
        rewound: it is read again after the resume)."""
        return number in self._rewind

    def took(self, consumer: Any, topic: str, number: int, offset: int, fill: float) -> None:
        """Partition ``number`` took the message at ``offset`` and is ``fill`` full: pause it
        now and rewind it to ``offset + 1`` if that crossed the high-water mark."""
        if not self.fill(number, fill):
            return
        from confluent_kafka import TopicPartition

        try:
            consumer.pause([TopicPartition(topic, number)])
            consumer.seek(TopicPartition(topic, number, offset + 1))
        except Exception as exc:  # noqa: BLE001 - e.g. revoked meanwhile: the next apply() retries
            _logger.debug("pause of partition %d failed: %r", number, exc)
            return
        self._rewind[number] = offset + 1
        self.paused.add(number)

    def apply(self, consumer: Any, topic: str, fills: Mapping[int, Callable[[], float]],
              export_waiting: Collection[int]) -> None:
        """Pause/resume the assigned partitions (``fills``: each one's fill) on ``consumer``."""
        from otelkit.tailworker._kafka import set_paused

        for number, fill in fills.items():
            self.fill(number, fill())
        assigned = set(fills)
        paused = set_paused(consumer, topic, self.wanted(export_waiting, assigned), self.paused, assigned)
        for number in self.paused - paused:
            self._rewind.pop(number, None)
        self.applied(paused)
