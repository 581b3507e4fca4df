"""SmartBatchSpanProcessor: a drop-in for the SDK's BatchSpanProcessor that adapts to load.

``on_end`` appends to a deque after one length check: no lock, no logging, no metric call.
One worker thread turns the queue into batches whose size and wait follow EWMAs of the
arrival rate, export latency and encoded bytes/span (``otelkit.batch._adaptive``), and hands
them to up to k export threads (``otelkit.batch._exports``). Counting is exact: at quiescence
``spans_received == spans_exported + spans_failed + dropped_queue_full + dropped_shutdown +
queue_size``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import TraceFlags

from otelkit._fork import after_fork
from otelkit._pressure import EXPORT_PRESSURE
from otelkit._warn import warn_limited
from otelkit.batch._adaptive import Adaptation
from otelkit.batch._exports import ExportSlots, Job
from otelkit.batch._metrics import BatchMetrics
from otelkit.batch._options import BatchOptions
from otelkit.batch._worker import NEVER, POLL_S, BatchWorker

__all__ = ["SmartBatchSpanProcessor"]

_logger = logging.getLogger("otelkit.batch")
_SAMPLED = int(TraceFlags.SAMPLED)


class SmartBatchSpanProcessor(BatchWorker, SpanProcessor):
    """Adaptive batching span processor; same constructor shape as ``BatchSpanProcessor``.

    Args:
        span_exporter: where batches go. With ``max_concurrent_exports > 1`` its ``export``
            is called from several threads at once, so it must be thread-safe (otelkit's
            exporters and the stock OTLP exporters are).
        max_queue_size: queue capacity (spans); default ``OTELKIT_BATCH_MAX_QUEUE``, else
            ``OTEL_BSP_MAX_QUEUE_SIZE``, else 65536.
        schedule_delay_millis: upper bound of the adaptive wait (ms); default
            ``OTEL_BSP_SCHEDULE_DELAY`` (5000).
        max_export_batch_size: largest batch (spans); default ``OTELKIT_BATCH_MAX_SIZE``,
            else ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``, else 8192.
        export_timeout_millis: one export call's timeout and the shutdown budget (ms);
            default ``OTEL_BSP_EXPORT_TIMEOUT`` (30000).
        **options: keyword-only ``min_batch``, ``freshness_ms``, ``startup_ms``,
            ``max_concurrent_exports``, ``overflow`` (``drop``/``block``),
            ``block_timeout_ms``, ``max_request_bytes``, ``self_metrics`` (see
            :class:`~otelkit.batch._options.BatchOptions`), plus ``meter_provider`` and
            ``environ`` (mapping read instead of ``os.environ``).

    Raises:
        ValueError: an explicit option is out of range or unknown.
    """

    def __init__(
        self,
        span_exporter: SpanExporter,
        max_queue_size: int | None = None,
        schedule_delay_millis: float | None = None,
        max_export_batch_size: int | None = None,
        export_timeout_millis: float | None = None,
        *,
        meter_provider: MeterProvider | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        self._exporter = span_exporter
        self.options = BatchOptions.resolve(
            environ,
            max_queue_size=max_queue_size,
            max_wait_ms=None if schedule_delay_millis is None else int(schedule_delay_millis),
            max_batch=max_export_batch_size,
            export_timeout_ms=None if export_timeout_millis is None else int(export_timeout_millis),
            **options,
        )
        o = self.options
        self._capacity = o.max_queue_size
        self._block_s = o.block_timeout_ms / 1e3 if o.overflow == "block" else 0.0
        self._timeout_s = o.export_timeout_ms / 1e3
        self._exporter_stats = getattr(span_exporter, "stats", None)
        self._closed = False
        self._metrics = BatchMetrics(self.stats, meter_provider) if o.self_metrics else None
        self._reset()
        after_fork(self._reset)

    def _reset(self) -> None:
        """Fresh state: at construction and in a forked child (empty queue, zero counters)."""
        o = self.options
        self._pid = os.getpid()
        self._generation = getattr(self, "_generation", 0) + 1  # a worker of an older one exits
        self._queue: deque[ReadableSpan] = deque()
        self._cv = threading.Condition(threading.Lock())
        self._space = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._wake_at = 1  # on_end kicks the worker once the queue holds this many spans
        self._limit = 0 if self._closed else self._capacity  # 0 routes every span to _reject
        self._taken = self._exported = self._failed = 0
        self._dropped_queue_full = self._rejected_shutdown = self._discarded_shutdown = 0
        self._warned_drops = 0
        self._flush_target = 0
        self._drain_until: float | None = None
        self._bytes_seen = (0, 0)
        self._adapt = Adaptation(
            min_batch=o.min_batch, max_batch=o.max_batch, max_bytes=o.max_request_bytes,
            freshness_s=o.freshness_ms / 1e3, max_wait_s=o.max_wait_ms / 1e3,
            startup_s=o.startup_ms / 1e3, concurrency=o.max_concurrent_exports,
            queue_capacity=o.max_queue_size,
        )
        self._slots = ExportSlots(self._exporter, o.max_concurrent_exports, self._timeout_s, self._cv,
                                  self._job_ended, self._export_called)
        self._unfinished: dict[int, Job] = {}
        if self._closed:
            self._slots.stopped = True
            return
        self._worker = threading.Thread(target=self._run, name="OtelkitBatchWorker", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ hot path

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled span: one length check and an append; never blocks unless the
        ``block`` overflow policy is on (then at most ``block_timeout_ms``), never raises."""
        if not span.context.trace_flags & _SAMPLED:  # the int test: no .sampled property call
            return
        queue = self._queue
        if len(queue) >= self._limit:
            self._reject(span)
            return
        queue.append(span)
        if len(queue) >= self._wake_at:
            self._kick()

    def _kick(self) -> None:
        # Off the per-span path: runs when the queue reaches the worker's wake mark, at most
        # once per worker wait (the mark is lifted until the worker sets it again).
        self._wake_at = NEVER
        if self._pid != os.getpid():
            self._forked()
        self._wake.set()

    def _forked(self) -> None:
        """uWSGI-style fork without Python's at-fork hooks, caught by the PID check on the
        kick/overflow/flush/shutdown paths (a syscall, so not on every span). The spans queued
        so far are kept and counted here: a hook-less fork cannot tell the parent's pending
        spans from this process's own, and losing this process's spans is worse."""
        old = self._queue
        self._pid = os.getpid()
        try:
            self._reset()
        except Exception as exc:  # noqa: BLE001 - e.g. no thread can start: never raise into on_end
            warn_limited(_logger, "batch:fork-reset", "could not restart the batch worker after fork: %r", exc)
            return
        self._queue.extend(old)

    def _reject(self, span: ReadableSpan) -> None:
        if self._pid != os.getpid():
            self._forked()
            if len(self._queue) < self._limit:
                self._queue.append(span)
                self._wake.set()
                return
        if self._block_s > 0 and not self._closed and self._wait_for_space():
            self._queue.append(span)
            self._wake.set()
            return
        with self._cv:
            if self._closed:
                self._rejected_shutdown += 1
            else:
                self._dropped_queue_full += 1
                EXPORT_PRESSURE.report_drop()  # the head sampler raises its thresholds

    def _wait_for_space(self) -> bool:
        deadline = time.monotonic() + self._block_s
        self._wake.set()
        with self._space:
            while len(self._queue) >= self._capacity and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._space.wait(left)
        return not self._closed

    # ------------------------------------------------------------------ lifecycle

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export every span queued before this call; True when all of them reached an outcome
        (exported or failed) within ``timeout_millis``, False otherwise (or after shutdown)."""
        deadline = time.monotonic() + max(0, timeout_millis) / 1e3
        if self._pid != os.getpid():
            self._forked()
        with self._cv:
            if self._closed:
                return False
            target = self._taken + len(self._queue)
            self._flush_target = max(self._flush_target, target)
        self._wake.set()
        with self._cv:
            while True:
                now = time.monotonic()
                self._slots.reap(now)
                first = next(iter(self._unfinished), target)
                if self._taken >= target and first >= target:
                    return True
                if now >= deadline:
                    return False
                self._cv.wait(min(deadline - now, POLL_S))

    def shutdown(self) -> None:
        """Drain within the export timeout, then stop: spans still queued or never started
        count as ``dropped_shutdown``, exports still running as ``spans_failed``; no export
        starts after this returns. Later calls do nothing."""
        if self._pid != os.getpid():
            self._forked()
        with self._cv:
            if self._closed:
                return
            self._closed = True
            self._limit = 0
            deadline = time.monotonic() + self._timeout_s
            self._drain_until = deadline
            self._cv.notify_all()
        with self._space:
            self._space.notify_all()
        self._wake.set()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        with self._cv:
            self._slots.stop(time.monotonic())
            while self._queue:
                self._queue.popleft()
                self._taken += 1
                self._discarded_shutdown += 1
        self._shutdown_exporter(deadline)

    def _shutdown_exporter(self, deadline: float) -> None:
        def run() -> None:
            try:
                self._exporter.shutdown()
            except Exception as exc:  # noqa: BLE001
                warn_limited(_logger, "batch:exporter-shutdown", "exporter shutdown raised: %r", exc)

        thread = threading.Thread(target=run, name="OtelkitBatchExporterShutdown", daemon=True)
        thread.start()
        thread.join(max(0.01, deadline - time.monotonic()))

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict[str, Any]:
        """A consistent snapshot of counters and adaptive targets (plain ints/floats)."""
        with self._cv:
            queued = len(self._queue)
            adapt = self._adapt
            dropped_shutdown = self._rejected_shutdown + self._discarded_shutdown
            return {
                "spans_received": self._taken + queued + self._dropped_queue_full + self._rejected_shutdown,
                "spans_exported": self._exported,
                "spans_failed": self._failed,
                "dropped_queue_full": self._dropped_queue_full,
                "dropped_shutdown": dropped_shutdown,
                "queue_size": queued,
                "queue_capacity": self._capacity,
                "target_batch": adapt.target,
                "target_wait_ms": adapt.wait_s * 1e3,
                "arrival_rate_ewma": adapt.rate or 0.0,
                "export_latency_ms_ewma": (adapt.latency_s or 0.0) * 1e3,
                "bytes_per_span_ewma": adapt.bytes_per_span or 0.0,
                **self._slots.snapshot(),
            }
