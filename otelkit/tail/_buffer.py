"""The tail processor's trace buffer: every span it holds, the decision caches, the limits.

:class:`_TraceBuffer` is the one owner of the state that the hot path (``on_end``) and the
decider (the worker) share, behind its own lock (its pool and memory are small objects with
their own invariants, called only under that lock):

* undecided traces, oldest first, each an :class:`_Entry` (span records, their bytes, arrival);
* the due queue: traces whose local root ended, with the time they become due;
* traces *in decision*: queued early by an overflow or taken by the decider, plus the spans
  that arrive for them until their decision is settled, in its
  :class:`~otelkit.tail._deciding.DecisionPool`;
* the kept and dropped decision caches (late spans follow them), in its
  :class:`~otelkit.tail._memory.DecisionMemory`;
* the counters (:class:`~otelkit.tail._stats.Counters`).

Invariants (``tests/tail/test_buffer.py``), true whenever the lock is free:

* ``buffered_spans``/``buffered_bytes`` are the sums over undecided entries; ``buffered_spans``
  stays within ``max_spans``; no undecided entry holds more than ``max_spans_per_trace``;
* one byte budget for both pools (what they hold in memory): after each span is taken,
  undecided plus in-decision bytes stay within ``max_bytes`` (or the in-decision pool is one
  trace): an overflow frees undecided traces (with ``decide``: down to 7/8 of
  ``max_bytes``, see :data:`RESERVE`) and queues them for an early decision only while they
  fit in the whole budget, else evicts them;
* the spans in decision (early queue, taken entries and their stragglers) stay within
  ``max_spans`` (or are one trace, which may be up to ``max_spans_per_trace + 1`` spans): a
  straggler that would pass that or the byte budget is dropped and counted (reason
  ``overflow``), and a trace that does not fit is evicted instead of queued early (so with
  a stalled decider, new traces evict old ones);
* a trace ID is in at most one of: undecided, in decision;
* every span given to :meth:`_TraceBuffer.add` is, exactly once, buffered, in decision,
  handed back for forwarding (late span of a kept trace) or counted as dropped.

An entry holds :class:`~otelkit.tail._record.SpanRecord` objects (each span's encoded bytes
plus the summary its policies read; the SDK span is gone) and their bytes as
:func:`~otelkit.tail._record.record_of` measures them: ``buffered_bytes`` and
``awaiting_decision_bytes`` count what the held spans really keep alive.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from otelkit.tail._deciding import DecisionPool, _Entry
from otelkit.tail._limits import Limits
from otelkit.tail._memory import DROPPED, DecisionMemory, Late
from otelkit.tail._record import SpanRecord
from otelkit.tail._stats import Counters

__all__ = ["_Entry", "_TraceBuffer", "OVERFLOW"]

RESERVE = 8
"""With ``overflow="decide"`` an overflow brings undecided + in-decision bytes down to
``(1 - 1/RESERVE)`` of ``max_bytes``; the rest is room for the traces it queues for an
early decision."""

OVERFLOW = "overflow"
"""Drop reason of a span that arrived for a trace in decision when that pool was full."""


class _TraceBuffer:
    """Buffered and in-decision traces, decision caches and limit accounting, one lock.

    Args:
        limits: the processor's resolved limits.
        wake: called (under the lock: cheap, non-blocking) when a trace is queued for an
            early decision, so the decider runs at once.
    """

    def __init__(self, limits: Limits, wake: Callable[[], None]) -> None:
        self.limits = limits
        self._wake = wake
        self.lock = threading.Lock()
        self.counters = Counters()
        self._traces: dict[int, _Entry] = {}
        # the due queue as two parallel deques (due time, trace ID): a (time, ID) tuple per
        # root would be one more GC-tracked object per held trace
        self._due_at: deque[float] = deque()
        self._due_tid: deque[int] = deque()
        self._pool = DecisionPool(limits.max_spans, limits.max_bytes)
        self._pending = self._pool.pending  # bound once: asked for the first span of every trace
        self._memory = DecisionMemory(limits.decision_cache_size, self.counters)
        self._spans = 0
        self._bytes = 0
        self._stopped = False
        # limits copied to plain attributes for the hot path
        self._wait_s = limits.decision_wait_s
        self._max_spans = limits.max_spans
        # overflow="decide" frees bytes down to this, leaving the rest for early decisions
        reserve = RESERVE if limits.overflow == "decide" else 1 << 62
        self._room_bytes = limits.max_bytes - limits.max_bytes // reserve
        self._max_per_trace = limits.max_spans_per_trace

    # -- hot path ------------------------------------------------------------------------
    def add(self, tid: int, span: SpanRecord, size: int, is_root: bool, now: float) -> Late | None:
        """Take an ended span: buffer it, add it to its trace in decision, or follow the
        cached decision. Returns (label, threshold) when it is a late span of a kept trace
        (the caller forwards it), else None."""
        with self.lock:
            trace = self._traces.get(tid)
            if trace is None:
                return self._route_locked(tid, span, size, is_root, now)
            spans = trace.spans
            spans.append(span)
            trace.bytes += size
            held = self._spans = self._spans + 1
            held_bytes = self._bytes = self._bytes + size
            if is_root:
                self._due_at.append(now + self._wait_s)
                self._due_tid.append(tid)
            if (len(spans) > self._max_per_trace or held > self._max_spans
                    or held_bytes + self._pool.bytes > self._room_bytes):
                self._overflow_locked(tid, trace, now)
            return None

    def _route_locked(self, tid: int, span: SpanRecord, size: int, is_root: bool, now: float) -> Late | None:
        """A span of a trace not buffered: in decision, late (kept/dropped) or new."""
        pending = self._pending(tid)
        if pending is not None:
            if not self._pool.join(pending, span, size, self._bytes):
                self.counters.overflow()
            return None
        late = self._memory.follow(tid, now)
        if late is not None:
            return None if late is DROPPED else late
        if self._stopped:
            self.counters.after_shutdown()
            return None
        trace = self._traces[tid] = _Entry(now)
        trace.spans.append(span)
        trace.bytes = size
        self._spans += 1
        self._bytes += size
        if is_root:
            self._due_at.append(now + self._wait_s)
            self._due_tid.append(tid)
        if self._spans > self._max_spans or self._bytes + self._pool.bytes > self._room_bytes:
            self._overflow_locked(tid, trace, now)
        return None

    def _overflow_locked(self, tid: int, trace: _Entry, now: float) -> None:
        """Bring the buffer back under its limits: the oversize trace first, then the oldest.

        The oversize trace's own spans are subtracted before any other trace is chosen, so
        no trace is evicted (or decided early) that breaks no limit. The budget is shared
        with the traces in decision: the more of it they hold, the less stays undecided.
        """
        victims: list[int] = []
        pool = self._pool
        spans, size = self._spans, self._bytes + pool.bytes
        if len(trace.spans) > self._max_per_trace:
            victims.append(tid)
            spans -= len(trace.spans)
            size -= trace.bytes
        for old_tid, old in self._traces.items():
            if spans <= self._max_spans and size <= self._room_bytes:
                break
            if old_tid in victims:
                continue
            victims.append(old_tid)
            spans -= len(old.spans)
            size -= old.bytes
        decide = self.limits.overflow == "decide"
        queued = False
        for victim in victims:
            taken = self._take_locked(victim)
            if taken is None:
                continue
            if decide and pool.fits(taken) and pool.fits_in_budget(taken, self._bytes):
                pool.queue_early(victim, taken)
                self.counters.decided_early += 1
                queued = True
            else:
                self._memory.dropped(victim, now)
                self.counters.evicted(len(taken.spans))
        if queued:
            self._wake()

    def _take_locked(self, tid: int) -> _Entry | None:
        trace = self._traces.pop(tid, None)
        if trace is not None:
            self._spans -= len(trace.spans)
            self._bytes -= trace.bytes
        return trace

    # -- decider side --------------------------------------------------------------------
    def take_due(self, now: float, *, everything: bool = False, roots_only: bool = False) -> list[tuple[int, _Entry]]:
        """Move the traces due at ``now`` into decision and return them (oldest first).

        Due: queued early; ``decision_wait`` after the local root ended; ``max_wait`` after
        the first span. ``roots_only``: every trace whose local root ended, without waiting
        (force flush); ``everything``: every buffered trace (shutdown). Takes no more than
        fits in the in-decision pool: call again after :meth:`settle` for the rest.
        """
        with self.lock:
            pool = self._pool
            batch = pool.take_early()
            due_at, due_tid = self._due_at, self._due_tid
            traces = self._traces
            while due_tid and (everything or roots_only or due_at[0] <= now):
                tid = due_tid[0]
                trace = traces.get(tid)
                if trace is not None:
                    if not pool.fits(trace):
                        break  # the next batch takes it, once this one is settled
                    self._take_locked(tid)
                    pool.start(tid, trace)
                    batch.append((tid, trace))
                due_at.popleft()
                due_tid.popleft()
            expiry = self.limits.max_wait_s
            while traces:
                tid, trace = next(iter(traces.items()))
                if not everything and trace.first_seen + expiry > now:
                    break
                if not pool.fits(trace):
                    break
                self._take_locked(tid)
                pool.start(tid, trace)
                batch.append((tid, trace))
            return batch

    def settle(
        self, decided: list[tuple[int, _Entry, bool, str, int | None]], now: float
    ) -> list[tuple[list[SpanRecord], str, int | None]]:
        """Record decisions (caches, counters), release their spans from the in-decision
        pool and return the kept traces' spans (with label and threshold) to forward."""
        forward: list[tuple[list[SpanRecord], str, int | None]] = []
        with self.lock:
            for tid, entry, keep, label, threshold in decided:
                spans = self._pool.release(tid, entry)
                if keep:
                    self._memory.kept(tid, label, threshold, now)
                    self.counters.kept(label, len(spans))
                    forward.append((spans, label, threshold))
                else:
                    self._memory.dropped(tid, now)
                    self.counters.dropped(label, len(spans))
        return forward

    def next_due(self) -> float | None:
        """When the next trace becomes due (monotonic s); -inf when one waits already."""
        with self.lock:
            if self._pool.has_early():
                return float("-inf")
            due_at, due_tid = self._due_at, self._due_tid
            while due_tid and due_tid[0] not in self._traces:
                due_at.popleft()  # decided early or evicted meanwhile
                due_tid.popleft()
            due = [due_at[0]] if due_tid else []
            if self._traces:
                due.append(next(iter(self._traces.values())).first_seen + self.limits.max_wait_s)
        return min(due, default=None)

    # -- lifecycle, accounting -----------------------------------------------------------
    def close(self) -> None:
        """From now on a span of a new trace is counted as a shutdown drop."""
        with self.lock:
            self._stopped = True

    def forward_failed(self, spans: int = 1) -> None:
        with self.lock:
            self.counters.spans_forward_failed += spans

    def failed(self, spans: int = 1) -> None:
        with self.lock:
            self.counters.failed(spans)

    def unknown_probability(self, traces: int = 1) -> None:
        with self.lock:
            self.counters.unknown_probability += traces

    def occupancy(self) -> tuple[int, int]:
        """Buffered (undecided) spans and bytes, as ``snapshot`` reports them, without its copies."""
        with self.lock:
            return self._spans, self._bytes

    def snapshot(self) -> dict[str, Any]:
        """Counters plus gauges: ``buffered_*`` (undecided) and ``awaiting_decision_*``."""
        with self.lock:
            out = self.counters.snapshot()
            out["buffered_traces"] = len(self._traces)
            out["buffered_spans"] = self._spans
            out["buffered_bytes"] = self._bytes
            out["awaiting_decision_traces"] = len(self._pool)
            out["awaiting_decision_spans"] = self._pool.spans
            out["awaiting_decision_bytes"] = self._pool.bytes
        return out
