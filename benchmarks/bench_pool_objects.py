"""Does ObjectPool pay? With and without it, same session (side "stock" = no pool, "otelkit" = pool).

Groups:
* ``pool-record-micro``: one per-trace record (a tail-sampler-like ``__slots__`` object holding a
  span list) built and dropped vs acquired and released.
* ``pool-batch-list-micro``: a 512-span batch list built from the queue vs a pooled list refilled.
* ``pool-e2e``: the end-to-end path - 8,000 spans (2,000 traces x 4) created, grouped per trace
  into records (what the tail sampler keeps) and handed on to a no-op exporter. ``extra_info``
  carries tracemalloc peak KiB and gen-0 GC collections per round.
* ``pool-e2e-batched``: the same, handed to SmartBatchSpanProcessor (its worker thread adds
  scheduling noise, so this group varies more between runs).

Decision rule (issue 4): on by default only with >= 10% less CPU or >= 20% fewer allocations
end to end.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import set_span_in_context

from otelkit.batch import SmartBatchSpanProcessor


def _load_objects() -> ModuleType:
    try:  # otelkit.pool also imports otelkit.pool.buffer (another branch); load by path until merged
        return importlib.import_module("otelkit.pool.objects")
    except ImportError:
        path = Path(__file__).resolve().parents[1] / "otelkit" / "pool" / "objects.py"
        spec = importlib.util.spec_from_file_location("_otelkit_pool_objects", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


ObjectPool: Any = _load_objects().ObjectPool
POOLED = {"stock": False, "otelkit": True}  # "stock" side = without the pool


class _Record:
    __slots__ = ("trace_id", "spans", "first_ns", "errors", "root_seen")

    def __init__(self) -> None:
        self.trace_id = 0
        self.spans: list[ReadableSpan] = []
        self.first_ns = 0
        self.errors = 0
        self.root_seen = False


def _reset(record: _Record) -> None:
    record.trace_id = 0
    record.spans.clear()
    record.first_ns = 0
    record.errors = 0
    record.root_seen = False


class _TraceRecords(SpanProcessor):
    """Tail-sampler-like stage: keep spans per trace in a record, release it at the root's end."""

    def __init__(self, downstream: SpanProcessor, pooled: bool) -> None:
        self._down = downstream
        self._records: dict[int, _Record] = {}
        self._pool = ObjectPool(_Record, _reset, max_free=4096) if pooled else None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        tid = span.context.trace_id  # type: ignore[union-attr]
        record = self._records.get(tid)
        if record is None:
            record = self._pool.acquire() if self._pool is not None else _Record()
            record.trace_id = tid
            self._records[tid] = record
        record.spans.append(span)
        if span.parent is None:
            del self._records[tid]
            for kept in record.spans:
                self._down.on_end(kept)
            if self._pool is not None:
                self._pool.release(record)

    def shutdown(self) -> None:
        self._down.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._down.force_flush(timeout_millis)


class _NoOp(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _Direct(SpanProcessor):
    """Synchronous hand-off to a no-op exporter (no thread: a steadier measurement)."""

    def __init__(self) -> None:
        self._exporter = _NoOp()

    def on_end(self, span: ReadableSpan) -> None:
        self._exporter.export((span,))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _e2e_round(pooled: bool, batched: bool) -> Callable[[], None]:
    provider = TracerProvider()
    batcher: SpanProcessor
    if batched:
        batcher = SmartBatchSpanProcessor(_NoOp(), environ={}, self_metrics=False)
    else:
        batcher = _Direct()
    provider.add_span_processor(_TraceRecords(batcher, pooled))
    tracer = provider.get_tracer("bench")

    def run() -> None:
        for _ in range(2000):
            root = tracer.start_span("root")
            ctx = set_span_in_context(root)
            for _ in range(3):
                tracer.start_span("child", context=ctx).end()
            root.end()
        batcher.force_flush(30_000)

    run.provider = provider  # type: ignore[attr-defined]
    return run


def _alloc_profile(fn: Callable[[], None]) -> dict[str, float]:
    gc.collect()
    before = gc.get_stats()[0]["collections"]
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"tracemalloc_peak_kib": round(peak / 1024, 1), "gen0_collections": gc.get_stats()[0]["collections"] - before}


def _e2e(benchmark: Any, side: str, batched: bool) -> None:
    run = _e2e_round(POOLED[side], batched)
    run()  # warm: fill the pool and the exporter path
    benchmark.extra_info.update(_alloc_profile(run))
    benchmark.extra_info["spans_per_round"] = 8000
    benchmark.pedantic(run, rounds=9, iterations=1, warmup_rounds=1)
    run.provider.shutdown()  # type: ignore[attr-defined]


@pytest.mark.benchmark(group="pool-e2e")
def test_pool_e2e(benchmark: Any, side: str) -> None:
    _e2e(benchmark, side, batched=False)


@pytest.mark.benchmark(group="pool-e2e-batched")
def test_pool_e2e_batched(benchmark: Any, side: str) -> None:
    _e2e(benchmark, side, batched=True)


@pytest.mark.benchmark(group="pool-record-micro")
def test_pool_record_micro(benchmark: Any, side: str) -> None:
    pool = ObjectPool(_Record, _reset)

    def plain() -> None:
        for _ in range(1000):
            r = _Record()
            r.spans.append(None)  # type: ignore[arg-type]

    def pooled() -> None:
        for _ in range(1000):
            r = pool.acquire()
            r.spans.append(None)  # type: ignore[arg-type]
            pool.release(r)

    fn = pooled if POOLED[side] else plain
    benchmark.extra_info.update(_alloc_profile(fn))
    benchmark(fn)


@pytest.mark.benchmark(group="pool-batch-list-micro")
def test_pool_batch_list_micro(benchmark: Any, side: str) -> None:
    items = list(range(512))
    pool = ObjectPool(list, list.clear)

    def plain() -> None:
        q = deque(items)
        batch = [q.popleft() for _ in range(512)]
        del batch

    def pooled() -> None:
        q = deque(items)
        batch = pool.acquire()
        batch.extend(q.popleft() for _ in range(512))
        pool.release(batch)

    fn = pooled if POOLED[side] else plain
    benchmark.extra_info.update(_alloc_profile(fn))
    benchmark(fn)


@pytest.mark.benchmark(group="pool-e2e-interleaved")
def test_pool_e2e_interleaved(benchmark: Any) -> None:
    """Pool and no-pool rounds alternated in one loop (both see the same machine noise);
    records the median of per-pair CPU ratios (pool / no pool) in extra_info."""
    plain, pooled = _e2e_round(False, False), _e2e_round(True, False)
    plain(), pooled()
    ratios: list[float] = []

    def pairs() -> None:
        for _ in range(15):
            t0 = time.process_time()
            plain()
            t1 = time.process_time()
            pooled()
            t2 = time.process_time()
            ratios.append((t2 - t1) / (t1 - t0))

    benchmark.pedantic(pairs, rounds=1, iterations=1)
    ratios.sort()
    benchmark.extra_info.update(cpu_ratio_pool_over_plain_median=round(ratios[len(ratios) // 2], 3),
                                cpu_ratio_min=round(ratios[0], 3), cpu_ratio_max=round(ratios[-1], 3))
