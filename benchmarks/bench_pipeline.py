"""The whole pipeline, stock SDK set-up vs otelkit.configure() (vs fastotel), in one session.

Run as a script it is the issue-14 comparison, each variant in its own process, rounds
interleaved (stock BSP + OTLP gzip, otelkit, fastotel gzip/none, and the no-processor
floor), on 30k spans of 10 attributes + 1 event exported over OTLP/HTTP to a 127.0.0.1
sink, on 1/2/4 producer threads; it prints medians [min-max] of process CPU per exported
span, caller-thread CPU per span, GC share, drops; RSS per held span (sink stalled); and
drops under sustained overload (a receiver taking 50 ms per 128 spans)::

    python benchmarks/bench_pipeline.py --rounds 5            # everything, ~10 min
    python benchmarks/bench_pipeline.py --rounds 3 --threads 1 --skip rss,overload

The otelkit variant is whatever ``otelkit.configure()`` builds (``SmartBatchSpanProcessor``
+ ``OtlpHttpSpanExporter``), so the numbers follow the batcher as it changes.

Under pytest:

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

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
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


# ---------------------------------------------------------------- script: the issue-14 comparison

_HERE = os.path.dirname(os.path.abspath(__file__))
_WORKER = os.path.join(_HERE, "_pipeline_worker.py")
VARIANTS = ("floor", "stock", "stock_bigq", "otelkit", "otelkit_gzip", "fastotel", "fastotel_none")


def _start_sink() -> tuple[subprocess.Popen[bytes], str]:
    from otelkit.testing import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, _WORKER, "sink", str(port)])
    wait_for_port(port, 10.0, proc)
    return proc, f"http://127.0.0.1:{port}/v1/traces"


def _sink_mode(url: str, us_per_span: float) -> None:
    req = urllib.request.Request(url.replace("/v1/traces", "/mode"), data=json.dumps({"us_per_span": us_per_span}).encode())
    urllib.request.urlopen(req, timeout=10).read()


def _worker(cfg: dict[str, object]) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    variant = str(cfg["variant"])
    if "@" in variant:  # "otelkit@DIR": the otelkit package found in DIR (another checkout)
        cfg = {**cfg, "variant": variant.split("@", 1)[0]}
        env.update(PYTHONPATH=variant.split("@", 1)[1], PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, _WORKER, "run", json.dumps(cfg)], capture_output=True, timeout=300, env=env)
    lines = [ln for ln in out.stdout.decode().splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"{cfg}: no result\n{out.stderr.decode()[-2000:]}")
    return dict(json.loads(lines[-1]))


def _fmt(values: list[float], digits: int = 1) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def _table(title: str, rows: dict[str, list[dict[str, object]]], cols: list[tuple[str, str, int]]) -> None:
    print(f"\n### {title}\n")
    print("| variant | " + " | ".join(h for h, _, _ in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for variant, results in rows.items():
        cells = [_fmt([float(r[k]) for r in results if k in r], d) for _, k, d in cols]  # type: ignore[arg-type]
        print(f"| {variant} | " + " | ".join(cells) + " |")


RATIOS = (("otelkit", "stock_bigq"), ("otelkit", "fastotel"), ("otelkit_lean", "fastotel"),
          ("otelkit_lean", "stock_bigq"), ("otelkit_gzip", "fastotel"),
          ("otelkit_gzip", "stock_bigq"), ("otelkit", "stock"))
"""The issue-14 ratios of CPU per exported span, where both variants ran."""


def _ratios(rows: dict[str, list[dict[str, object]]]) -> None:
    """Each ratio of :data:`RATIOS` per round (the two variants of a pair ran back to back in
    that round, so the machine's drift cancels): median [min-max] over the rounds."""
    lines = []
    for a, b in RATIOS:
        if rows.get(a) and rows.get(b):
            key = "cpu_us_per_exported_span"
            per_round = [float(x[key]) / float(y[key]) for x, y in zip(rows[a], rows[b], strict=True)]  # type: ignore[arg-type]
            lines.append(f"| {a} / {b} | {_fmt(per_round, 3)} |")
    if lines:
        print("\n| CPU per exported span, per-round ratio | median [min-max] |\n|---|---|")
        print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--spans", type=int, default=30_000)
    ap.add_argument("--threads", default="1,2,4")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma list; 'otelkit@DIR' runs the otelkit package found in DIR (e.g. another branch); "
                         "'otelkit_lean' creates the spans with span_floor.py's lean tracer (an upper bound, not shipped)")
    ap.add_argument("--skip", default="", help="comma list of: cpu, rss, overload")
    ap.add_argument("--json", help="write every raw result here")
    args = ap.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if any(v.startswith("fastotel") for v in variants):
        try:
            import fastotel  # noqa: F401
        except ImportError:
            print("fastotel is not installed (pip install 'otelkit[dev]'); skipping its variants")
            variants = [v for v in variants if not v.startswith("fastotel")]
    skip = set(args.skip.split(","))
    raw: list[dict[str, object]] = []
    print(f"pipeline comparison: {args.spans} spans/run, {args.rounds} interleaved rounds, "
          f"cpus={os.cpu_count()}, loadavg={os.getloadavg()[0]:.2f}")
    sink, url = _start_sink()
    try:
        if "cpu" not in skip:
            for threads in [int(t) for t in args.threads.split(",")]:
                rows: dict[str, list[dict[str, object]]] = {v: [] for v in variants}
                for _ in range(args.rounds):
                    for v in variants:
                        r = _worker({"variant": v, "mode": "cpu", "endpoint": url, "spans": args.spans, "threads": threads})
                        rows[v].append(r)
                        raw.append({**r, "variant": v})
                _table(f"{threads} producer thread(s): per span, µs (median [min-max])", rows, [
                    ("CPU/exported span", "cpu_us_per_exported_span", 1),
                    ("CPU/created span", "cpu_us_per_created_span", 1),
                    ("caller thread/span", "caller_us_per_span", 1),
                    ("GC share %", "gc_pct", 1),
                    ("dropped %", "dropped_pct", 1),
                ])
                _ratios(rows)
        if "overload" not in skip:
            _sink_mode(url, 50_000 / 128)
            rows = {v: [] for v in variants if v != "floor"}
            for _ in range(max(1, args.rounds // 2)):
                for v in rows:
                    r = _worker({"variant": v, "mode": "cpu", "endpoint": url, "spans": args.spans, "flush_ms": 60000})
                    rows[v].append(r)
                    raw.append({**r, "mode": "overload"})
            _table("sustained overload: receiver at 50 ms per 128 spans, default queues", rows, [
                ("dropped %", "dropped_pct", 1), ("peak RSS MB", "peak_rss_mb", 0),
                ("CPU/created span µs", "cpu_us_per_created_span", 1),
            ])
            _sink_mode(url, 0)
    finally:
        sink.terminate()
        sink.wait(10)
    if "rss" not in skip:
        stalled, surl = _start_sink()
        try:
            _sink_mode(surl, 1e6)  # a second per span: nothing comes back while we measure
            n = min(args.spans, 20_000)
            rows = {v: [] for v in variants if v != "floor"}
            for _ in range(max(1, args.rounds // 2)):
                for v in rows:
                    r = _worker({"variant": v, "mode": "rss", "endpoint": surl, "spans": n, "queue": n + 1000})
                    rows[v].append(r)
                    raw.append(r)
            _table(f"RSS per held span ({n} spans held, sink stalled), bytes", rows,
                   [("RSS/held span", "rss_bytes_per_held_span", 0)])
        finally:
            stalled.terminate()
            stalled.wait(10)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
