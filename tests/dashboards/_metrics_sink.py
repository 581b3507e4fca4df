"""An OTLP/HTTP metrics receiver on 127.0.0.1 that records every metric's name, unit, kind
and attribute keys (what the dashboard test compares with its queries)."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

__all__ = ["MetricsSink"]


class MetricsSink:
    """``with MetricsSink() as sink:`` ... ``sink.endpoint`` (the ``/v1/metrics`` URL),
    ``sink.metrics()`` (name -> {name, unit, kind, monotonic, attributes, points})."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, dict[str, Any]] = {}
        self.requests = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink._record(ExportMetricsServiceRequest.FromString(body))
                out = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}/v1/metrics"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> MetricsSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _record(self, request: ExportMetricsServiceRequest) -> None:
        with self._lock:
            self.requests += 1
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        data = getattr(m, kind)
                        entry = self._seen.setdefault(m.name, {
                            "name": m.name, "unit": m.unit, "kind": kind,
                            "monotonic": bool(getattr(data, "is_monotonic", False)), "attributes": set(), "points": 0,
                        })
                        for point in data.data_points:
                            entry["attributes"] |= {kv.key for kv in point.attributes}
                            entry["points"] += 1

    def metrics(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: {**v, "attributes": sorted(v["attributes"])} for k, v in self._seen.items()}
