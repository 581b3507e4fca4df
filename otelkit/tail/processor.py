"""TailSamplingProcessor: buffer ended spans by trace, decide by policies, forward kept traces.

Hot path (``on_end``): estimate the span's size, then under one short lock append it to its
trace's buffer (or, for an already decided trace, follow the cached decision). Nothing
else happens there: no policy runs, no metric is recorded.

Decisions happen in :meth:`TailSamplingProcessor.process_due`
(:mod:`otelkit.tail._decisions`), which the worker thread
calls (tests call it directly with a fake clock): a trace is due ``decision_wait`` after its
local root span (no parent, or a remote parent) ended, or ``max_wait`` after its first span
ended if no local root did, or at once when a buffer limit forces it (``overflow="decide"``).
Due traces are evaluated in a batch outside the lock; kept traces are forwarded whole to the
downstream processor as sampled copies (:mod:`otelkit.tail.forward`); every trace ID goes
into the kept or dropped decision cache, so a late span follows its trace's decision and no
span of a dropped trace is ever exported.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otelkit import config
from otelkit._fork import after_fork
from otelkit._warn import warn_limited
from otelkit.tail._decisions import BufferedTrace, TailDecisions
from otelkit.tail._limits import Limits
from otelkit.tail._stats import Counters
from otelkit.tail.cache import DecisionCache
from otelkit.tail.policy import Policy
from otelkit.tail.size import estimate_span_bytes

__all__ = ["TailSamplingProcessor"]

_logger = logging.getLogger("otelkit.tail")


class TailSamplingProcessor(TailDecisions, SpanProcessor):
    """Keep or drop whole traces after their spans ended, by configurable policies.

    Args:
        downstream: processor that receives the spans of kept traces (sampled copies),
            typically the batcher in front of the exporter; shut down with this one.
        policies: policies in order; default from ``OTELKIT_TAIL_POLICIES`` (keep errors,
            keep traces slower than 1 s, keep 10% of the rest).
        decision_wait_ms, max_wait_ms, max_spans, max_bytes, max_spans_per_trace, overflow,
            decision_cache_size: see :class:`otelkit.tail._limits.Limits`; ``None`` reads
            the matching ``OTELKIT_TAIL_*`` variable.
        clock: monotonic seconds; default ``time.monotonic``.
        start_worker: run the background decision thread (False: call ``process_due``).
        self_metrics: report metrics via the OTel metrics API; default ``OTELKIT_SELF_METRICS``.
        environ: mapping read instead of ``os.environ``.
    """

    def __init__(
        self,
        downstream: SpanProcessor,
        policies: Sequence[Policy] | None = None,
        *,
        decision_wait_ms: float | None = None,
        max_wait_ms: float | None = None,
        max_spans: int | None = None,
        max_bytes: int | None = None,
        max_spans_per_trace: int | None = None,
        overflow: str | None = None,
        decision_cache_size: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        start_worker: bool = True,
        self_metrics: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(downstream, SpanProcessor):
            raise ValueError(f"downstream {downstream!r} is invalid: expected a SpanProcessor")
        self.limits = Limits.resolve(
            environ,
            decision_wait_ms=decision_wait_ms,
            max_wait_ms=max_wait_ms,
            max_spans=max_spans,
            max_bytes=max_bytes,
            max_spans_per_trace=max_spans_per_trace,
            overflow=overflow,
            decision_cache_size=decision_cache_size,
        )
        if policies is None:
            from otelkit.tail.policy_config import policies_from_env

            policies = policies_from_env(environ, clock=clock)
        if not policies:
            raise ValueError("policies is empty: expected at least one policy")
        self.policies = tuple(policies)
        self.downstream = downstream
        self._clock = clock
        self.counters = Counters()
        self._init_state()
        self._worker: threading.Thread | None = None
        self._stopped = False
        if start_worker:
            self._start_worker()
        after_fork(self._after_fork)
        self._metrics: Any = None
        if config.OTELKIT_SELF_METRICS.resolve(self_metrics, environ):
            from otelkit.tail.metrics import register

            self._metrics = register(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._decide_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._traces: dict[int, BufferedTrace] = {}
        self._root_due: deque[tuple[float, int]] = deque()
        self._early: list[tuple[int, BufferedTrace]] = []
        self._early_spans = 0
        self._deciding: dict[int, list[ReadableSpan]] = {}
        # trace ID -> (label, threshold, decided at) / decided at
        self._kept: DecisionCache[tuple[str, int | None, float]] = DecisionCache(self.limits.decision_cache_size)
        self._dropped: DecisionCache[float] = DecisionCache(self.limits.decision_cache_size)
        self._buffered_spans = 0
        self._buffered_bytes = 0
        # limits copied to plain attributes for the hot path
        self._wait_s = self.limits.decision_wait_s
        self._max_spans = self.limits.max_spans
        self._max_bytes = self.limits.max_bytes
        self._max_per_trace = self.limits.max_spans_per_trace

    # -- hot path ----------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            ctx = span.context
            if ctx is None:
                return
            tid = ctx.trace_id
            size = estimate_span_bytes(span)
            parent = span.parent
            now = self._clock()
            late: tuple[str, int | None] | None = None
            with self._lock:
                trace = self._traces.get(tid)
                if trace is None:
                    trace, late = self._route_locked(tid, span, now)
                if trace is not None:
                    spans = trace.spans
                    spans.append(span)
                    trace.bytes += size
                    self._buffered_spans += 1
                    self._buffered_bytes += size
                    if parent is None or parent.is_remote:
                        self._root_due.append((now + self._wait_s, tid))
                    if (
                        len(spans) > self._max_per_trace
                        or self._buffered_spans > self._max_spans
                        or self._buffered_bytes > self._max_bytes
                    ):
                        self._overflow_locked(tid, trace)
        except Exception as exc:  # noqa: BLE001 - the hot path never raises into the app
            warn_limited(_logger, "tail-on-end", "tail sampling failed on a span, dropping it: %r", exc)
            with self._lock:
                self.counters.failed()
            return
        if late is not None:
            self._forward(span, late[0], late[1])

    def _route_locked(
        self, tid: int, span: ReadableSpan, now: float
    ) -> tuple[BufferedTrace | None, tuple[str, int | None] | None]:
        """A span of a trace not in the buffer: in flight, late (kept/dropped) or new.

        Returns (buffer to append to, or None) and the cached keep decision for a late span.
        """
        pending = self._deciding.get(tid)
        if pending is not None:
            pending.append(span)
            return None, None
        kept = self._kept.get(tid)
        if kept is not None:
            self.counters.late_kept(kept[0], now - kept[2])
            return None, (kept[0], kept[1])
        dropped_at = self._dropped.get(tid)
        if dropped_at is not None:
            self.counters.late_dropped(now - dropped_at)
            return None, None
        if self._stopped:
            self.counters.after_shutdown()
            return None, None
        trace = self._traces[tid] = BufferedTrace(now)
        return trace, None

    def _overflow_locked(self, tid: int, trace: BufferedTrace) -> None:
        """Bring the buffer back under its limits: the oversize trace first, then oldest."""
        victims: list[int] = []
        if len(trace.spans) > self.limits.max_spans_per_trace:
            victims.append(tid)
        spans, size = self._buffered_spans, self._buffered_bytes
        for old_tid, old in self._traces.items():
            if spans <= self.limits.max_spans and size <= self.limits.max_bytes:
                break
            if old_tid != tid or not victims:
                victims.append(old_tid)
            spans -= len(old.spans)
            size -= old.bytes
        decide = self.limits.overflow == "decide" and self._early_spans < self.limits.max_spans
        for victim in victims:
            taken = self._take_locked(victim)
            if taken is None:
                continue
            if decide:
                self._deciding[victim] = []  # spans arriving meanwhile join the decision
                self._early.append((victim, taken))
                self._early_spans += len(taken.spans)
                self.counters.decided_early += 1
            else:
                self._dropped.put(victim, self._clock())
                self.counters.evicted(len(taken.spans))
        if decide:
            self._wake.set()

    # -- worker, lifecycle ---------------------------------------------------------------
    def _start_worker(self) -> None:
        self._worker = threading.Thread(target=self._run, name="otelkit-tail", daemon=True)
        self._worker.start()

    def _after_fork(self) -> None:
        # The child must not export the parent's buffered spans, nor report the parent's
        # counts as its own (summed over workers they would count N times): start over, empty.
        hook = self.counters.decision_hook
        self.counters = Counters()
        self.counters.decision_hook = hook
        self._init_state()
        if self._worker is not None and not self._stopped:
            self._start_worker()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Decide every buffered trace now (partial traces included), then flush downstream."""
        self.process_due(everything=True)
        return self.downstream.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Stop the worker, decide and forward every buffered trace, shut down downstream."""
        if self._stopped:
            return
        self._stop.set()
        self._wake.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(5)
        with self._lock:  # from here a span of a new trace is counted as a shutdown drop
            self._stopped = True
        self.process_due(everything=True)
        self.downstream.shutdown()

    def stats(self) -> dict[str, Any]:
        """Counters and buffer gauges (plain ints/dicts) plus the downstream's ``stats()``.

        ``buffered_*`` describe the buffer the limits apply to; ``awaiting_decision_spans``
        counts spans of traces an overflow queued for an early decision (at most
        ``max_spans``) that the worker has not decided yet.
        """
        with self._lock:
            out = self.counters.snapshot()
            out["buffered_traces"] = len(self._traces)
            out["buffered_spans"] = self._buffered_spans
            out["buffered_bytes"] = self._buffered_bytes
            out["awaiting_decision_spans"] = self._early_spans
        inner = getattr(self.downstream, "stats", None)
        if callable(inner):
            try:
                out["downstream"] = inner()
            except Exception:  # noqa: BLE001 - stats never break the caller
                _logger.debug("downstream stats() failed", exc_info=True)
        return out
