"""OTLP export cost: the encoder alone, and the whole export call (encode + compress + POST).

Groups (stock vs otelkit in each, same batch, same session):

* ``encode 512 spans``: stock ``encode_spans(spans).SerializeToString()`` vs
  ``SpanEncoder().encode(spans)``. Goal: otelkit >= 5x faster.
* ``export call per span (zstd vs stock gzip)``: stock ``OTLPSpanExporter(compression=Gzip)``
  vs otelkit with zstd; ``export call per span (gzip)``: the same stock run vs otelkit gzip-6.
  Each POSTs 512 spans to a sink in a separate process; ``extra_info`` has the exporting
  thread's CPU per span (``time.thread_time``) and wire bytes per span. Goals: zstd CPU/span
  <= 0.2x stock gzip; wire bytes within 10% of stock gzip.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter.encoder import SpanEncoder
from otelkit.exporter.http import OtlpHttpSpanExporter

sys.path.insert(0, str(Path(__file__).parent))
from _export_peer import realistic_batch, sink_process  # noqa: E402

SPANS = realistic_batch(512)
ROUNDS = 25


@pytest.fixture(scope="module")
def sink_url() -> Iterator[str]:
    with sink_process() as url:
        yield url


@pytest.mark.benchmark(group="encode 512 spans")
def test_encode(benchmark: Any, side: str) -> None:
    if side == "stock":
        def run() -> bytes:
            return bytes(encode_spans(SPANS).SerializeToString())
    else:
        encoder = SpanEncoder()

        def run() -> bytes:
            return encoder.encode(SPANS)

    cpu = [0.0]

    def timed() -> bytes:
        t0 = time.thread_time()
        out = run()
        cpu[0] += time.thread_time() - t0
        return out

    benchmark.extra_info["side"] = side
    out = benchmark.pedantic(timed, rounds=30, iterations=1)
    benchmark.extra_info["cpu_us_per_span"] = round(cpu[0] / (30 * len(SPANS)) * 1e6, 2)
    benchmark.extra_info["bytes_per_span"] = round(len(out) / len(SPANS), 1)


def _exporter(kind: str, url: str) -> Any:
    env = {"OTELKIT_SELF_METRICS": "false"}
    if kind == "stock-gzip":
        return OTLPSpanExporter(endpoint=url, compression=Compression.Gzip)
    return OtlpHttpSpanExporter(endpoint=url, compression=kind.split("-")[1], environ=env)


def _bench_export(benchmark: Any, kind: str, url: str) -> None:
    exp = _exporter(kind, url)
    for _ in range(3):
        assert exp.export(SPANS) == SpanExportResult.SUCCESS
    cpu = [0.0]

    def run() -> None:
        t0 = time.thread_time()
        exp.export(SPANS)
        cpu[0] += time.thread_time() - t0

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info["side"] = "stock" if kind.startswith("stock") else "otelkit"
    benchmark.extra_info["cpu_us_per_span"] = round(cpu[0] / (ROUNDS * len(SPANS)) * 1e6, 2)
    if isinstance(exp, OtlpHttpSpanExporter):
        stats = exp.stats()
        benchmark.extra_info["wire_bytes_per_span"] = round(stats["wire_bytes"] / stats["spans_exported"], 1)
    else:
        import gzip as _gzip

        body = encode_spans(SPANS).SerializeToString()
        # the stock exporter gzips with GzipFile at level 9
        benchmark.extra_info["wire_bytes_per_span"] = round(len(_gzip.compress(body, 9)) / len(SPANS), 1)
    exp.shutdown()


@pytest.mark.benchmark(group="export call per span (zstd vs stock gzip)")
@pytest.mark.parametrize("kind", [pytest.param("stock-gzip", id="stock"), pytest.param("otelkit-zstd", id="otelkit")])
def test_export_call(benchmark: Any, kind: str, sink_url: str) -> None:
    _bench_export(benchmark, kind, sink_url)


@pytest.mark.benchmark(group="export call per span (gzip)")
@pytest.mark.parametrize("kind", [pytest.param("stock-gzip", id="stock"), pytest.param("otelkit-gzip", id="otelkit")])
def test_export_call_gzip(benchmark: Any, kind: str, sink_url: str) -> None:
    _bench_export(benchmark, kind, sink_url)
