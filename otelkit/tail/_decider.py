"""The decision side of the tail processor: judge due traces, settle them, forward kept ones.

:class:`_Decider` takes the due traces from the :class:`~otelkit.tail._buffer._TraceBuffer`
(which owns them and their accounting), evaluates the policies outside the buffer's lock,
hands the verdicts back to the buffer (decision caches, counters) and forwards the kept
spans to the downstream processor. It owns the policy evaluation timing, the worker thread
and its wake/stop events; one decision batch runs at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from otelkit._warn import warn_limited
from otelkit.sampling.threshold import read_ot
from otelkit.tail._buffer import _Entry, _TraceBuffer
from otelkit.tail._forward import final_threshold
from otelkit.tail._kept import Forwarder, KeptTrace
from otelkit.tail._record import SpanRecord
from otelkit.tail._stats import ERROR, DecisionTimer
from otelkit.tail._verdict import evaluate
from otelkit.tail.head import records_for_tail
from otelkit.tail.policy import Policy, TraceView

__all__ = ["_Decider", "TICK_MAX_S"]

TICK_MAX_S = 0.1
"""Upper bound of the decider's tick (s): how late after being due a trace may be decided."""

_logger = logging.getLogger("otelkit.tail")


def _no_th(spans: Sequence[SpanRecord]) -> bool:
    """No span of a kept trace carries ``th``: its probability is unknown (counted as 1)."""
    for s in spans:
        state = getattr(s, "trace_state", None)  # a SpanRecord's: no SpanContext built
        if state is None:
            ctx = s.context
            state = ctx.trace_state if ctx is not None else None
        if state is not None and read_ot(state).th is not None:
            return False
    return True


class _Decider:
    """Decides due traces of ``buffer`` by ``policies`` and forwards kept ones downstream.

    Args:
        buffer: the trace buffer (owner of the traces and counts).
        policies: the processor's policies.
        forwarder: hands kept spans downstream (as bytes when it takes them).
        clock: monotonic seconds.
        head_records_all: whether the tail sees every trace (behind ``RecordForTailSampler``);
            None: detect per trace from the sampler of the provider that made its spans
            (:func:`~otelkit.tail.head.records_for_tail`).
        timer: policy evaluation timing (kept across a fork by the processor).
        wake: set to run the next batch at once (the buffer sets it for early decisions).
    """

    def __init__(
        self,
        buffer: _TraceBuffer,
        policies: Sequence[Policy],
        forwarder: Forwarder,
        clock: Callable[[], float],
        head_records_all: bool | None,
        timer: DecisionTimer,
        wake: threading.Event,
    ) -> None:
        self.buffer = buffer
        self.policies = tuple(policies)
        self.forwarder = forwarder
        self.timer = timer
        self._clock = clock
        self._records_all = head_records_all
        self._seen_recording = False  # a trace from a recording head arrived
        self._lock = threading.Lock()
        self.wake_event = wake
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        # A trace is decided at most this long after it is due: decision_wait / 10 within
        # 1-100 ms (100 ms at the default 1 s wait)
        self.tick = min(TICK_MAX_S, max(0.001, buffer.limits.decision_wait_s / 10))

    def process_due(self, now: float | None = None, *, everything: bool = False, roots_only: bool = False) -> int:
        """Decide every trace due at ``now`` (see ``_TraceBuffer.take_due``); the count."""
        with self._lock:
            at = self._clock() if now is None else now
            batch = self.buffer.take_due(at, everything=everything, roots_only=roots_only)
            if not batch:
                return 0
            decided = []
            for (tid, entry), sees_all in zip(batch, self._sees_all(batch), strict=True):
                keep, label, threshold = self._verdict(tid, entry)
                # the threshold written (and cached for late spans): composed with the head's
                final = final_threshold(threshold, entry.spans, sees_all) if keep else None
                decided.append((tid, entry, keep, label, final))
            forward = self.buffer.settle(decided, self._clock())
            unknown = 0
            for spans, label, final in forward:
                if final is None and _no_th(spans):
                    unknown += 1
                self.forwarder.forward(spans, KeptTrace(label, final))
            if unknown:
                self.buffer.unknown_probability(unknown)
            return len(batch)

    def _sees_all(self, batch: list[tuple[int, _Entry]]) -> list[bool]:
        """Per trace: whether its provider passes every trace to the tail, not only sampled
        ones. Spans that do not say follow what this processor has seen before."""
        if self._records_all is not None:
            return [self._records_all] * len(batch)
        known = [records_for_tail(entry.spans) for _, entry in batch]
        if not self._seen_recording:
            self._seen_recording = any(known)
        return [self._seen_recording if k is None else k for k in known]

    def _verdict(self, tid: int, entry: _Entry) -> tuple[bool, str, int | None]:
        """The policies' verdict; a failure drops the trace with reason ``error`` (counted),
        so its in-decision entry is still settled and its late spans follow the decision."""
        start = time.perf_counter()
        try:
            return evaluate(self.policies, TraceView(tid, entry.spans))
        except Exception as exc:  # noqa: BLE001 - one bad trace must not lose the whole batch
            warn_limited(_logger, "tail-verdict", "tail sampling could not judge a trace, dropping it: %r", exc)
            return False, ERROR, None
        finally:
            self.timer.observe(time.perf_counter() - start)

    # -- worker --------------------------------------------------------------------------
    def start(self) -> None:
        self._worker = threading.Thread(target=self._run, name="otelkit-tail", daemon=True)
        self._worker.start()

    @property
    def running(self) -> bool:
        return self._worker is not None

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self.wake_event.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            # Cleared before deciding, not after waiting: a wake that comes while a batch is
            # decided (an overflow queueing a trace early) cuts the next wait short.
            self.wake_event.clear()
            try:
                self.process_due()
            except Exception:  # noqa: BLE001 - keep deciding whatever happens
                _logger.exception("tail sampling decision batch failed")
            if not self._stop.is_set():
                self.wake_event.wait(self.next_wakeup())

    def next_wakeup(self) -> float:
        """Seconds to wait before the next batch: until the next trace is due, but at least
        :attr:`tick` (traces coming due meanwhile are decided together, one wakeup per tick
        instead of one per trace), at most 0.5; 0.001 when a trace is already due (queued
        early, or left for the next batch) so it is decided at once."""
        now = self._clock()
        due = self.buffer.next_due()
        if due is None:
            return 0.5
        wait = due - now
        if wait <= 0:
            return 0.001
        return min(0.5, max(self.tick, wait))
