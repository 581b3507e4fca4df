"""The embedded OTLP/HTTP receiver counts distinct traces across requests."""

from __future__ import annotations

import urllib.request

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from otelkit.receiver import OtlpReceiver


def _resource_spans(*trace_ids: int, service: str | None = None) -> ResourceSpans:
    spans = [Span(trace_id=t.to_bytes(16, "big"), span_id=(i + 1).to_bytes(8, "big"), name="s")
             for i, t in enumerate(trace_ids)]
    attrs = [KeyValue(key="service.name", value=AnyValue(string_value=service))] if service is not None else []
    return ResourceSpans(resource=Resource(attributes=attrs), scope_spans=[ScopeSpans(spans=spans)])


def _body(*trace_ids: int) -> bytes:
    return ExportTraceServiceRequest(resource_spans=[_resource_spans(*trace_ids)]).SerializeToString()


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


def test_services_counts_spans_per_service_name() -> None:
    two = ExportTraceServiceRequest(resource_spans=[_resource_spans(1, 2, service="api"), _resource_spans(3, service="room")])
    with OtlpReceiver(keep_spans=False) as rx:
        assert _post(rx.endpoint, two.SerializeToString()) == 200
        again = ExportTraceServiceRequest(resource_spans=[_resource_spans(4, service="api"), _resource_spans(5)])
        assert _post(rx.endpoint, again.SerializeToString()) == 200
        stats = rx.stats()
    assert stats["services"] == {"api": 3, "room": 1, "": 1}  # "": a resource without service.name
    assert stats["spans"] == sum(stats["services"].values())
