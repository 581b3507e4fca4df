from __future__ import annotations

import gc
import logging
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

from otelkit.batch import SmartBatchSpanProcessor

from ._helpers import FakeClock, Recording, accounted, end_spans, pipeline, wait_until

STATS_KEYS = {
    "spans_received", "spans_exported", "spans_failed", "dropped_queue_full", "dropped_shutdown",
    "queue_size", "queue_capacity", "target_batch", "target_wait_ms", "arrival_rate_ewma",
    "export_latency_ms_ewma", "exports_in_flight", "spans_submitted",
}


def test_stats_has_the_contract_keys_as_plain_numbers() -> None:
    provider, processor = pipeline(Recording())
    stats = processor.stats()
    assert STATS_KEYS <= set(stats)
    assert all(isinstance(v, (int, float)) for v in stats.values())
    provider.shutdown()


def test_lone_span_is_exported_without_a_flush() -> None:
    exporter = Recording()
    provider, processor = pipeline(exporter, freshness_ms=20, startup_ms=10)
    end_spans(provider, ["first"])
    assert wait_until(lambda: exporter.names == ["first"])
    end_spans(provider, ["second"])  # after the start-up export: the freshness deadline
    assert wait_until(lambda: exporter.names == ["first", "second"])
    assert processor.stats()["target_wait_ms"] >= 20.0  # the freshness bound is the floor
    provider.shutdown()


def test_export_runs_with_instrumentation_suppressed() -> None:
    exporter = Recording()
    provider, processor = pipeline(exporter)
    end_spans(provider, ["a", "b"])
    assert processor.force_flush(10_000)
    assert exporter.suppressed and all(exporter.suppressed)
    provider.shutdown()


class _RecordOnly(Sampler):
    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return SamplingResult(Decision.RECORD_ONLY)

    def get_description(self) -> str:
        return "record-only"


def test_unsampled_spans_are_not_counted_or_exported() -> None:
    exporter = Recording()
    processor = SmartBatchSpanProcessor(exporter, environ={}, self_metrics=False)
    provider = TracerProvider(sampler=_RecordOnly())
    provider.add_span_processor(processor)
    end_spans(provider, ["quiet"])
    assert processor.force_flush(10_000)
    assert processor.stats()["spans_received"] == 0 and exporter.names == []
    provider.shutdown()


