"""The worker of SmartBatchSpanProcessor: turns the queue into batches for the export slots.

:class:`BatchWorker` owns its thread, the export accounting (spans handed to exports,
exported, failed, dropped at shutdown), the batches in flight, flush targets, the shutdown
deadline, the adaptation state and the export slots, all under its own condition. It holds a
reference to the :class:`~otelkit.batch._queue.SpanQueue` and only takes from it.

The thread sleeps until the queue reaches the adaptive target, the oldest span's deadline
passes, a flush is pending or shutdown drains; then it waits for a free export slot, takes up
to the batch cap and submits it. Export outcomes come back through :meth:`_job_ended`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from otelkit._pressure import EXPORT_PRESSURE
from otelkit._warn import warn_limited
from otelkit.batch._adaptive import Adaptation
from otelkit.batch._exports import DROPPED, EXPORTED, ExportSlots, Job
from otelkit.batch._metrics import BatchMetrics
from otelkit.batch._options import BatchOptions
from otelkit.batch._queue import SpanQueue

__all__ = ["BatchWorker", "POLL_S"]

_logger = logging.getLogger("otelkit.batch")
POLL_S = 0.1
"""Longest the worker sleeps while every export slot is busy (s)."""


class BatchWorker:
    """Takes batches from ``queue`` and exports them; one per process.

    Invariant (under ``self._cv``): ``taken == exported + failed + discarded + spans in
    unfinished jobs``; flush targets and job sequence numbers count in ``taken`` units.

    Args:
        queue: where spans wait (this worker is its only consumer).
        encoded: the queue holds spans as bytes: batches (``EncodedBatch``) go to ``exporter.export_encoded``.
        exporter: handed to the export slots.
        options: the processor's resolved options.
        metrics: self-metrics (an export-duration histogram), or None.
        clock: monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        queue: SpanQueue,
        exporter: SpanExporter,
        options: BatchOptions,
        metrics: BatchMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        encoded: bool = False,
    ) -> None:
        o = options
        self._queue = queue
        self._metrics = metrics
        self._clock = clock
        self._exporter_stats: Callable[[], Any] | None = getattr(exporter, "stats", None)
        self._cv = threading.Condition(threading.Lock())
        self.adapt = Adaptation(
            min_batch=o.min_batch, max_batch=o.max_batch, max_bytes=o.max_request_bytes,
            freshness_s=o.freshness_ms / 1e3, max_wait_s=o.max_wait_ms / 1e3,
            startup_s=o.startup_ms / 1e3, concurrency=o.max_concurrent_exports,
            queue_capacity=o.max_queue_size,
        )
        self._slots = ExportSlots(exporter, o.max_concurrent_exports, o.export_timeout_ms / 1e3, self._cv,
                                  self._job_ended, self._export_called, clock,
                                  export=exporter.export_encoded if encoded else None,  # type: ignore[attr-defined]
                                  release=queue.release if encoded else None)
        self._unfinished: dict[int, Job] = {}
        self._taken = self._exported = self._failed = self._discarded = 0
        self._warned_drops = 0
        self._flush_target = 0
        self._drain_until: float | None = None
        self._bytes_seen = (0, 0)
        self._thread = threading.Thread(target=self._run, name="OtelkitBatchWorker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # pragma: no cover - a bug here must be visible, not silent
            _logger.exception("otelkit batch worker stopped")

    def _loop(self) -> None:
        queue, adapt, clock = self._queue, self.adapt, self._clock
        since: float | None = None  # when the oldest queued span was first seen
        while True:
            now = clock()
            with self._cv:
                next_reap = self._slots.reap(now)
            self._warn_drops()
            drain_until = self._drain_until
            if drain_until is not None and (not queue or now >= drain_until):
                self._wait_unfinished()
                return
            if not queue:
                since = None
                queue.arm(1)
                if not queue and self._drain_until is None:
                    queue.wait(next_reap)
                continue
            if since is None:
                since = now
            due = since + adapt.current_wait()
            flushing = self._flush_target > self._taken
            if not (drain_until is not None or flushing or len(queue) >= adapt.target or now >= due):
                queue.arm(adapt.target)
                if len(queue) < adapt.target and self._flush_target <= self._taken and self._drain_until is None:
                    queue.wait(due - now if next_reap is None else min(due - now, next_reap))
                continue
            if self.dispatch(now):
                since = now if queue else None

    def dispatch(self, now: float) -> bool:
        """Take one batch and hand it to a free export slot; False if no slot became free,
        the slots are stopped or nothing is queued (an export never starts empty or late)."""
        with self._cv:
            EXPORT_PRESSURE.report_fill(*self._queue.fill())  # head sampler back-pressure
            if not self._slots.free():
                self._cv.wait(POLL_S)
                if not self._slots.free():
                    return False
            queue = self._queue
            if self._slots.stopped or not queue:
                return False
            self.adapt.observe_arrivals(self._taken + len(queue) + queue.dropped_full, now)
            batch = queue.take(self.adapt.cap)
            if not batch:
                return False
            job = Job(batch, self._taken)
            self._taken += len(batch)
            self._unfinished[job.start_seq] = job
            self._slots.submit(job)
        return True

    def _wait_unfinished(self) -> None:
        with self._cv:
            while self._unfinished and self._drain_until is not None:
                left = self._drain_until - self._clock()
                if left <= 0:
                    return
                self._cv.wait(left)

    def _job_ended(self, job: Job, outcome: str, seconds: float) -> None:
        # Under self._cv (called by ExportSlots).
        n = len(job.batch)
        del self._unfinished[job.start_seq]
        if outcome == EXPORTED:
            self._exported += n
        elif outcome == DROPPED:
            self._discarded += n
        else:
            self._failed += n
        if outcome != DROPPED:
            self.adapt.observe_export(seconds)
        self._cv.notify_all()

    def _export_called(self, seconds: float, ok: bool, spans: int) -> None:
        if self._metrics is not None:
            self._metrics.record_export(seconds, ok, spans)
        if callable(self._exporter_stats):
            try:
                snap = self._exporter_stats()
                raw, spans = int(snap["raw_bytes"]), int(snap["spans_exported"])
            except Exception:  # noqa: BLE001 - bytes/span is optional: skip when unknown
                return
            with self._cv:
                last_raw, last_spans = self._bytes_seen
                self._bytes_seen = (raw, spans)
                self.adapt.observe_bytes(raw - last_raw, spans - last_spans)

    def _warn_drops(self) -> None:
        dropped = self._queue.dropped_full
        if dropped > self._warned_drops:
            self._warned_drops = dropped
            q = self._queue
            budget = "" if q.max_bytes >= 1 << 62 else f" or {q.max_bytes} bytes (OTELKIT_BATCH_MAX_QUEUE_BYTES)"
            warn_limited(_logger, "batch:queue-full",
                         "SmartBatchSpanProcessor queue full (capacity %d spans%s): %d spans dropped so far",
                         q.capacity, budget, dropped)

    # ------------------------------------------------------------------ called by the processor

    def flush(self, timeout_s: float) -> bool:
        """Wait until every span queued before the call reached an outcome; False at the
        deadline."""
        deadline = self._clock() + max(0.0, timeout_s)
        with self._cv:
            target = self._taken + len(self._queue)
            self._flush_target = max(self._flush_target, target)
        self._queue.wake()
        with self._cv:
            while True:
                now = self._clock()
                self._slots.reap(now)
                first = next(iter(self._unfinished), target)
                if self._taken >= target and first >= target:
                    return True
                if now >= deadline:
                    return False
                self._cv.wait(min(deadline - now, POLL_S))

    def drain(self, deadline: float) -> None:
        """Shutdown (after the queue was closed): export what is queued until ``deadline``,
        then stop the slots (never-started batches dropped, running ones failed) and seal
        the queue (what is left counted as discarded). No export starts after this returns."""
        with self._cv:
            self._drain_until = deadline
            self._cv.notify_all()
        self._queue.wake()
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - self._clock()))
        with self._cv:
            self._slots.stop(self._clock())
            self._queue.seal()

    def snapshot(self) -> dict[str, Any]:
        """Accounting, adaptive targets and the queue's counts, consistent under the lock."""
        with self._cv:
            q = self._queue.snapshot()
            adapt = self.adapt
            return {
                "spans_received": q["received"],
                "spans_exported": self._exported,
                "spans_failed": self._failed + q["encode_failed"],
                "dropped_queue_full": q["dropped_full"],
                "dropped_shutdown": q["refused_closed"] + q["discarded"] + self._discarded,
                "queue_size": q["queued"],
                "queue_capacity": self._queue.capacity,
                "queue_bytes": q["queued_bytes"],
                "encode_failed": q["encode_failed"],
                "target_batch": adapt.target,
                "target_wait_ms": adapt.wait_s * 1e3,
                "arrival_rate_ewma": adapt.rate or 0.0,
                "export_latency_ms_ewma": (adapt.latency_s or 0.0) * 1e3,
                "bytes_per_span_ewma": adapt.bytes_per_span or 0.0,
                **self._slots.snapshot(),
            }
