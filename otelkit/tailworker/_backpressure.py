"""Which spans partitions a tail worker pauses, and why (one owner: :class:`Backpressure`).

Two reasons to stop reading a partition, never to drop what it holds:

* ``buffer``: its trace buffer is near full. Above the high-water mark (a share of the
  buffer's span and byte limits) the partition is paused; it is resumed once decisions
  brought the buffer below the low-water mark (hysteresis: no pause/resume flapping).
  Reading on would make the buffer decide traces early (``overflow="decide"``) to stay
  within its limits; pausing lets them wait for their decision.
* ``export``: kept traces of the partition wait for a failed export to be retried.

The worker asks :meth:`Backpressure.fill` after every message and pauses at once when it
says so (rewinding the consumer to the next unread offset); :meth:`Backpressure.wanted`
gives the paused set every loop round. Pause events are counted by reason.
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["Backpressure", "BUFFER", "EXPORT"]

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
