"""One pipeline variant measured in its own process (run by ``bench_pipeline.py --compare``).

``python _pipeline_worker.py sink PORT`` is the 127.0.0.1 OTLP sink: it decodes each body
(gzip, zstd, deflate or none), counts spans, and answers 200. ``POST /mode`` with a JSON
``{"us_per_span": X}`` makes it a receiver of fixed capacity (one request at a time, X µs
per span: the sustained-overload case); ``GET /count`` returns ``{"requests", "spans"}``.

``python _pipeline_worker.py run JSON`` builds one variant (``floor``, ``stock``,
``stock_bigq`` (queue of 65536: drops nothing), ``otelkit``, ``otelkit_gzip``, ``fastotel``, ``fastotel_none``), runs one measurement
(``cpu``, ``rss`` or ``overload``) and prints one JSON line. A variant ending in ``_lean``
(``otelkit_lean``) creates its spans with ``span_floor.py``'s lean tracer over the same
pipeline: the upper bound of a lighter pure-Python span, which is not shipped
(``docs/fast-spans.md``); it answers "what would the rows be with a lighter span".
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# ---------------------------------------------------------------------------- sink


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts = {"requests": 0, "spans": 0}
    us_per_span = 0.0
    slow = threading.Lock()  # serialises slow replies: a receiver of fixed capacity
    count_lock = threading.Lock()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _reply(self, body: bytes = b"") -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        with self.count_lock:
            body = json.dumps(self.counts).encode()
        self._reply(body)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/mode":
            type(self).us_per_span = float(json.loads(body)["us_per_span"])
            self._reply()
            return
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = zlib.decompress(body, 31)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "zstd":
            import zstandard

            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        req = ExportTraceServiceRequest.FromString(body)
        n = sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
        if self.us_per_span:
            with self.slow:
                time.sleep(n * self.us_per_span / 1e6)
        with self.count_lock:
            self.counts["requests"] += 1
            self.counts["spans"] += n
        self._reply()


def sink_counts(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url.replace("/v1/traces", "/count"), timeout=10) as resp:
        return dict(json.loads(resp.read()))


# ---------------------------------------------------------------------------- variants

NAMES = ("GET /api/v1/orders/{id}", "POST /api/v1/orders", "GET /api/v1/users/{id}")


def _provider(variant: str, endpoint: str, queue: int | None) -> tuple[Any, Any, Any]:
    """(provider, flush(timeout_ms), stats()) of one variant."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

    if variant == "floor":
        tp = TracerProvider(sampler=ParentBased(ALWAYS_ON))
        return tp, lambda ms: True, dict
    if variant.startswith("stock"):
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tp = TracerProvider(sampler=ParentBased(ALWAYS_ON))
        if variant == "stock_bigq":  # a queue that holds a whole run: stock drops nothing
            queue = queue or 65536
        kw = {"max_queue_size": queue} if queue else {}
        tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, compression=Compression.Gzip), **kw))
        return tp, tp.force_flush, dict
    if variant.startswith("fastotel"):
        from fastotel import OTLPSpanProcessor

        tp = TracerProvider(sampler=ParentBased(ALWAYS_ON))
        proc = OTLPSpanProcessor(endpoint=endpoint, compression="none" if variant.endswith("none") else "gzip",
                                 **({"max_queue_size": queue} if queue else {}))
        tp.add_span_processor(proc)
        native = proc._native
        return tp, tp.force_flush, lambda: {"dropped": native.dropped_spans(), "failed": native.failed_spans()}
    import otelkit

    env = {
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip" if variant.endswith("gzip") else "zstd",
        "OTELKIT_TAIL_ENABLED": "false",
        "OTELKIT_SELF_METRICS": "false",
        "OTEL_SERVICE_NAME": "bench",
    }
    if queue:
        env["OTEL_BSP_MAX_QUEUE_SIZE"] = str(queue)
    p = otelkit.configure(set_global=False, environ=env)
    return p.provider, p.force_flush, lambda: {k: v for proc in p.processors
                                               for k, v in getattr(proc, "stats", dict)().items()
                                               if k.startswith(("dropped", "spans_"))}


