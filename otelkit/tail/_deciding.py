"""Traces in decision: taken from the buffer (queued early or by the decider) until settled.

:class:`DecisionPool` counts the spans and bytes of every trace in decision - the entries it
queued early, those the decider took (the decider holds them) and the spans that arrive for
them meanwhile (*stragglers*, which it holds) - and tells whether one more fits.

Invariants (``tests/tail/test_deciding.py``; the buffer's in ``tests/tail/test_buffer.py``):

* ``spans``/``bytes`` are the sums over the entries started and not released, stragglers
  included;
* ``spans`` stays within ``max_spans`` unless one trace alone is in decision: the buffer
  starts a trace only when it :meth:`~DecisionPool.fits`, and a straggler is taken only
  while ``spans`` is below ``max_spans`` and the whole budget (the caller's undecided bytes
  plus ``bytes``) has room for it;
* a trace ID is in decision at most once; each started trace is released once.

Not thread-safe: the :class:`~otelkit.tail._buffer._TraceBuffer` that owns it calls it under
its lock. ``pending`` is the dict's own ``get`` (no Python frame): the buffer asks it for the
first span of every trace.
"""

from __future__ import annotations

from collections.abc import Callable

from otelkit.tail._record import SpanRecord

__all__ = ["DecisionPool", "_Entry"]


class _Entry:
    """The span records of one trace, their bytes and when its first span arrived."""

    __slots__ = ("spans", "bytes", "first_seen")

    def __init__(self, now: float) -> None:
        self.spans: list[SpanRecord] = []
        self.bytes = 0
        self.first_seen = now


class DecisionPool:
    """Spans and bytes of the traces in decision, the early queue and the stragglers.

    Args:
        max_spans: most spans in decision beside other traces (``Limits.max_spans``).
        max_bytes: the byte budget shared with the undecided traces (``Limits.max_bytes``).
    """

    __slots__ = ("spans", "bytes", "pending", "_max_spans", "_max_bytes", "_stragglers", "_early")

    def __init__(self, max_spans: int, max_bytes: int) -> None:
        self.spans = 0
        self.bytes = 0
        self._max_spans = max_spans
        self._max_bytes = max_bytes
        self._stragglers: dict[int, _Entry] = {}  # trace ID -> spans arriving while in decision
        self._early: list[tuple[int, _Entry]] = []
        self.pending: Callable[[int], _Entry | None] = self._stragglers.get
        """The stragglers' entry of a trace in decision, else None."""

    def __len__(self) -> int:
        """Traces in decision."""
        return len(self._stragglers)

    def fits(self, entry: _Entry) -> bool:
        """Room for ``entry`` beside the traces in decision (always, for one alone)."""
        if not self.spans:
            return True
        return self.spans + len(entry.spans) <= self._max_spans and self.bytes + entry.bytes <= self._max_bytes

    def fits_in_budget(self, entry: _Entry, undecided_bytes: int) -> bool:
        """Room for ``entry`` in the shared budget (undecided + in decision); always for one
        trace alone in decision."""
        return not self.spans or undecided_bytes + self.bytes + entry.bytes <= self._max_bytes

    def start(self, tid: int, entry: _Entry) -> None:
        """``entry`` (taken from the buffer) is in decision from now on."""
        self._stragglers[tid] = _Entry(entry.first_seen)
        self.spans += len(entry.spans)
        self.bytes += entry.bytes

    def queue_early(self, tid: int, entry: _Entry) -> None:
        """Start ``entry`` and queue it for the decider's next :meth:`take_early`."""
        self.start(tid, entry)
        self._early.append((tid, entry))

    def take_early(self) -> list[tuple[int, _Entry]]:
        """The traces queued early, oldest first (the queue is emptied)."""
        early, self._early = self._early, []
        return early

    def has_early(self) -> bool:
        return bool(self._early)

    def join(self, pending: _Entry, span: SpanRecord, size: int, undecided_bytes: int) -> bool:
        """Add a straggler to its trace's ``pending`` entry; False (not taken) when the pool
        is at ``max_spans`` or the shared budget has no room for ``size`` bytes."""
        if self.spans >= self._max_spans or undecided_bytes + self.bytes + size > self._max_bytes:
            return False
        pending.spans.append(span)
        pending.bytes += size
        self.spans += 1
        self.bytes += size
        return True

    def release(self, tid: int, entry: _Entry) -> list[SpanRecord]:
        """A decided trace leaves the pool: its spans, stragglers appended."""
        extra = self._stragglers.pop(tid, None)
        spans = entry.spans if extra is None else entry.spans + extra.spans
        self.spans -= len(spans)
        self.bytes -= entry.bytes + (extra.bytes if extra is not None else 0)
        return spans
