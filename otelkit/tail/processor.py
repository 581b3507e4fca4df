"""TailSamplingProcessor: buffer ended spans by trace, decide by policies, forward kept traces.

Hot path (``on_end``): encode the span once into a :class:`~otelkit.tail._record.SpanRecord`
(its OTLP bytes plus the summary the policies read; the SDK span is released) and hand it
to the trace buffer (:mod:`otelkit.tail._buffer`), which under one short lock appends it to
its trace (or, for an already decided trace, follows the cached decision). Nothing else
happens there: no policy runs, no metric is recorded.

Decisions happen in :meth:`TailSamplingProcessor.process_due` (:mod:`otelkit.tail._decider`),
which the worker thread calls (tests call it directly with a fake clock): a trace is due
``decision_wait`` after its local root span (no parent, or a remote parent) ended, or
``max_wait`` after its first span ended if no local root did, or at once when a buffer limit
forces it (``overflow="decide"``). Due traces are evaluated in a batch outside the buffer's
lock; kept traces are forwarded whole to the downstream processor, as their held bytes
with ``th`` and the policy attributes spliced in (:mod:`otelkit.tail._kept`); every trace
ID goes into the kept or dropped decision cache, so a late span follows its trace's
decision and no span of a dropped trace is ever exported.

Who owns what: the buffer owns the traces, the decision caches, the limit accounting and
the counters; the decider owns policy evaluation, its timing and the worker thread; this
module owns the hot path, the lifecycle (fork, flush, shutdown) and ``stats()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext

from otelkit import config
from otelkit._fork import ForkGuard, after_fork
from otelkit._warn import warn_limited
from otelkit.tail._buffer import _TraceBuffer
from otelkit.tail._decider import _Decider
from otelkit.tail._kept import Forwarder, KeptTrace
from otelkit.tail._limits import Limits
from otelkit.tail._record import SpanRecord, record_of
from otelkit.tail._stats import DecisionTimer
from otelkit.tail.policy import Policy, attribute_keys

__all__ = ["TailSamplingProcessor"]

_logger = logging.getLogger("otelkit.tail")


class TailSamplingProcessor(SpanProcessor):
    """Keep or drop whole traces after their spans ended, by configurable policies.

    Args:
        downstream: processor that receives the spans of kept traces, typically the
            batcher in front of the exporter; shut down with this one. otelkit's batcher
            with an exporter that has ``export_encoded`` takes them as bytes (no encoding
            twice); any other processor gets sampled ``ReadableSpan`` copies.
        policies: policies in order; default from ``OTELKIT_TAIL_POLICIES`` (keep errors,
            keep traces slower than 1 s, keep what the head sampler kept).
        decision_wait_ms, max_wait_ms, max_spans, max_bytes, max_spans_per_trace, overflow,
            decision_cache_size: see :class:`otelkit.tail._limits.Limits`; ``None`` reads
            the matching ``OTELKIT_TAIL_*`` variable.
        clock: monotonic seconds; default ``time.monotonic``.
        head_records_all: whether every trace reaches this processor (the head sampler is
            wrapped in :class:`~otelkit.tail.RecordForTailSampler`); decides whether a
            head's ``th`` bounds the written one (:func:`otelkit.tail._forward.final_threshold`).
            Default: detected.
        start_worker: run the background decision thread (False: call ``process_due``).
        self_metrics: report metrics via the OTel metrics API; default ``OTELKIT_SELF_METRICS``.
        meter_provider: where the metrics go; default the global meter provider.
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
        head_records_all: bool | None = None,
        start_worker: bool = True,
        self_metrics: bool | None = None,
        meter_provider: Any = None,
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
        # the attributes span summaries hold: what the policies declare, or all (decoded on read)
        self._keys = attribute_keys(self.policies)
        self.downstream = downstream
        self._clock = clock
        self._head_records_all = head_records_all
        self._timer = DecisionTimer()
        self._start = start_worker
        self._stopped = False
        # a fork that skips the at-fork hooks (uWSGI without --py-call-osafterfork) is seen
        # on the hot path by a byte the kernel wipes in the child (no system call)
        self._guard = ForkGuard(self._after_fork)
        self._fork_mark = self._guard.mark
        self._init_state()
        after_fork(self._after_fork)
        self._metrics: Any = None
        if config.OTELKIT_SELF_METRICS.resolve(self_metrics, environ):
            from otelkit.tail._metrics import register

            self._metrics = register(self, meter_provider)

    def _init_state(self) -> None:
        """A fresh buffer and decider (at construction and in a forked child)."""
        wake = threading.Event()
        self._buffer = _TraceBuffer(self.limits, wake.set)
        self._add = self._buffer.add  # bound once: on_end is the hot path
        self._forwarder = Forwarder(self.downstream, self._buffer.forward_failed)
        self._decider = _Decider(
            self._buffer, self.policies, self._forwarder, self._clock, self._head_records_all, self._timer, wake
        )
        if self._start and not self._stopped:
            self._decider.start()

    # -- hot path ----------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if not self._fork_mark[0]:  # 0 in a forked child whose at-fork hooks did not run
                self._guard.check()
            if span._context is None:
                return
            record, size = record_of(span, self._keys)  # the span's bytes + summary; span released
            # Tuple positions avoid Python-level property calls (SpanContext is a plain tuple:
            # trace_id, span_id, is_remote, ...).
            parent = record.parent
            is_root = parent is None or (parent[2] if type(parent) is SpanContext else parent.is_remote)
            late = self._add(record.trace_id, record, size, is_root, self._clock())
        except Exception as exc:  # noqa: BLE001 - the hot path never raises into the app
            warn_limited(_logger, "tail-on-end", "tail sampling failed on a span, dropping it: %r", exc)
            self._buffer.failed()
            return
        if late is not None:
            self._forwarder.forward([record], KeptTrace(late[0], late[1]))

    def on_end_record(self, record: SpanRecord, size: int) -> None:
        """Take a span already held as a record (``size``: its :func:`~otelkit.tail._record.held_bytes`),
        as :meth:`on_end` does after encoding one: the Kafka tail worker builds records from
        the wire bytes. Never raises."""
        try:
            parent = record.parent
            is_root = parent is None or parent.is_remote
            late = self._add(record.trace_id, record, size, is_root, self._clock())
        except Exception as exc:  # noqa: BLE001 - as on_end
            warn_limited(_logger, "tail-on-end", "tail sampling failed on a span, dropping it: %r", exc)
            self._buffer.failed()
            return
        if late is not None:
            self._forwarder.forward([record], KeptTrace(late[0], late[1]))

    # -- decisions, lifecycle ------------------------------------------------------------
    def set_decision_hook(self, hook: Callable[[float], None] | None) -> None:
        """Called with each trace's policy evaluation time (s), from the worker thread."""
        self._timer.hook = hook

    def process_due(self, now: float | None = None, *, everything: bool = False) -> int:
        """Decide every trace that is due at ``now`` (all buffered ones if ``everything``).

        Returns the number of traces decided. Called by the worker; tests call it directly.
        """
        return self._decider.process_due(now, everything=everything)

    def _next_wakeup(self) -> float:
        return self._decider.next_wakeup()

    def _after_fork(self) -> None:
        # The child must not export the parent's buffered spans, nor report the parent's
        # counts as its own (summed over workers they would count N times): start over, empty.
        self._timer = DecisionTimer(self._timer.hook)
        self._init_state()
        self._guard.reset()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Decide every trace whose local root has ended (without waiting ``decision_wait``),
        then flush downstream. Traces still in progress stay buffered: judged now, an error
        or slow span that has not ended yet would be missed. ``shutdown`` decides all."""
        self._guard.check()  # a child of a hookless fork flushes its own traces, not the parent's
        deadline = time.monotonic() + timeout_millis / 1000.0
        # One batch per pool's worth of spans; bounded, as traces may keep ending meanwhile.
        while self._decider.process_due(roots_only=True) and time.monotonic() < deadline:
            pass
        return self.downstream.force_flush(max(0, int((deadline - time.monotonic()) * 1000)))

    def shutdown(self) -> None:
        """Stop the worker, decide and forward every buffered trace, shut down downstream."""
        self._guard.check()  # a child of a hookless fork decides its own traces, not the parent's
        if self._stopped:
            return
        self._stopped = True
        self._decider.stop()
        self._buffer.close()  # from here a span of a new trace is counted as a shutdown drop
        while self.process_due(everything=True):
            pass  # one batch per pool's worth of spans
        self.downstream.shutdown()

    def buffered(self) -> tuple[int, int]:
        """Spans and bytes of the undecided traces (``stats()``'s ``buffered_spans`` and
        ``buffered_bytes``), cheaply: the tail worker reads it after every message."""
        return self._buffer.occupancy()

    def stats(self) -> dict[str, Any]:
        """Counters and buffer gauges (plain ints/dicts) plus the downstream's ``stats()``.

        ``decision_lag_s``: how far the decision thread is behind (now minus the due time of
        the oldest due, undecided trace; 0 when none is due). ``buffered_*`` describe the undecided traces; ``awaiting_decision_*`` the traces in
        decision (queued early by an overflow, or being judged) and the spans that arrived
        for them meanwhile. Each pool stays within ``max_spans``/``max_bytes``.
        """
        out = self._buffer.snapshot()
        due = self._buffer.next_due()  # -inf: traces queued for an early decision
        out["decision_lag_s"] = max(0.0, self._clock() - due) if due is not None and due > float("-inf") else 0.0
        out["decisions"] = self._timer.decisions
        out["decision_seconds"] = self._timer.seconds
        inner = getattr(self.downstream, "stats", None)
        if callable(inner):
            try:
                out["downstream"] = inner()
            except Exception:  # noqa: BLE001 - stats never break the caller
                _logger.debug("downstream stats() failed", exc_info=True)
        return out
