"""Does the BufferPool pay for itself end to end? (the pooling gate of issue 4)

Each group runs the otelkit OTLP/HTTP exporter with the buffer pool off and on, POSTing
the same batch to a sink in a separate process. ``extra_info`` carries the exporting
thread's CPU per span and, from a separate traced run (``tracemalloc`` is slow, so it is
never on while timing), the bytes newly allocated at peak per export call and the number
of allocated blocks still live per call. The pool ships on by default only with >= 10%
less CPU or >= 20% fewer allocations (docs/pools.md).

The ``side`` tag is not used here (there is no stock piece): compare ``[off]`` and ``[on]``.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.pool.buffer import BufferPool

sys.path.insert(0, str(Path(__file__).parent))
from _export_peer import realistic_batch, sink_process  # noqa: E402

BATCHES = {512: realistic_batch(512), 4096: realistic_batch(4096, seed=3)}
ROUNDS = {512: 30, 4096: 8}


@pytest.fixture(scope="module")
def sink_url() -> Iterator[str]:
    with sink_process() as url:
        yield url


def _traced_peak(exp: OtlpHttpSpanExporter, spans: list[Any], calls: int = 5) -> float:
    tracemalloc.start()
    try:
        peaks = []
        for _ in range(calls):
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            exp.export(spans)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        return sorted(peaks)[len(peaks) // 2]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("compression", ["none", "zstd"])
@pytest.mark.parametrize("size", [512, 4096])
@pytest.mark.parametrize("pool", ["off", "on"])
def test_export_with_buffer_pool(benchmark: Any, pool: str, size: int, compression: str, sink_url: str) -> None:
    benchmark.group = f"buffer pool: export {size} spans, {compression}"
    spans = BATCHES[size]
    exp = OtlpHttpSpanExporter(
        endpoint=sink_url, compression=compression, buffer_pool=BufferPool() if pool == "on" else False,
        max_request_bytes=64 << 20, environ={"OTELKIT_SELF_METRICS": "false"},
    )
    for _ in range(2):
        assert exp.export(spans) == SpanExportResult.SUCCESS
    cpu = [0.0]

    def run() -> None:
        t0 = time.thread_time()
        exp.export(spans)
        cpu[0] += time.thread_time() - t0

    benchmark.pedantic(run, rounds=ROUNDS[size], iterations=1)
    benchmark.extra_info["cpu_us_per_span"] = round(cpu[0] / (ROUNDS[size] * size) * 1e6, 2)
    benchmark.extra_info["peak_new_bytes_per_call"] = int(_traced_peak(exp, spans))
    exp.shutdown()


@pytest.mark.parametrize("size", [512, 4096])
def test_interleaved_cpu_off_vs_on(benchmark: Any, size: int, sink_url: str) -> None:
    """Pool off and on alternating call by call in one process: the fairest CPU comparison
    on a noisy box. ``extra_info`` has the median CPU µs/span of each and on/off ratios."""
    benchmark.group = f"buffer pool: interleaved CPU A/B, {size} spans"
    spans = BATCHES[size]
    exporters = {
        f"{pool}-{codec}": OtlpHttpSpanExporter(
            endpoint=sink_url, compression=codec, buffer_pool=BufferPool() if pool == "on" else False,
            max_request_bytes=64 << 20, environ={"OTELKIT_SELF_METRICS": "false"},
        )
        for pool in ("off", "on")
        for codec in ("none", "zstd")
    }
    samples: dict[str, list[float]] = {k: [] for k in exporters}
    for exp in exporters.values():
        exp.export(spans)

    def run() -> None:
        for key, exp in exporters.items():
            t0 = time.thread_time()
            exp.export(spans)
            samples[key].append((time.thread_time() - t0) / size * 1e6)

    benchmark.pedantic(run, rounds=ROUNDS[size], iterations=1)
    med = {k: sorted(v)[len(v) // 2] for k, v in samples.items()}
    benchmark.extra_info.update({f"cpu_us_per_span_{k}": round(v, 2) for k, v in med.items()})
    benchmark.extra_info["on_off_none"] = round(med["on-none"] / med["off-none"], 3)
    benchmark.extra_info["on_off_zstd"] = round(med["on-zstd"] / med["off-zstd"], 3)
    for exp in exporters.values():
        exp.shutdown()
