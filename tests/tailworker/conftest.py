"""OTLP fixtures built with opentelemetry-proto classes (what a Collector's kafka exporter writes)."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def pb_span(
    trace_id: int, span_id: int, parent: int = 0, *, name: str = "op", error: bool = False,
    start: int = 1_000_000_000, end: int = 1_100_000_000, trace_state: str = "", attrs: dict[str, object] | None = None,
) -> Span:
    return Span(
        trace_id=trace_id.to_bytes(16, "big"),
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        trace_state=trace_state,
        flags=0x101,
        attributes=[kv(k, v) for k, v in (attrs or {}).items()],
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom") if error else Status(),
    )


def request(service: str, *spans: Span) -> bytes:
    """One ExportTraceServiceRequest of ``spans`` from ``service``, serialized."""
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[kv("service.name", service)]),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="test", version="1"), spans=list(spans))],
            )
        ]
    ).SerializeToString()


class Otlp:
    """The builders above, as a fixture (tests here import nothing from each other)."""

    span = staticmethod(pb_span)
    request = staticmethod(request)


@pytest.fixture
def otlp() -> Otlp:
    return Otlp()
