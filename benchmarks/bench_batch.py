"""Stock BatchSpanProcessor vs otelkit SmartBatchSpanProcessor, same session.

Groups (side = stock | otelkit):
* ``batch-on_end-1t`` / ``batch-on_end-4t``: cost of ``on_end`` per call on pre-ended spans,
  no-op exporter, default sizes (what users get: the stock queue of 2048 overflows and pays
  its drop/log path). ``batch-enqueue-1t`` / ``-4t``: the same with a 2M-span queue on both
  sides, so neither drops (the enqueue path itself). Time per round = 20,000 calls.
* ``batch-burst``: 8 threads x 50,000 spans (start + 4 attributes + end), exporter sleeping
  5 ms per call, default sizes; ``extra_info`` has drop %. One round per side.
* ``batch-4t-noop``: 4 threads x 50,000 spans, no-op exporter, defaults; drop %.
* ``batch-low-rate``: spans ended 1 s apart; ``extra_info`` has the median ms from span end to
  export (otelkit 6 spans; stock 4 spans, since it waits up to 5 s).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otelkit.batch import SmartBatchSpanProcessor


class _Exporter(SpanExporter):
    """Thread-safe counting exporter; optional sleep per call; records end->export delays."""

    def __init__(self, sleep_s: float = 0.0, record_delay: bool = False) -> None:
        self.spans = 0
        self.calls = 0
        self.delays_ms: list[float] = []
        self._sleep = sleep_s
        self._record = record_delay
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._sleep:
            time.sleep(self._sleep)
        now = time.time_ns()
        with self._lock:
            self.spans += len(spans)
            self.calls += 1
            if self._record:
                self.delays_ms.extend((now - (s.end_time or now)) / 1e6 for s in spans)
        return SpanExportResult.SUCCESS


def _processor(side: str, exporter: SpanExporter, **kw: Any) -> SpanProcessor:
    if side == "stock":
        return BatchSpanProcessor(exporter, **kw)
    return SmartBatchSpanProcessor(exporter, environ={}, **kw)


def _ended_spans(n: int) -> list[ReadableSpan]:
    provider = TracerProvider()
    tracer = provider.get_tracer("bench")
    spans = []
    for i in range(n):
        span = tracer.start_span("op")
        span.set_attribute("i", i)
        span.end()
        spans.append(span)
    return spans  # type: ignore[return-value]


_BIG = 1 << 21  # no drops on either side: measure the enqueue path


def _on_end_bench(benchmark: Any, side: str, threads: int, big_queue: bool) -> None:
    per_round = 20_000
    spans = _ended_spans(per_round)
    exporter = _Exporter()
    processor = _processor(side, exporter, **({"max_queue_size": _BIG} if big_queue else {}))
    chunks = [spans[i::threads] for i in range(threads)]

    def one_thread(chunk: list[ReadableSpan]) -> None:
        on_end = processor.on_end
        for span in chunk:
            on_end(span)

    def run() -> None:
        if threads == 1:
            one_thread(spans)
            return
        workers = [threading.Thread(target=one_thread, args=(c,)) for c in chunks]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    benchmark.extra_info.update({"side": side, "calls_per_round": per_round, "threads": threads})
    benchmark.pedantic(run, rounds=15, iterations=1, warmup_rounds=2)
    processor.shutdown()


@pytest.mark.benchmark(group="batch-on_end-1t")
def test_on_end_1_thread(benchmark: Any, side: str) -> None:
    _on_end_bench(benchmark, side, 1, big_queue=False)


@pytest.mark.benchmark(group="batch-on_end-4t")
def test_on_end_4_threads(benchmark: Any, side: str) -> None:
    _on_end_bench(benchmark, side, 4, big_queue=False)


@pytest.mark.benchmark(group="batch-enqueue-1t")
def test_enqueue_1_thread(benchmark: Any, side: str) -> None:
    _on_end_bench(benchmark, side, 1, big_queue=True)


@pytest.mark.benchmark(group="batch-enqueue-4t")
def test_enqueue_4_threads(benchmark: Any, side: str) -> None:
    _on_end_bench(benchmark, side, 4, big_queue=True)


def _produce(provider: TracerProvider, n: int) -> None:
    tracer = provider.get_tracer("bench")
    for i in range(n):
        span = tracer.start_span("op")
        span.set_attribute("http.route", "/items/{id}")
        span.set_attribute("i", i)
        span.set_attribute("ratio", 0.5)
        span.set_attribute("ok", True)
        span.end()


def _load_bench(benchmark: Any, side: str, threads: int, per_thread: int, sleep_s: float) -> None:
    result: dict[str, Any] = {}

    def run() -> None:
        exporter = _Exporter(sleep_s=sleep_s)
        processor = _processor(side, exporter)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        workers = [threading.Thread(target=_produce, args=(provider, per_thread)) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        provider.shutdown()
        total = threads * per_thread
        result.update(total=total, exported=exporter.spans, calls=exporter.calls,
                      drop_pct=round(100.0 * (total - exporter.spans) / total, 2))
        if side == "otelkit":
            stats = processor.stats()  # type: ignore[attr-defined]
            result.update(dropped_queue_full=stats["dropped_queue_full"], queue_capacity=stats["queue_capacity"])

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({"side": side, **result})


@pytest.mark.benchmark(group="batch-burst")
def test_burst_8_threads_sleepy_exporter(benchmark: Any, side: str) -> None:
    _load_bench(benchmark, side, threads=8, per_thread=50_000, sleep_s=0.005)


@pytest.mark.benchmark(group="batch-4t-noop")
def test_4_threads_noop_exporter(benchmark: Any, side: str) -> None:
    _load_bench(benchmark, side, threads=4, per_thread=50_000, sleep_s=0.0)


@pytest.mark.benchmark(group="batch-low-rate")
def test_low_rate_end_to_export(benchmark: Any, side: str) -> None:
    spans = 6 if side == "otelkit" else 4
    result: dict[str, Any] = {}

    def run() -> None:
        exporter = _Exporter(record_delay=True)
        processor = _processor(side, exporter)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("bench")
        for _ in range(spans):
            tracer.start_span("lone").end()
            time.sleep(1.0)
        if side == "stock":
            deadline = time.monotonic() + 6.0  # let the 5 s schedule delay fire for the rest
            while exporter.spans < spans and time.monotonic() < deadline:
                time.sleep(0.05)
        provider.shutdown()
        result.update(spans=spans, exported_before_shutdown=len(exporter.delays_ms),
                      median_end_to_export_ms=round(statistics.median(exporter.delays_ms), 1),
                      max_end_to_export_ms=round(max(exporter.delays_ms), 1))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({"side": side, **result})
