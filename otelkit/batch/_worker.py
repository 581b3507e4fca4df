"""The worker half of SmartBatchSpanProcessor: turns the queue into batches for the export slots.

One thread runs :meth:`BatchWorker._loop`. It sleeps until the queue reaches the adaptive
target, the oldest span's deadline passes, a flush is pending or shutdown drains; then it
waits for a free export slot, takes up to the batch cap and submits it. Export outcomes come
back through :meth:`BatchWorker._job_ended` (under the processor's condition).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from otelkit._pressure import EXPORT_PRESSURE
from otelkit._warn import warn_limited
from otelkit.batch._adaptive import Adaptation
from otelkit.batch._exports import DROPPED, EXPORTED, ExportSlots, Job
from otelkit.batch._metrics import BatchMetrics

__all__ = ["BatchWorker"]

_logger = logging.getLogger("otelkit.batch")
POLL_S = 0.1
"""Longest the worker sleeps while every export slot is busy (s)."""
NEVER = 1 << 62
"""A wake mark the queue never reaches."""


class BatchWorker:
    """Worker-side methods of the processor (a mixin; the state lives on the processor)."""

    _queue: deque[ReadableSpan]
    _cv: threading.Condition
    _space: threading.Condition
    _wake: threading.Event
    _wake_at: int
    _generation: int
    _adapt: Adaptation
    _slots: ExportSlots
    _unfinished: dict[int, Job]
    _taken: int
    _exported: int
    _failed: int
    _dropped_queue_full: int
    _discarded_shutdown: int
    _warned_drops: int
    _flush_target: int
    _drain_until: float | None
    _block_s: float
    _capacity: int
    _bytes_seen: tuple[int, int]
    _metrics: BatchMetrics | None
    _exporter_stats: Callable[[], Any] | None

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # pragma: no cover - a bug here must be visible, not silent
            _logger.exception("otelkit batch worker stopped")

    def _loop(self) -> None:
        queue, adapt, wake, generation = self._queue, self._adapt, self._wake, self._generation
        since: float | None = None  # when the oldest queued span was first seen
        while generation == self._generation:
            now = time.monotonic()
            with self._cv:
                next_reap = self._slots.reap(now)
            self._warn_drops()
            draining = self._drain_until is not None
            if draining and (not queue or now >= self._drain_until):  # type: ignore[operator]
                self._wait_unfinished()
                return
            if not queue:
                since = None
                wake.clear()
                self._wake_at = 1
                if not queue and self._drain_until is None:
                    wake.wait(next_reap)
                continue
            if since is None:
                since = now
            due = since + adapt.current_wait()
            flushing = self._flush_target > self._taken
            if not (draining or flushing or len(queue) >= adapt.target or now >= due):
                wake.clear()
                self._wake_at = adapt.target
                if len(queue) < adapt.target and self._flush_target <= self._taken and self._drain_until is None:
                    wake.wait(due - now if next_reap is None else min(due - now, next_reap))
                continue
            if self._dispatch(now):
                since = now if queue else None

    def _dispatch(self, now: float) -> bool:
        """Take one batch and hand it to a free export slot; False if no slot became free."""
        with self._cv:
            EXPORT_PRESSURE.report_fill(len(self._queue), self._capacity)  # head sampler back-pressure
            if not self._slots.free():
                self._cv.wait(POLL_S)
                if not self._slots.free() or self._slots.stopped:
                    return False
            queue = self._queue
            self._adapt.observe_arrivals(self._taken + len(queue) + self._dropped_queue_full, now)
            n = min(len(queue), self._adapt.cap)
            batch = [queue.popleft() for _ in range(n)]
            job = Job(batch, self._taken)
            self._taken += n
            self._unfinished[job.start_seq] = job
            self._slots.submit(job)
        if self._block_s > 0:
            with self._space:
                self._space.notify_all()
        return True

    def _wait_unfinished(self) -> None:
        with self._cv:
            while self._unfinished and self._drain_until is not None:
                left = self._drain_until - time.monotonic()
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
            self._discarded_shutdown += n
        else:
            self._failed += n
        if outcome != DROPPED:
            self._adapt.observe_export(seconds)
        self._cv.notify_all()

    def _export_called(self, seconds: float, ok: bool) -> None:
        if self._metrics is not None:
            self._metrics.record_export(seconds, ok)
        if callable(self._exporter_stats):
            try:
                snap = self._exporter_stats()
                raw, spans = int(snap["raw_bytes"]), int(snap["spans_exported"])
            except Exception:  # noqa: BLE001 - bytes/span is optional: skip when unknown
                return
            with self._cv:
                last_raw, last_spans = self._bytes_seen
                self._bytes_seen = (raw, spans)
                self._adapt.observe_bytes(raw - last_raw, spans - last_spans)

    def _warn_drops(self) -> None:
        dropped = self._dropped_queue_full
        if dropped > self._warned_drops:
            self._warned_drops = dropped
            warn_limited(_logger, "batch:queue-full",
                         "SmartBatchSpanProcessor queue full (capacity %d spans): %d spans dropped so far",
                         self._capacity, dropped)
