"""The embedded OTLP/HTTP receiver counts distinct traces across requests."""

from __future__ import annotations

import urllib.request

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from otelkit.receiver import OtlpReceiver


def _body(*trace_ids: int) -> bytes:
    spans = [Span(trace_id=t.to_bytes(16, "big"), span_id=(i + 1).to_bytes(8, "big"), name="s")
             for i, t in enumerate(trace_ids)]
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    return request.SerializeToString()


def _post(endpoint: str, body: bytes) -> int:
    req = urllib.request.Request(endpoint, data=body, method="POST",
                                 headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.status


def test_traces_counts_distinct_trace_ids_across_requests() -> None:
    with OtlpReceiver(keep_spans=False) as rx:
        assert _post(rx.endpoint, _body(1, 1, 2)) == 200
        assert _post(rx.endpoint, _body(2, 3)) == 200  # trace 2 continues in a second batch
        stats = rx.stats()
    assert (stats["requests"], stats["spans"], stats["traces"]) == (2, 5, 3)
