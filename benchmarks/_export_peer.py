"""Shared pieces of the export benchmarks: the realistic 512-span batch and a 127.0.0.1
OTLP sink running in a separate process (so its CPU never counts for the exporter).

Run as a script (``python _export_peer.py PORT``) it is the sink: a keep-alive HTTP/1.1
server that reads each body and answers 200 with an empty ExportTraceServiceResponse.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def realistic_batch(n: int = 512, seed: int = 7) -> list[Any]:
    """stock-baseline.md section 4: SERVER spans with 8 attrs (5 str, 2 int, 1 bool), one
    event with 2 attrs, 70% remote parent, resource service.name + 5 attrs, one scope."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

    resource = Resource(
        {
            "service.name": "checkout",
            "service.version": "1.4.2",
            "deployment.environment": "prod",
            "host.name": "web-17",
            "process.pid": 4242,
            "telemetry.sdk.language": "python",
        }
    )
    scope = InstrumentationScope("otelkit.bench", "0.1")
    rng = random.Random(seed)
    spans = []
    for i in range(n):
        trace_id = rng.getrandbits(128) | 1
        parent = SpanContext(trace_id, rng.getrandbits(64) | 1, True, TraceFlags(1)) if rng.random() < 0.7 else None
        start = 1_700_000_000_000_000_000 + i * 1_000_000
        method = rng.choice(["GET", "POST", "PUT"])
        attrs = {
            "http.request.method": method,
            "url.path": f"/api/v1/orders/{rng.randrange(100000)}",
            "url.scheme": "https",
            "server.address": "shop.example.com",
            "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) otelkit-bench/1.0",
            "http.response.status_code": rng.choice([200, 200, 200, 404, 500]),
            "server.port": 443,
            "otelkit.cache_hit": rng.random() < 0.5,
        }
        spans.append(
            ReadableSpan(
                name=f"{method} /api/v1/orders/{{id}}",
                context=SpanContext(trace_id, rng.getrandbits(64) | 1, False, TraceFlags(1)),
                parent=parent,
                resource=resource,
                attributes=attrs,
                events=(Event("request.received", {"bytes": rng.randrange(10000), "queue": "default"}, start + 1000),),
                kind=SpanKind.SERVER,
                instrumentation_scope=scope,
                start_time=start,
                end_time=start + rng.randrange(100_000, 50_000_000),
            )
        )
    return spans


@contextmanager
def sink_process() -> Iterator[str]:
    """Start the sink in a child process; yield its traces URL; stop it by PID."""
    from otelkit.testing import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, str(port)])
    try:
        wait_for_port(port, 10.0, proc)
        yield f"http://127.0.0.1:{port}/v1/traces"
    finally:
        proc.terminate()
        proc.wait(10)


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")  # an empty ExportTraceServiceResponse
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), _Sink).serve_forever()