def lean_tracer(tracer: Any) -> Any:
    """``span_floor.py``'s lean tracer (the upper bound, not shipped) over ``tracer``'s
    sampler, resource, processors and limits."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from span_floor import _LeanTracer

    t = tracer
    return _LeanTracer(t.sampler, t.resource, t.span_processor, t.id_generator, t.instrumentation_info,
                       t._span_limits, t._instrumentation_scope)


def make_spans(tracer: Any, n: int, offset: int = 0) -> None:
    """The issue-14 workload: a span with 10 attributes (5 at start, 5 set later) + 1 event."""
    from opentelemetry.trace import SpanKind

    for i in range(offset, offset + n):
        span = tracer.start_span(NAMES[i % 3], kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "url.scheme": "https", "server.address": "shop.example.com",
            "server.port": 443, "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
        })
        span.set_attribute("url.path", f"/api/v1/orders/{i}")
        span.set_attribute("http.route", "/api/v1/orders/{id}")
        span.set_attribute("http.response.status_code", 200)
        span.set_attribute("otelkit.cache_hit", i % 2 == 0)
        span.set_attribute("app.order.total", i * 0.5)
        span.add_event("request.received", {"bytes": i % 10000, "queue": "default"})
        span.end()


def _produce(tracer: Any, spans: int, threads: int) -> float:
    """Create ``spans`` on ``threads`` producer threads; return summed caller-thread CPU (s)."""
    per = spans // threads
    cpu = [0.0] * threads

    def work(k: int) -> None:
        t0 = time.thread_time()
        make_spans(tracer, per, k * per)
        cpu[k] = time.thread_time() - t0

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(cpu)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    variant, mode, endpoint = cfg["variant"], cfg["mode"], cfg["endpoint"]
    spans, threads = int(cfg["spans"]), int(cfg.get("threads", 1))
    queue = cfg.get("queue")
    lean = variant.endswith("_lean")
    tp, flush, stats = _provider(variant.removesuffix("_lean"), endpoint, queue)
    tracer = tp.get_tracer("bench", "1.0")
    if lean:
        tracer = lean_tracer(tracer)
    out: dict[str, Any] = {"variant": variant, "mode": mode, "threads": threads, "spans": spans}
    if mode == "rss":  # the sink never answers in time: every span stays held
        make_spans(tracer, 200)  # warm caches and lazy imports
        gc.collect()
        before = _rss()
        make_spans(tracer, spans)
        gc.collect()
        out["rss_bytes_per_held_span"] = (_rss() - before) / spans
        out["held"] = spans
        os._exit(_emit(out))
    make_spans(tracer, 500)  # warm-up, exported and not counted
    flush(30000)
    base = sink_counts(endpoint)["spans"] if variant != "floor" else 0
    gc_time = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":  # a collection runs in one thread, holding the GIL: its CPU is thread time
            gc_time[1] = time.thread_time()
        else:
            gc_time[0] += time.thread_time() - gc_time[1]

    gc.callbacks.append(on_gc)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    caller = _produce(tracer, spans, threads)
    produced_wall = time.perf_counter() - wall0
    peak = _rss()
    flushed = flush(int(cfg.get("flush_ms", 60000)))
    cpu = time.process_time() - cpu0
    gc.callbacks.remove(on_gc)
    exported = spans if variant == "floor" else sink_counts(endpoint)["spans"] - base
    out.update(
        cpu_us_per_exported_span=cpu / max(1, exported) * 1e6,
        cpu_us_per_created_span=cpu / spans * 1e6,
        caller_us_per_span=caller / spans * 1e6,
        gc_pct=100.0 * gc_time[0] / cpu if cpu else 0.0,
        exported=exported,
        dropped_pct=100.0 * (spans - exported) / spans,
        produce_wall_s=produced_wall,
        peak_rss_mb=peak / 2**20,
        flushed=bool(flushed),
        stats=stats(),
    )
    os._exit(_emit(out))


def _emit(out: dict[str, Any]) -> int:
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), _Sink).serve_forever()
    else:
        run(json.loads(sys.argv[2]))