def test_accounting_invariant_with_8_threads_and_random_failures() -> None:
    exporter = Recording(fail_ratio=0.3, seed=7)
    provider, processor = pipeline(exporter, max_queue_size=300, max_export_batch_size=64, min_batch=8)
    per_thread, threads = 1500, 8
    workers = [
        threading.Thread(target=end_spans, args=(provider, [f"t{t}-{i}" for i in range(per_thread)]))
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert processor.force_flush(30_000)
    stats = processor.stats()
    assert stats["spans_received"] == per_thread * threads
    assert accounted(stats) == per_thread * threads
    assert stats["queue_size"] == 0 and stats["exports_in_flight"] == 0
    assert stats["spans_exported"] == len(exporter.names)
    assert stats["spans_failed"] == exporter.failed_spans
    assert len(set(exporter.names)) == len(exporter.names)  # nothing exported twice
    provider.shutdown()
    assert accounted(processor.stats()) == per_thread * threads


def test_failed_and_raising_exports_count_as_failed(caplog: pytest.LogCaptureFixture) -> None:
    class Raising(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            raise RuntimeError("collector on fire")

    provider, processor = pipeline(Raising())
    with caplog.at_level(logging.WARNING, logger="otelkit.batch"):
        end_spans(provider, ["a", "b", "c"])
        assert processor.force_flush(10_000)
    stats = processor.stats()
    assert stats["spans_failed"] == 3 and stats["spans_exported"] == 0
    assert "collector on fire" in caplog.text
    provider.shutdown()


def test_drop_newest_when_full() -> None:
    gate = threading.Event()
    exporter = Recording(gate=gate)
    provider, processor = pipeline(exporter, max_queue_size=5, max_concurrent_exports=1, min_batch=1)
    end_spans(provider, ["s0"])
    assert exporter.entered.wait(10)  # s0 holds the only export slot
    end_spans(provider, [f"s{i}" for i in range(1, 8)])
    stats = processor.stats()
    assert stats["queue_size"] == 5 and stats["dropped_queue_full"] == 2
    gate.set()
    assert processor.force_flush(10_000)
    assert exporter.names == [f"s{i}" for i in range(6)]  # the newest two (s6, s7) were dropped
    provider.shutdown()


def test_block_policy_waits_for_space_then_enqueues() -> None:
    gate = threading.Event()
    exporter = Recording(gate=gate)
    provider, processor = pipeline(exporter, max_queue_size=2, max_concurrent_exports=1, min_batch=1,
                                   overflow="block", block_timeout_ms=20_000)
    end_spans(provider, ["s0"])
    assert exporter.entered.wait(10)
    end_spans(provider, ["s1", "s2"])
    producer = threading.Thread(target=end_spans, args=(provider, ["s3"]))
    producer.start()
    assert wait_until(lambda: processor._queue.blocked == 1)
    assert producer.is_alive()  # blocked on the full queue
    gate.set()
    producer.join(20)
    assert not producer.is_alive()
    assert processor.force_flush(10_000)
    assert sorted(exporter.names) == ["s0", "s1", "s2", "s3"]
    assert processor.stats()["dropped_queue_full"] == 0
    provider.shutdown()


def test_block_policy_gives_up_after_its_timeout_and_counts_the_drop() -> None:
    gate = threading.Event()
    exporter = Recording(gate=gate)
    provider, processor = pipeline(exporter, max_queue_size=1, max_concurrent_exports=1, min_batch=1,
                                   overflow="block", block_timeout_ms=30)
    end_spans(provider, ["s0"])
    assert exporter.entered.wait(10)
    end_spans(provider, ["s1", "s2"])  # s2 waits 30 ms, then is dropped
    assert processor.stats()["dropped_queue_full"] == 1
    gate.set()
    provider.shutdown()
    assert accounted(processor.stats()) == 3


def test_force_flush_with_a_hanging_exporter_returns_false_within_its_timeout() -> None:
    gate = threading.Event()
    exporter = Recording(gate=gate)
    clock = FakeClock(step=0.05)  # every reading moves 50 ms: the 200 ms budget runs out in a few
    provider, processor = pipeline(exporter, clock=clock, export_timeout_millis=3_600_000, max_concurrent_exports=1)
    end_spans(provider, [f"s{i}" for i in range(10)])
    assert exporter.entered.wait(10)
    assert processor.force_flush(200) is False  # bounded by its own timeout, not by the exporter
    gate.set()
    assert processor.force_flush(10_000) is True
    assert sorted(exporter.names) == sorted(f"s{i}" for i in range(10))
    provider.shutdown()


def test_hung_export_times_out_and_shutdown_accounts_for_everything() -> None:
    gate = threading.Event()
    exporter = Recording(gate=gate)
    # Long waits: batches leave only when 4 spans are queued, however slow the box is.
    provider, processor = pipeline(exporter, export_timeout_millis=300, max_concurrent_exports=1,
                                   max_export_batch_size=4, min_batch=4, freshness_ms=60_000,
                                   startup_ms=60_000, schedule_delay_millis=60_000)
    end_spans(provider, [f"s{i}" for i in range(10)])
    assert exporter.entered.wait(10)
    provider.shutdown()  # bounded by the export timeout (0.3 s), not by the 30 s gate: see the counts
    stats = processor.stats()
    assert stats["spans_failed"] == 4  # the hung batch: counted failed at its timeout
    assert stats["dropped_shutdown"] == 6  # never exported: queued at the deadline
    assert accounted(stats) == stats["spans_received"] == 10
    assert stats["export_timeouts"] >= 1
    calls_at_shutdown = exporter.calls
    gate.set()  # the hung call returns late: no double count, and no new export starts
    assert wait_until(lambda: processor.stats()["exports_in_flight"] == 0)  # its thread is done
    assert exporter.calls == calls_at_shutdown + 1
    assert processor.stats()["spans_failed"] == 4 and exporter.names == [f"s{i}" for i in range(4)]
    assert exporter.shutdowns == 1


def test_no_export_after_shutdown_and_late_spans_are_counted() -> None:
    exporter = Recording()
    provider, processor = pipeline(exporter)
    end_spans(provider, ["a"])
    processor.shutdown()
    calls = exporter.calls
    assert exporter.names == ["a"]  # shutdown drained the queue
    end_spans(provider, ["late1", "late2"])  # refused at once: nothing is queued to export later
    assert exporter.calls == calls
    stats = processor.stats()
    assert stats["dropped_shutdown"] == 2 and accounted(stats) == stats["spans_received"] == 3
    assert processor.force_flush(100) is False
    processor.shutdown()  # idempotent
    assert exporter.shutdowns == 1


def test_bytes_per_span_from_exporter_stats_caps_batches() -> None:
    class Sized(Recording):
        def stats(self) -> dict[str, int]:
            return {"raw_bytes": 2048 * len(self.names), "spans_exported": len(self.names)}

    exporter = Sized()
    provider, processor = pipeline(exporter, max_request_bytes=16 * 1024, min_batch=1)
    end_spans(provider, ["a", "b"])
    assert processor.force_flush(10_000)
    assert processor.stats()["bytes_per_span_ewma"] == pytest.approx(2048.0)
    assert processor._worker.adapt.cap == 8  # 16 KiB / 2 KiB
    provider.shutdown()


@pytest.mark.parametrize("kw", [{"max_queue_size": 0}, {"overflow": "spill"}, {"max_concurrent_exports": 0}])
def test_bad_arguments_raise_value_error(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kw))):
        SmartBatchSpanProcessor(Recording(), environ={}, **kw)


def test_stock_positional_arguments_are_accepted() -> None:
    processor = SmartBatchSpanProcessor(Recording(), 10, 1000, 5, 2000, environ={}, self_metrics=False)
    o = processor.options
    assert (o.max_queue_size, o.max_wait_ms, o.max_batch, o.export_timeout_ms) == (10, 1000, 5, 2000)
    processor.shutdown()


def test_processor_is_collected_after_shutdown() -> None:
    provider, processor = pipeline(Recording(), self_metrics=True)
    end_spans(provider, ["a"])
    provider.shutdown()
    ref = weakref.ref(processor)
    del processor, provider
    assert wait_until(lambda: gc.collect() is not None and ref() is None)


def test_a_subclass_overriding_on_end_gets_its_override() -> None:
    seen: list[str] = []

    class Filtering(SmartBatchSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            seen.append(span.name)
            if span.name != "skip":
                super().on_end(span)

    exporter = Recording()
    processor = Filtering(exporter, environ={}, self_metrics=False)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    end_spans(provider, ["keep", "skip"])
    assert processor.force_flush(10_000)
    assert seen == ["keep", "skip"] and exporter.names == ["keep"]
    provider.shutdown()
