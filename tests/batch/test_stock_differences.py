"""Each deliberate difference from the SDK's BatchSpanProcessor (docs/batch.md, "Differences
from the stock processor"), pinned by its own test."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otelkit.batch import SmartBatchSpanProcessor

from ._helpers import FakeClock, Recording, end_spans, pipeline, wait_until


def test_default_bounds_are_larger_than_stock() -> None:
    stock = BatchSpanProcessor(Recording())
    ours = SmartBatchSpanProcessor(Recording(), environ={}, self_metrics=False)
    sp = stock._batch_processor
    assert (sp._max_queue_size, sp._max_export_batch_size) == (2048, 512)
    assert (ours.options.max_queue_size, ours.options.max_batch) == (65536, 8192)
    assert (ours.options.max_wait_ms, ours.options.export_timeout_ms) == (5000, 30000)  # as stock
    stock.shutdown()
    ours.shutdown()


def test_batch_bound_from_the_environment_above_the_queue_is_capped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The SDK raises here; otelkit never lets the environment crash the host application.
    with caplog.at_level(logging.WARNING, logger="otelkit.config"):
        processor = SmartBatchSpanProcessor(
            Recording(), environ={"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "500"},
            self_metrics=False)
    assert processor.options.max_batch == 100
    assert "500" in caplog.text and "100" in caplog.text
    processor.shutdown()


def test_default_batch_bound_follows_a_small_explicit_queue() -> None:
    # Stock raises for BatchSpanProcessor(e, max_queue_size=100) (its default batch is 512).
    processor = SmartBatchSpanProcessor(Recording(), max_queue_size=100, environ={}, self_metrics=False)
    assert processor.options.max_batch == 100
    processor.shutdown()


def test_an_export_starts_at_half_the_queue_not_at_a_full_batch() -> None:
    # Stock with a 15-span queue and batch waits for 15 spans (or its delay); otelkit's
    # target batch is at most half the queue, so the queue has room while the export runs.
    exporter = Recording()
    provider, processor = pipeline(exporter, max_queue_size=15, max_export_batch_size=15, min_batch=15,
                                   freshness_ms=60_000, startup_ms=60_000, schedule_delay_millis=60_000)
    assert processor.stats()["target_batch"] == 7
    end_spans(provider, [f"s{i}" for i in range(7)])
    assert wait_until(lambda: len(exporter.names) == 7)  # no flush, no wait passed
    assert exporter.calls == 1
    provider.shutdown()


class _Concurrency(SpanExporter):
    """Tracks how many export() calls overlap; each call lasts ``hold_s`` (or until ``gate``)."""

    def __init__(self, hold_s: float = 30.0) -> None:
        self.active = self.peak = self.spans = 0
        self.hold_s = hold_s
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        self.gate.wait(self.hold_s)
        with self._lock:
            self.active -= 1
            self.spans += len(spans)
        return SpanExportResult.SUCCESS


def test_a_second_export_runs_while_the_first_hangs_by_default() -> None:
    exporter = _Concurrency()
    provider, processor = pipeline(exporter, min_batch=1)  # default max_concurrent_exports=2
    end_spans(provider, ["a"])
    assert wait_until(lambda: exporter.active == 1)
    end_spans(provider, ["b"])
    assert wait_until(lambda: exporter.active == 2)
    exporter.gate.set()
    assert processor.force_flush(10_000) and exporter.spans == 2
    provider.shutdown()


@pytest.mark.parametrize("k", [1, 2])
def test_exports_never_overlap_beyond_max_concurrent_exports(k: int) -> None:
    exporter = _Concurrency(hold_s=0.005)
    provider, processor = pipeline(exporter, min_batch=1, max_concurrent_exports=k, startup_ms=0, freshness_ms=1)
    for i in range(30):  # each span arrives while the previous one's export may still run
        end_spans(provider, [f"s{i}"])
        assert wait_until(lambda: processor.stats()["queue_size"] == 0)
    assert processor.force_flush(10_000) and exporter.spans == 30
    assert exporter.peak <= k
    provider.shutdown()


def test_processed_is_counted_on_submission_whatever_the_export_outcome() -> None:
    # As stock (and as semconv requires): otel.sdk.processor.span.processed counts a span when
    # export() is invoked; a refused batch shows up in the exporter's metrics, not here.
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    provider, processor = pipeline(Recording(fail_ratio=1.0), self_metrics=True, meter_provider=meters)
    end_spans(provider, ["a", "b"])
    assert processor.force_flush(10_000)
    data = reader.get_metrics_data()
    assert data is not None
    processed = {
        p.attributes.get("error.type"): p.value
        for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        if m.name == "otel.sdk.processor.span.processed" for p in m.data.data_points
    }
    assert processed == {None: 2}
    assert processor.stats()["spans_failed"] == 2  # the outcome stays in stats()
    provider.shutdown()


def test_shutdown_does_not_wait_for_a_hanging_exporter_shutdown() -> None:
    # Stock calls exporter.shutdown() on the caller's thread and waits for it; otelkit waits
    # at most what is left of the export-timeout budget (here a fake clock spends it).
    release = threading.Event()

    class HangingShutdown(Recording):
        def shutdown(self) -> None:
            super().shutdown()
            release.wait(30)

    exporter = HangingShutdown()
    provider, processor = pipeline(exporter, clock=FakeClock(step=1.0), export_timeout_millis=2000)
    provider.shutdown()
    assert not release.is_set()  # returned while the exporter's shutdown still hangs
    assert wait_until(lambda: exporter.shutdowns == 1)
    release.set()
