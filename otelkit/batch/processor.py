"""SmartBatchSpanProcessor: a drop-in for the SDK's BatchSpanProcessor that adapts to load.

``on_end`` hands a sampled span to the :class:`~otelkit.batch._queue.SpanQueue` (a PID
check, one length check and an append: no lock, no logging, no metric call). One
:class:`~otelkit.batch._worker.BatchWorker` thread turns the queue into batches whose size
and wait follow EWMAs of the arrival rate, export latency and encoded bytes/span
(``otelkit.batch._adaptive``), and hands them to up to k export threads
(``otelkit.batch._exports``). Counting is exact: at quiescence ``spans_received ==
spans_exported + spans_failed + dropped_queue_full + dropped_shutdown + queue_size``.

This file owns the exporter, the options, the self-metrics and the lifecycle (which queue
and worker belong to this process); the queue and the worker own their state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from otelkit._fork import after_fork
from otelkit._warn import warn_limited
from otelkit.batch._metrics import BatchMetrics
from otelkit.batch._options import BatchOptions
from otelkit.batch._queue import SpanQueue
from otelkit.batch._worker import BatchWorker

__all__ = ["SmartBatchSpanProcessor"]

_logger = logging.getLogger("otelkit.batch")


class SmartBatchSpanProcessor(SpanProcessor):
    """Adaptive batching span processor; same constructor shape as ``BatchSpanProcessor``.

    Args:
        span_exporter: where batches go. With ``max_concurrent_exports > 1`` its ``export``
            is called from several threads at once, so it must be thread-safe (otelkit's
            exporters and the stock OTLP exporters are).
        max_queue_size: queue capacity (spans); default ``OTELKIT_BATCH_MAX_QUEUE``, else
            ``OTEL_BSP_MAX_QUEUE_SIZE``, else 65536.
        schedule_delay_millis: upper bound of the adaptive wait (ms); default
            ``OTEL_BSP_SCHEDULE_DELAY`` (5000).
        max_export_batch_size: largest batch (spans), at most ``max_queue_size``; default
            ``OTELKIT_BATCH_MAX_SIZE``, else ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``, else 8192
            (capped at the queue size).
        export_timeout_millis: one export call's timeout and the shutdown budget (ms);
            default ``OTEL_BSP_EXPORT_TIMEOUT`` (30000).
        **options: keyword-only ``min_batch``, ``freshness_ms``, ``startup_ms``,
            ``max_concurrent_exports``, ``overflow`` (``drop``/``block``),
            ``block_timeout_ms``, ``max_request_bytes``, ``self_metrics`` (see
            :class:`~otelkit.batch._options.BatchOptions`), plus ``meter_provider``,
            ``environ`` (mapping read instead of ``os.environ``) and ``clock`` (monotonic
            seconds; tests pass a fake one).

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
        clock: Callable[[], float] = time.monotonic,
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
        self._clock = clock
        self._timeout_s = o.export_timeout_ms / 1e3
        self._metrics = BatchMetrics(self.stats, meter_provider) if o.self_metrics else None
        block_s = o.block_timeout_ms / 1e3 if o.overflow == "block" else 0.0
        self._encoded = callable(getattr(span_exporter, "export_encoded", None))
        encode = None
        if self._encoded:  # the exporter takes spans as bytes: hold them encoded
            from otelkit.exporter._encoded import encode_sampled

            encode = encode_sampled
        self._queue = SpanQueue(o.max_queue_size, block_s, self._forked, clock,
                                max_bytes=o.max_queue_bytes if self._encoded else None, encode=encode)
        if type(self).on_end is SmartBatchSpanProcessor.on_end:
            # The per-span path in one Python frame: on_end *is* the queue's put (the queue
            # object lives as long as the processor; a fork resets it in place).
            self.on_end = self._queue.put_encoded if self._encoded else self._queue.put  # type: ignore[method-assign]
        self._worker = self._new_worker()
        after_fork(self._after_fork)

    @property
    def span_exporter(self) -> SpanExporter:
        """The exporter batches go to (as on the SDK's ``BatchSpanProcessor``)."""
        return self._exporter

    def _new_worker(self) -> BatchWorker:
        worker = BatchWorker(self._queue, self._exporter, self.options, self._metrics, self._clock,
                             encoded=self._encoded)
        if not self._queue.closed:
            worker.start()
        return worker

    def _after_fork(self) -> None:
        """In a forked child (Python's at-fork hook): an empty queue, zero counters, fresh
        locks and a fresh worker; a child of a shut-down processor stays shut down."""
        self._queue.reset(closed=self._queue.closed)
        self._worker = self._new_worker()

    def _forked(self) -> None:
        """The same for a fork without Python's hooks (uWSGI prefork), noticed by the queue's
        PID check: the parent's queued spans are the parent's, never exported here."""
        try:
            self._after_fork()
        except Exception as exc:  # noqa: BLE001 - e.g. no thread can start: never raise into on_end
            warn_limited(_logger, "batch:fork-reset", "could not restart the batch worker after fork: %r", exc)

    # ------------------------------------------------------------------ hot path

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled span (as its encoded bytes when the exporter has
        ``export_encoded``); never blocks unless the ``block`` overflow policy is on (then at
        most ``block_timeout_ms``), never raises. A span without a context is ignored, as by
        the SDK's processors. (Instances bind the queue's put here directly; a subclass that
        overrides ``on_end`` gets its override.)"""
        if self._encoded:
            self._queue.put_encoded(span)
        else:
            self._queue.put(span)

    @property
    def holds_encoded(self) -> bool:
        """Whether :meth:`on_end_held` takes spans already encoded: the exporter has
        ``export_encoded`` and ``on_end`` is not overridden by a subclass."""
        return self._encoded and type(self).on_end is SmartBatchSpanProcessor.on_end

    def on_end_held(self, data: bytes, route: Any) -> None:
        """Queue a sampled span already encoded (its ``Span`` message bytes and route, as
        ``otelkit.exporter._encoded.encode_held`` gives them; the tail processor forwards
        kept spans this way); only when :attr:`holds_encoded`. Counted and refused as
        ``on_end`` would; never raises."""
        self._queue.put_held(data, route)

    # ------------------------------------------------------------------ lifecycle

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export every span queued before this call; True when all of them reached an outcome
        (exported or failed) within ``timeout_millis``, False otherwise (or after shutdown)."""
        self._queue.check_fork()
        if self._queue.closed:
            return False
        return self._worker.flush(max(0, timeout_millis) / 1e3)

    def shutdown(self) -> None:
        """Drain within the export timeout, then stop: spans still queued or never started
        count as ``dropped_shutdown``, exports still running as ``spans_failed``; no export
        starts after this returns. Later calls do nothing."""
        self._queue.check_fork()
        if not self._queue.close():
            return
        deadline = self._clock() + self._timeout_s
        self._worker.drain(deadline)
        self._shutdown_exporter(deadline)

    def _shutdown_exporter(self, deadline: float) -> None:
        def run() -> None:
            try:
                self._exporter.shutdown()
            except Exception as exc:  # noqa: BLE001
                warn_limited(_logger, "batch:exporter-shutdown", "exporter shutdown raised: %r", exc)

        thread = threading.Thread(target=run, name="OtelkitBatchExporterShutdown", daemon=True)
        thread.start()
        thread.join(max(0.01, deadline - self._clock()))

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict[str, Any]:
        """A consistent snapshot of counters and adaptive targets (plain ints/floats)."""
        self._queue.check_fork()
        return self._worker.snapshot()
