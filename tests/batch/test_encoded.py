"""Spans held as bytes (issue 14): with an exporter that has ``export_encoded`` the queue holds
each ended span as its encoded OTLP bytes within an exact byte budget."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, TraceFlags

from otelkit.batch._queue import HELD_OVERHEAD, SpanQueue
from otelkit.exporter._encoded import EncodedSpan, encode_held, encode_request, encode_sampled, encode_span
from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.receiver import OtlpReceiver

from ._helpers import Recording, accounted, end_spans, ended, pipeline


class EncodedRecording(Recording):
    """Records encoded batches; ``export`` must never be called in encoded mode."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__(gate=gate)
        self.batches: list[list[EncodedSpan]] = []

    def export_encoded(self, spans: Sequence[EncodedSpan]) -> SpanExportResult:
        self.entered.set()
        if self._gate is not None:
            self._gate.wait(30)
        self.batches.append(list(spans))
        return SpanExportResult.SUCCESS

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise AssertionError("export() called although the exporter takes encoded spans")


def _names(batches: list[list[EncodedSpan]]) -> list[str]:
    out: list[str] = []
    for batch in batches:
        request = ExportTraceServiceRequest.FromString(encode_request(batch))
        out.extend(s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)
    return out


def test_spans_are_held_encoded_and_exported_through_export_encoded() -> None:
    exporter = EncodedRecording()
    provider, processor = pipeline(exporter)
    end_spans(provider, ["a", "b", "c"])
    assert processor.force_flush(10_000)
    assert _names(exporter.batches) == ["a", "b", "c"] and exporter.names == []
    stats = processor.stats()
    assert stats["spans_exported"] == 3 and stats["queue_bytes"] == 0
    provider.shutdown()


def test_the_span_object_is_freed_when_it_ends() -> None:
    gate = threading.Event()
    exporter = EncodedRecording(gate=gate)
    provider, processor = pipeline(exporter, max_concurrent_exports=1, min_batch=1)
    end_spans(provider, ["first"])
    assert exporter.entered.wait(10)  # the only export slot is busy: the next span stays queued
    span = provider.get_tracer("t").start_span("held")
    span.end()
    ref = weakref.ref(span)
    del span
    gc.collect()
    assert ref() is None  # the queue holds bytes, not the span
    assert processor.stats()["queue_size"] == 1
    gate.set()
    assert processor.force_flush(10_000) and _names(exporter.batches) == ["first", "held"]
    provider.shutdown()


def test_byte_budget_is_exact_and_every_refused_span_is_counted() -> None:
    spans = ended([f"span-{i:03d}" for i in range(50)])
    cost = encode_span(spans[0]).size + HELD_OVERHEAD  # same size for every name here
    q = SpanQueue(1000, max_bytes=10 * cost, encode=encode_held)
    for span in spans:
        q.put_encoded(span)
    snap = q.snapshot()
    assert snap["queued"] == 10 and snap["queued_bytes"] == 10 * cost
    assert snap["dropped_full"] == 40 and snap["received"] == 50
    taken = q.take(4)
    assert [s.size for s in taken] == [cost - HELD_OVERHEAD] * 4
    assert q.snapshot()["queued_bytes"] == 10 * cost  # a batch in an export call still counts
    q.put_encoded(spans[0])
    assert q.snapshot()["queued"] == 6 and q.snapshot()["dropped_full"] == 41
    q.release(taken)  # the export call returned
    assert q.snapshot()["queued_bytes"] == 6 * cost
    q.put_encoded(spans[0])  # room again
    assert q.snapshot()["queued"] == 7


def test_a_span_that_cannot_be_encoded_is_counted_failed_not_raised() -> None:
    def broken(_span: ReadableSpan) -> Any:
        raise ValueError("unencodable")

    q = SpanQueue(10, max_bytes=1 << 20, encode=broken)
    q.put_encoded(ended(["x"])[0])
    snap = q.snapshot()
    assert snap["encode_failed"] == 1 and snap["queued"] == 0 and snap["received"] == 1


def test_overload_drops_are_counted_and_memory_stays_within_the_budget() -> None:
    gate = threading.Event()
    exporter = EncodedRecording(gate=gate)
    budget = 64 * 1024
    provider, processor = pipeline(exporter, max_concurrent_exports=1, min_batch=1, max_queue_bytes=budget)
    end_spans(provider, ["first"])
    assert exporter.entered.wait(10)
    end_spans(provider, [f"s{i}" for i in range(5000)])
    stats = processor.stats()
    assert 0 < stats["queue_bytes"] <= budget
    assert stats["dropped_queue_full"] > 0 and stats["spans_received"] == 5001
    assert accounted(stats) == 5000 and stats["exports_in_flight"] == 1  # "first" is being exported
    gate.set()
    provider.shutdown()
    stats = processor.stats()
    assert accounted(stats) == 5001 and stats["queue_bytes"] == 0


