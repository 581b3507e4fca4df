"""Export slots of the smart batcher: up to k export() calls in flight, each waited for with a timeout.

A :class:`Job` is one batch. The worker hands jobs to :class:`ExportSlots`, whose threads call
``exporter.export`` with instrumentation suppressed. A job ends exactly once: exported, failed
(the exporter said so, raised, or did not return within the export timeout) or dropped at
shutdown (never started). A thread stuck in a hung export keeps its slot until it returns, so
threads stay bounded by k; its batch is already counted as failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit._warn import warn_limited

__all__ = ["Job", "ExportSlots", "EXPORTED", "FAILED", "DROPPED"]

_logger = logging.getLogger("otelkit.batch")

EXPORTED, FAILED, DROPPED = "exported", "failed", "dropped"


class Job:
    """One batch on its way to the exporter; ``start_seq`` numbers its first span."""

    __slots__ = ("batch", "start_seq", "started", "outcome")

    def __init__(self, batch: list[Any], start_seq: int) -> None:
        self.batch = batch
        self.start_seq = start_seq
        self.started: float | None = None
        self.outcome: str | None = None


class ExportSlots:
    """Up to ``k`` export threads sharing one condition with the processor.

    Args:
        exporter: called from up to ``k`` threads at once (must be thread-safe when k > 1).
        k: export calls in flight at once.
        timeout_s: a call running longer than this is counted failed (s).
        cv: the processor's condition; every state change here happens under it.
        on_end: ``on_end(job, outcome, seconds)`` called under ``cv`` when a job ends.
        on_call: ``on_call(seconds, ok, spans)`` called outside the lock after every real export call.
        clock: monotonic clock in seconds (the one the caller passes to :meth:`reap`).
        export: what a batch is handed to; default ``exporter.export`` (the worker passes
            ``exporter.export_encoded`` for encoded spans).
        release: called under ``cv`` with a job's batch once no export call holds it (the
            call returned, or the job was dropped unstarted), even after a timeout ended it.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        k: int,
        timeout_s: float,
        cv: threading.Condition,
        on_end: Callable[[Job, str, float], None],
        on_call: Callable[[float, bool, int], None],
        clock: Callable[[], float] = time.monotonic,
        export: Callable[[Any], SpanExportResult] | None = None,
        release: Callable[[Any], None] | None = None,
    ) -> None:
        self._exporter = exporter
        self._export = export if export is not None else exporter.export
        self._clock = clock
        self.k = k
        self._timeout_s = timeout_s
        self._cv = cv
        self._on_end = on_end
        self._on_call = on_call
        self._release = release
        self._waiting: deque[Job] = deque()
        self.running: dict[int, Job] = {}
        self.in_flight = 0
        self.stopped = False
        self._threads = 0
        self._idle = 0
        self.timeouts = 0
        self.submitted = 0  # spans handed to the exporter (the SDK's "processed" point)

    # All methods below expect the caller to hold ``cv``.

    def free(self) -> bool:
        return self.in_flight < self.k

    def submit(self, job: Job) -> None:
        self.in_flight += 1
        self._waiting.append(job)
        if self._idle == 0 and self._threads < self.k:
            self._threads += 1
            threading.Thread(target=self._serve, name="OtelkitBatchExport", daemon=True).start()
        self._cv.notify_all()

    def reap(self, now: float) -> float | None:
        """Fail running jobs past the timeout; return seconds until the next one could time out."""
        nearest: float | None = None
        for job in list(self.running.values()):
            assert job.started is not None
            left = job.started + self._timeout_s - now
            if left <= 0:
                self.timeouts += 1
                self._end(job, FAILED, now - job.started)
            elif nearest is None or left < nearest:
                nearest = left
        return nearest

    def stop(self, now: float) -> None:
        """No export starts from now on; jobs not started are dropped, running ones failed."""
        self.stopped = True
        while self._waiting:
            self.in_flight -= 1
            job = self._waiting.popleft()
            if self._release is not None:
                self._release(job.batch)
            self._end(job, DROPPED, 0.0)
        for job in list(self.running.values()):
            assert job.started is not None
            self.timeouts += 1  # still running at the shutdown deadline
            self._end(job, FAILED, now - job.started)
        self._cv.notify_all()

    def _end(self, job: Job, outcome: str, seconds: float) -> None:
        if job.outcome is None:
            job.outcome = outcome
            self.running.pop(job.start_seq, None)
            self._on_end(job, outcome, seconds)

    def _serve(self) -> None:
        while True:
            with self._cv:
                self._idle += 1
                while not self._waiting and not self.stopped:
                    self._cv.wait()
                self._idle -= 1
                if not self._waiting:
                    self._threads -= 1
                    return
                job = self._waiting.popleft()
                job.started = self._clock()
                self.submitted += len(job.batch)
                self.running[job.start_seq] = job
            ok = self._call(job.batch)
            seconds = self._clock() - job.started
            with self._cv:
                self.in_flight -= 1
                if self._release is not None:
                    self._release(job.batch)
                self._end(job, EXPORTED if ok else FAILED, seconds)
                self._cv.notify_all()
            self._on_call(seconds, ok, len(job.batch))

    def _call(self, batch: list[Any]) -> bool:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            return self._export(batch) is SpanExportResult.SUCCESS
        except Exception as exc:  # noqa: BLE001 - an exporter bug must not kill the export thread
            warn_limited(_logger, "batch:export-raised", "span exporter %s raised: %r",
                         type(self._exporter).__name__, exc)
            return False
        finally:
            detach(token)

    def snapshot(self) -> dict[str, Any]:
        return {"exports_in_flight": self.in_flight, "export_timeouts": self.timeouts,
                "spans_submitted": self.submitted}
