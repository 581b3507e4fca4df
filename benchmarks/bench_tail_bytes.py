"""Tail sampling on, whole process: CPU per created span, this tree vs another (issue 14).

Runs the otelkit pipeline (``otelkit.configure``: head sampler 10% wrapped in
``RecordForTailSampler``, default tail policies errors + slow + head_sampled, the smart
batcher, the OTLP/HTTP exporter with gzip) against a 127.0.0.1 sink, each variant in its own
process with ``PYTHONPATH`` at its tree, in interleaved rounds; reports the median and range
of the process CPU per created span (creation, tail, decisions, export) and the ratio.

Workload: traces of 5 spans (a server root and 4 children, 10 attributes + 1 event on the
root, 4 attributes on each child), 2% of roots with an error status.

Usage::

    git worktree add /tmp/base ef52c48            # "today's" tree, once
    python benchmarks/bench_tail_bytes.py --base /tmp/base [--rounds 5] [--spans 20000] [--lean]

``--lean`` adds a third variant: this tree with its spans created by ``span_floor.py``'s lean
tracer (the upper bound of a lighter pure-Python span, not shipped: ``docs/fast-spans.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _produce(tracer: Any, traces: int) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    for i in range(traces):
        root = tracer.start_span("GET /api/v1/orders/{id}", kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "url.scheme": "https", "server.address": "shop.example.com",
            "server.port": 443, "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
        })
        root.set_attribute("url.path", f"/api/v1/orders/{i}")
        root.set_attribute("http.route", "/api/v1/orders/{id}")
        root.set_attribute("http.response.status_code", 500 if i % 50 == 0 else 200)
        root.set_attribute("otelkit.cache_hit", i % 2 == 0)
        root.set_attribute("app.order.total", i * 0.5)
        root.add_event("request.received", {"bytes": i % 10000, "queue": "default"})
        ctx = trace.set_span_in_context(root)
        for k in range(4):
            child = tracer.start_span(("db.query", "cache.get", "render", "auth")[k], context=ctx,
                                      attributes={"db.system": "postgresql", "step": k,
                                                  "db.statement": "SELECT * FROM orders WHERE id = ?",
                                                  "ok": True})
            child.end()
        if i % 50 == 0:
            root.set_status(Status(StatusCode.ERROR, "boom"))
        root.end()


def worker(endpoint: str, spans: int, lean: bool = False) -> dict[str, Any]:
    import otelkit

    env = {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTELKIT_TAIL_ENABLED": "true",
        "OTELKIT_SELF_METRICS": "false",
        "OTEL_SERVICE_NAME": "bench",
    }
    pipeline = otelkit.configure(set_global=False, environ=env)
    tracer = pipeline.provider.get_tracer("bench")
    if lean:
        from _pipeline_worker import lean_tracer

        tracer = lean_tracer(tracer)
    _produce(tracer, 40)  # warm-up: caches, threads
    pipeline.force_flush(30_000)
    traces = spans // 5
    cpu0, wall0 = time.process_time(), time.perf_counter()
    _produce(tracer, traces)
    pipeline.force_flush(60_000)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    pipeline.shutdown()
    return {"us_per_span": cpu / (traces * 5) * 1e6, "wall_s": wall, "otelkit": otelkit.__file__}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(tree: Path, endpoint: str, spans: int, lean: bool = False) -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tree), "HOME": os.environ.get("HOME", "/tmp")}
    out = subprocess.run([sys.executable, str(HERE / "bench_tail_bytes.py"), "--worker", endpoint, str(spans)]
                         + (["--lean"] if lean else []),
                         capture_output=True, text=True, timeout=600, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="/tmp/base", help="the tree to compare with (default /tmp/base)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--lean", action="store_true", help="also run this tree with the lean tracer (upper bound)")
    args = parser.parse_args()
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}/v1/traces"
    sink = subprocess.Popen([sys.executable, str(HERE / "_pipeline_worker.py"), "sink", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # readiness: the sink answers its count
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        trees = {"new": ROOT, "base": Path(args.base)}
        if args.lean:
            trees["lean"] = ROOT
        results: dict[str, list[float]] = {name: [] for name in trees}
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                got = _run(trees[name], endpoint, args.spans, lean=name == "lean")
                results[name].append(got["us_per_span"])
                print(f"round {r + 1} {name:4s} {got['us_per_span']:7.1f} us/span  ({got['otelkit']})", flush=True)
        med = {name: statistics.median(v) for name, v in results.items()}
        ratios = sorted(n / b for n, b in zip(results["new"], results["base"], strict=True))
        for name, values in results.items():
            print(f"{name:4s} median {med[name]:.1f} us/span  range {min(values):.1f}..{max(values):.1f}")
        print(f"ratio new/base: {med['new'] / med['base']:.2f} (per-round {ratios[0]:.2f}..{ratios[-1]:.2f}, "
              f"{args.rounds} rounds, {args.spans} spans each)")
        # the two trees of a round ran back to back: the median of those ratios is the figure
        # that a busy machine's drift moves least
        print(f"median of per-round ratios: {statistics.median(ratios):.3f} "
              f"({sum(r < 1 for r in ratios)}/{len(ratios)} rounds below 1.0)")
        if args.lean:
            lean = sorted(n / b for n, b in zip(results["lean"], results["base"], strict=True))
            print(f"lean tracer (upper bound, not shipped) / base, median of per-round ratios: "
                  f"{statistics.median(lean):.3f} (per-round {lean[0]:.2f}..{lean[-1]:.2f})")
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], int(sys.argv[3]), lean="--lean" in sys.argv[4:])))
    else:
        main()