def test_real_exporter_gets_the_stock_request_bytes(sink: OtlpReceiver) -> None:
    exporter = OtlpHttpSpanExporter(endpoint=sink.endpoint, compression="none")
    provider, processor = pipeline(exporter, max_concurrent_exports=1)
    tracer = provider.get_tracer("t")
    for i in range(20):
        with tracer.start_as_current_span(f"op-{i}") as span:
            span.set_attribute("i", i)
    assert processor.force_flush(10_000)
    got = sink.spans()
    assert [g.span.name for g in got] == [f"op-{i}" for i in range(20)]
    assert got[7].attributes == {"i": 7}
    provider.shutdown()


def test_encoded_bytes_match_the_sdk_encoder() -> None:
    spans = ended(["p", "q"])
    assert encode_request([encode_span(s) for s in spans]) == encode_spans(spans).SerializeToString()


def test_without_export_encoded_spans_are_held_as_spans() -> None:
    exporter = Recording()
    provider, processor = pipeline(exporter)
    end_spans(provider, ["a"])
    assert processor.force_flush(10_000) and exporter.names == ["a"]
    assert processor.stats()["queue_bytes"] == 0
    provider.shutdown()


def test_explicit_byte_budget_below_one_raises() -> None:
    import pytest

    from otelkit.batch import SmartBatchSpanProcessor

    with pytest.raises(ValueError, match="max_queue_bytes"):
        SmartBatchSpanProcessor(EncodedRecording(), environ={}, max_queue_bytes=0)


def test_byte_budget_from_the_environment() -> None:
    provider = TracerProvider()
    from otelkit.batch import SmartBatchSpanProcessor

    processor = SmartBatchSpanProcessor(EncodedRecording(), environ={"OTELKIT_BATCH_MAX_QUEUE_BYTES": "4096"},
                                        self_metrics=False)
    provider.add_span_processor(processor)
    assert processor.options.max_queue_bytes == 4096 and processor._queue.max_bytes == 4096
    provider.shutdown()


def test_block_policy_waits_for_byte_budget_room_then_counts_the_drop() -> None:
    from ._helpers import FakeClock

    spans = ended(["a", "b"])
    cost = encode_span(spans[0]).size + HELD_OVERHEAD
    q = SpanQueue(100, block_timeout_s=0.2, clock=FakeClock(step=0.05), max_bytes=cost, encode=encode_held)
    q.put_encoded(spans[0])
    q.put_encoded(spans[1])  # no room in the budget and no consumer: gives up at the deadline
    snap = q.snapshot()
    assert snap["queued"] == 1 and snap["dropped_full"] == 1 and snap["queued_bytes"] == cost and q.blocked == 0


def test_unsampled_spans_and_spans_without_a_context_are_ignored_in_encoded_mode() -> None:
    exporter = EncodedRecording()
    provider, processor = pipeline(exporter)
    processor.on_end(ReadableSpan("unsampled", context=SpanContext(1, 2, False, TraceFlags(0))))
    processor.on_end(ReadableSpan("no-context", context=None))
    processor.on_end(ReadableSpan("sampled", context=SpanContext(1, 3, False, TraceFlags(1))))
    assert processor.force_flush(5000)
    assert [s.data for batch in exporter.batches for s in batch] == [encode_span(
        ReadableSpan("sampled", context=SpanContext(1, 3, False, TraceFlags(1)))).data]
    stats = processor.stats()
    assert stats["spans_received"] == 1 and stats["spans_exported"] == 1
    provider.shutdown()


def test_a_producer_meeting_a_held_queue_lock_queues_its_span_once_the_lock_is_free() -> None:
    # The contended path yields the GIL instead of sleeping on the lock (no lock convoy);
    # the span is still queued and counted exactly once, and not before the lock is free.
    q = SpanQueue(10, max_bytes=1 << 20, encode=encode_sampled)
    span = ended(["x"])[0]
    producer = threading.Thread(target=q.put_encoded, args=(span,))
    q._lock.acquire()
    try:
        producer.start()
        producer.join(0.05)
        assert producer.is_alive() and len(q) == 0
    finally:
        q._lock.release()
    producer.join(10)
    assert not producer.is_alive()
    snap = q.snapshot()
    assert len(q) == 1 and snap["received"] == 1 and snap["queued_bytes"] == len(encode_held(span)[0]) + HELD_OVERHEAD
