"""Memory bounds of the tail processor: span/byte caps, per-trace cap, overflow modes."""

from __future__ import annotations

import gc
import random
import tracemalloc

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags

from otelkit.tail import AlwaysSamplePolicy, RecordForTailSampler, StatusCodePolicy, TailSamplingProcessor


def _make(clock, **kw):
    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(SimpleSpanProcessor(exporter), [AlwaysSamplePolicy()], clock=clock,
                                 start_worker=False, self_metrics=False, **kw)
    return proc, exporter


def test_storm_of_long_lived_traces_stays_under_caps(clock) -> None:
    """20k spans of 5k never-finishing traces from the real SDK tracer: the buffer holds at
    most the configured bytes (tracemalloc agrees), evictions are counted, nothing leaks."""
    max_bytes = 2 * 1024 * 1024
    proc, exporter = _make(clock, max_spans=5000, max_bytes=max_bytes, overflow="evict", decision_cache_size=1000)
    provider = TracerProvider(sampler=RecordForTailSampler(ALWAYS_OFF))
    provider.add_span_processor(proc)
    tracer = provider.get_tracer("storm")
    rng = random.Random(5)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    peak_buffered = 0
    total = 0
    for _ in range(5000):
        parent = SpanContext(rng.getrandbits(128), rng.getrandbits(64) or 1, False, TraceFlags(0))
        ctx = trace.set_span_in_context(NonRecordingSpan(parent))  # a local parent that never ends
        for k in range(4):
            with tracer.start_as_current_span("work", context=ctx) as span:
                span.set_attribute("job.step", k)
                span.set_attribute("job.payload", "x" * 64)
            total += 1
        peak_buffered = max(peak_buffered, proc.stats()["buffered_bytes"])
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    stats = proc.stats()
    assert peak_buffered <= max_bytes
    assert stats["buffered_spans"] <= 5000
    assert stats["evicted_traces"] > 0
    assert stats["spans_dropped"] + stats["buffered_spans"] == total
    # what is really held: the buffered spans (estimate within 25%) + the 1000-entry caches
    assert held <= max_bytes * 1.25 + 512 * 1024
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(("overflow", "early", "evicted"), [("decide", 1, 0), ("evict", 0, 1)])
def test_oversize_trace_is_decided_early_or_evicted(clock, span, overflow, early, evicted) -> None:
    proc, exporter = _make(clock, max_spans_per_trace=3, overflow=overflow)
    for i in range(4):
        proc.on_end(span(trace_id=1, span_id=i + 2, parent_id=1))
    proc.process_due()  # no time has passed: only the forced decision happens
    stats = proc.stats()
    assert (stats["decided_early"], stats["evicted_traces"]) == (early, evicted)
    assert len(exporter.get_finished_spans()) == (4 if early else 0)
    proc.on_end(span(trace_id=1, span_id=9, parent_id=1))  # later spans follow
    assert len(exporter.get_finished_spans()) == (5 if early else 0)


def test_decide_mode_keeps_errors_under_span_pressure(clock, span) -> None:
    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(SimpleSpanProcessor(exporter), [StatusCodePolicy(["ERROR"])], clock=clock,
                                 start_worker=False, self_metrics=False, max_spans=10, overflow="decide")
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1, status=StatusCode.ERROR))
    for tid in range(2, 30):
        proc.on_end(span(trace_id=tid, span_id=2, parent_id=1))
    assert proc.stats()["buffered_spans"] <= 10
    assert proc.stats()["awaiting_decision_spans"] == 10  # at most max_spans wait for the worker
    proc.process_due()  # decides the 10 early ones; the 10 buffered are not due yet
    proc.process_due(everything=True)
    assert [s.context.trace_id for s in exporter.get_finished_spans()] == [1]
    stats = proc.stats()
    # 10 buffered + 10 awaiting the (stopped) worker; beyond that the oldest are evicted
    assert (stats["buffered_traces"], stats["decided_early"], stats["evicted_traces"]) == (0, 10, 9)


def test_byte_cap_evicts_oldest_first(clock, span) -> None:
    proc, _ = _make(clock, max_bytes=20_000, overflow="evict")
    for tid in range(1, 11):
        proc.on_end(span(trace_id=tid, span_id=2, parent_id=1, attributes={"a": "y" * 3000}))
    stats = proc.stats()
    assert stats["buffered_bytes"] <= 20_000
    assert stats["evicted_traces"] == 10 - stats["buffered_traces"]
    proc.on_end(span(trace_id=1, span_id=3, parent_id=1))  # trace 1 was evicted: its spans stay dropped
    assert proc.stats()["late_spans_dropped"] == 1
