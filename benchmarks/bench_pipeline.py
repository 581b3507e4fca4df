"""The whole pipeline, stock SDK set-up vs otelkit.configure(), in one session.

* ``pipeline: span lifecycle x2000``: a no-op exporter, so only in-process cost counts
  (span creation dominates both sides; the processors differ by ~1 µs of on_end).
* ``pipeline: create + export 5000 spans``: what a traced service really pays per span,
  creating the spans *and* exporting them over OTLP/HTTP to a 127.0.0.1 sink in another
  process: stock ``ParentBased(ALWAYS_ON)`` + ``BatchSpanProcessor`` + ``OTLPSpanExporter``
  (gzip) against otelkit's defaults (smart batcher + direct encoder, zstd). The stock queue
  is raised to 8192 so it drops nothing and both sides export every span; ``extra_info``
  has process CPU per exported span (all threads) and wire bytes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

import otelkit

sys.path.insert(0, os.path.dirname(__file__))
from _export_peer import sink_process  # noqa: E402

SPANS = 2000
EXPORTED_SPANS = 5000


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _provider(side: str) -> tuple[TracerProvider, object]:
    if side == "stock":
        tp = TracerProvider(sampler=ParentBased(ALWAYS_ON))
        tp.add_span_processor(BatchSpanProcessor(NoopExporter()))
        return tp, tp
    p = otelkit.configure(exporters=[NoopExporter()], set_global=False, environ={"OTEL_TRACES_SAMPLER": "parentbased_always_on"})
    return p.provider, p


def _make_spans(tracer: Any, n: int) -> None:
    for i in range(n):
        span = tracer.start_span("GET /users/{id}")
        span.set_attribute("http.request.method", "GET")
        span.set_attribute("http.route", "/users/{id}")
        span.set_attribute("http.response.status_code", 200)
        span.set_attribute("user.index", i)
        span.end()


@pytest.mark.benchmark(group="pipeline: span lifecycle x2000")
def test_span_lifecycle(benchmark: Any, side: str) -> None:
    tp, handle = _provider(side)
    tracer = tp.get_tracer("bench")
    benchmark.extra_info["side"] = side
    benchmark.pedantic(lambda: _make_spans(tracer, SPANS), rounds=5, iterations=1, warmup_rounds=1)
    handle.shutdown()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def sink_url() -> Any:
    with sink_process() as url:
        yield url


class _Counting(SpanExporter):
    """Counts what the real exporter accepted, so CPU is divided by exported spans."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner, self.exported = inner, 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def stats(self) -> Any:
        return getattr(self.inner, "stats", dict)()


@pytest.mark.benchmark(group="pipeline: create + export 5000 spans")
def test_create_and_export(benchmark: Any, side: str, sink_url: str) -> None:
    if side == "stock":
        exporter = _Counting(OTLPSpanExporter(endpoint=sink_url, compression=Compression.Gzip))
        tp = TracerProvider(sampler=ParentBased(ALWAYS_ON))
        tp.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=8192))
        flush, stop = tp.force_flush, tp.shutdown
    else:
        exporter = _Counting(otelkit.OtlpHttpSpanExporter(endpoint=sink_url, compression="zstd"))
        p = otelkit.configure(exporters=[exporter], set_global=False, environ={"OTEL_TRACES_SAMPLER": "parentbased_always_on"})
        tp, flush, stop = p.provider, p.force_flush, p.shutdown
    tracer = tp.get_tracer("bench")
    cpu: list[float] = []

    def run() -> None:
        before, t0 = exporter.exported, time.process_time()
        _make_spans(tracer, EXPORTED_SPANS)
        assert flush(30000)
        cpu.append((time.process_time() - t0) / max(1, exporter.exported - before) * 1e6)
        assert exporter.exported - before == EXPORTED_SPANS

    benchmark.extra_info["side"] = side
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["process_cpu_us_per_exported_span"] = round(sorted(cpu)[len(cpu) // 2], 2)
    stats = exporter.stats()
    if stats.get("spans_exported"):
        benchmark.extra_info["wire_bytes_per_span"] = round(stats["wire_bytes"] / stats["spans_exported"], 1)
    stop()
