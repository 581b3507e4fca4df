"""What the tail processor remembers of decided traces: the kept and dropped decision caches.

A span that ends after its trace was decided (a *late* span) follows that decision:
:meth:`DecisionMemory.follow` forwards it (kept) or drops it (dropped) and counts it with
its age (time since the decision). Each cache is a fixed-size FIFO of trace IDs: the oldest
decision is forgotten first, and a span of a forgotten trace starts a new one.

Invariants (``tests/tail/test_memory.py``):

* each cache holds at most ``size`` trace IDs (none with ``size`` 0), the last ones put;
* the buffer puts a trace ID in a cache only when it decides it, and routes a span to
  :meth:`~DecisionMemory.follow` before buffering it, so an ID is in at most one cache.

Not thread-safe: the :class:`~otelkit.tail._buffer._TraceBuffer` that owns it calls it
under its lock. ``follow`` runs for the first span of every trace, so the caches are plain
``OrderedDict`` s read with one call each and nothing wraps them.
"""

from __future__ import annotations

from collections import OrderedDict

from otelkit.tail._stats import Counters

__all__ = ["DecisionMemory", "Late", "DROPPED"]

Late = tuple[str, int | None]
"""A late span of a kept trace: (policy label, final threshold) to forward it with."""

DROPPED: Late = ("", None)
"""What :meth:`DecisionMemory.follow` returns for a late span of a dropped trace."""


class DecisionMemory:
    """The last ``size`` kept and the last ``size`` dropped trace IDs, and what their late spans do.

    Args:
        size: capacity of each cache in trace IDs (0: nothing remembered).
        counters: where late spans are counted (the buffer's, under its lock).
    """

    __slots__ = ("size", "_counters", "_kept", "_dropped")

    def __init__(self, size: int, counters: Counters) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"decision cache size {size!r} is invalid: expected an integer >= 0")
        self.size = size
        self._counters = counters
        self._kept: OrderedDict[int, tuple[str, int | None, float]] = OrderedDict()  # -> label, threshold, at
        self._dropped: OrderedDict[int, float] = OrderedDict()  # -> decided at

    def follow(self, tid: int, now: float) -> Late | None:
        """A span of trace ``tid`` ending at ``now`` (monotonic s): None when its trace is not
        remembered, :data:`DROPPED` (counted) when it was dropped, else (label, threshold)
        to forward it with (counted)."""
        kept = self._kept.get(tid)
        if kept is not None:
            self._counters.late_kept(kept[0], now - kept[2])
            return kept[0], kept[1]
        dropped_at = self._dropped.get(tid)
        if dropped_at is not None:
            self._counters.late_dropped(now - dropped_at)
            return DROPPED
        return None

    def kept(self, tid: int, label: str, threshold: int | None, now: float) -> None:
        """Remember that ``tid`` was kept at ``now`` by ``label`` with ``threshold``."""
        if self.size:
            kept = self._kept
            kept[tid] = (label, threshold, now)
            if len(kept) > self.size:
                kept.popitem(last=False)

    def dropped(self, tid: int, now: float) -> None:
        """Remember that ``tid`` was dropped (or evicted) at ``now``."""
        if self.size:
            dropped = self._dropped
            dropped[tid] = now
            if len(dropped) > self.size:
                dropped.popitem(last=False)

    def remembered(self) -> tuple[int, int]:
        """Trace IDs in the kept and the dropped cache."""
        return len(self._kept), len(self._dropped)
