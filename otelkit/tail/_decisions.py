"""The decision half of :class:`~otelkit.tail.processor.TailSamplingProcessor`.

:class:`TailDecisions` collects the traces that are due (``decision_wait`` after their local
root ended, ``max_wait`` after their first span, or queued early by an overflow), judges
them outside the buffer lock, settles them in the kept/dropped decision caches and forwards
the kept ones; the worker thread runs it in a loop. The state lives on the processor, which
owns the hot path (``on_end``) and the lifecycle.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from otelkit._warn import warn_limited
from otelkit.tail._limits import Limits
from otelkit.tail._stats import ERROR, Counters
from otelkit.tail.cache import DecisionCache
from otelkit.tail.forward import exportable
from otelkit.tail.policy import Policy, TraceView
from otelkit.tail.verdict import evaluate

__all__ = ["BufferedTrace", "TailDecisions"]

_logger = logging.getLogger("otelkit.tail")


class BufferedTrace:
    """The buffered spans of one undecided trace, their estimated bytes and arrival time."""

    __slots__ = ("spans", "bytes", "first_seen")

    def __init__(self, now: float) -> None:
        self.spans: list[ReadableSpan] = []
        self.bytes = 0
        self.first_seen = now


class TailDecisions:
    """Decision-side methods of the tail processor (a mixin; the state lives on the processor)."""

    policies: tuple[Policy, ...]
    limits: Limits
    counters: Counters
    downstream: SpanProcessor
    _clock: Callable[[], float]
    _lock: threading.Lock
    _decide_lock: threading.Lock
    _wake: threading.Event
    _stop: threading.Event
    _traces: dict[int, BufferedTrace]
    _root_due: deque[tuple[float, int]]
    _early: list[tuple[int, BufferedTrace]]
    _early_spans: int
    _deciding: dict[int, list[ReadableSpan]]
    _kept: DecisionCache[tuple[str, int | None, float]]
    _dropped: DecisionCache[float]
    _buffered_spans: int
    _buffered_bytes: int

    def _forward(self, span: ReadableSpan, label: str, threshold: int | None) -> None:
        """Hand a kept span to the downstream processor; a failure there is counted, not raised."""
        try:
            self.downstream.on_end(exportable(span, label, threshold))
        except Exception as exc:  # noqa: BLE001 - neither on_end nor the worker may die of it
            warn_limited(_logger, "tail-forward", "downstream processor failed on a kept span: %r", exc)
            with self._lock:
                self.counters.spans_forward_failed += 1

    def _take_locked(self, tid: int) -> BufferedTrace | None:
        trace = self._traces.pop(tid, None)
        if trace is not None:
            self._buffered_spans -= len(trace.spans)
            self._buffered_bytes -= trace.bytes
        return trace

    def process_due(self, now: float | None = None, *, everything: bool = False) -> int:
        """Decide every trace that is due at ``now`` (all buffered ones if ``everything``).

        Returns the number of traces decided. Called by the worker; tests call it directly.
        """
        with self._decide_lock:
            at = self._clock() if now is None else now
            batch = self._collect_due(at, everything)
            if not batch:
                return 0
            verdicts = [self._verdict(tid, trace) for tid, trace in batch]
            forward: list[tuple[list[ReadableSpan], str, int | None]] = []
            decided_at = self._clock()
            with self._lock:
                for (tid, trace), (keep, label, threshold) in zip(batch, verdicts, strict=True):
                    spans = trace.spans + self._deciding.pop(tid, [])
                    if keep:
                        self._kept.put(tid, (label, threshold, decided_at))
                        self.counters.kept(label, len(spans))
                        forward.append((spans, label, threshold))
                    else:
                        self._dropped.put(tid, decided_at)
                        self.counters.dropped(label, len(spans))
            for spans, label, threshold in forward:
                for span in spans:
                    self._forward(span, label, threshold)
            return len(batch)

    def _verdict(self, tid: int, trace: BufferedTrace) -> tuple[bool, str, int | None]:
        """The policies' verdict; a failure drops the trace with reason ``error`` (counted),
        so its in-flight entry is still settled and its late spans follow the decision."""
        try:
            return evaluate(self.policies, TraceView(tid, trace.spans), self.counters)
        except Exception as exc:  # noqa: BLE001 - one bad trace must not lose the whole batch
            warn_limited(_logger, "tail-verdict", "tail sampling could not judge a trace, dropping it: %r", exc)
            return False, ERROR, None

    def _collect_due(self, now: float, everything: bool) -> list[tuple[int, BufferedTrace]]:
        with self._lock:
            batch = self._early
            self._early, self._early_spans = [], 0
            due = self._root_due
            while due and (everything or due[0][0] <= now):
                tid = due.popleft()[1]
                taken = self._take_locked(tid)
                if taken is not None:
                    batch.append((tid, taken))
            expiry = self.limits.max_wait_s
            while self._traces:
                tid, trace = next(iter(self._traces.items()))
                if not everything and trace.first_seen + expiry > now:
                    break
                self._take_locked(tid)
                batch.append((tid, trace))
            for tid, _ in batch:
                self._deciding.setdefault(tid, [])
            return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            # Cleared before deciding, not after waiting: a wake that comes while a batch is
            # decided (an overflow queueing a trace early) cuts the next wait short.
            self._wake.clear()
            try:
                self.process_due()
            except Exception:  # noqa: BLE001 - keep deciding whatever happens
                _logger.exception("tail sampling decision batch failed")
            if not self._stop.is_set():
                self._wake.wait(self._next_wakeup())

    def _next_wakeup(self) -> float:
        """Seconds until the next trace is due (0.001 .. 0.5); at once for early decisions."""
        now = self._clock()
        with self._lock:
            if self._early:
                return 0.001
            due = [self._root_due[0][0]] if self._root_due else []
            if self._traces:
                due.append(next(iter(self._traces.values())).first_seen + self.limits.max_wait_s)
        return min(0.5, max(0.001, min(due, default=now + 0.5) - now))
