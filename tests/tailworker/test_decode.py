"""Decoding spans-topic messages: the Collector's otlp_proto bytes, otelkit's, and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, StatusCode, TraceFlags

from otelkit.exporter.encoder import SpanEncoder
from otelkit.sampling.threshold import read_ot
from otelkit.tailworker._decode import EMPTY, NOT_OTLP, TOO_LARGE, BadMessage, decode

MAX = 1 << 20


def test_collector_request_with_two_traces_is_grouped_by_trace(otlp: Any) -> None:
    value = otlp.request(
        "checkout",
        otlp.span(1, 10, name="root", trace_state="ot=th:8"),
        otlp.span(2, 20, name="other"),
        otlp.span(1, 11, 10, name="child", error=True, attrs={"http.route": "/pay", "retries": 3, "ok": False}),
    )
    traces = decode(value, MAX)
    assert sorted(traces) == [1, 2]
    root, child = (record for record, _ in traces[1])
    assert [root.name, child.name] == ["root", "child"]
    assert root.parent is None and child.parent is not None and child.parent.span_id == 10
    assert not child.parent.is_remote  # only a span without parent ends a trace for decision_wait
    assert root.kind is SpanKind.SERVER
    assert child.status.status_code is StatusCode.ERROR and child.status.description == "boom"
    assert dict(child.attributes or {}) == {"http.route": "/pay", "retries": 3, "ok": False}
    assert root.resource.attributes["service.name"] == "checkout"
    assert root.instrumentation_scope is not None and root.instrumentation_scope.name == "test"
    assert root.context is not None and read_ot(root.context.trace_state).th == 8 << 52
    assert root.context.trace_flags == 1
    assert (root.start_time, root.end_time) == (1_000_000_000, 1_100_000_000)


def test_otelkit_encoder_output_round_trips() -> None:
    ctx = SpanContext(0xABC, 0x1, False, TraceFlags(1))
    span = ReadableSpan(
        name="GET /", context=ctx, parent=None, resource=Resource({"service.name": "gw"}),
        attributes={"a": "b"}, kind=SpanKind.CLIENT, start_time=5, end_time=9,
    )
    traces = decode(SpanEncoder().encode([span]), MAX)
    ((got, _),) = traces[0xABC]
    assert (got.name, got.kind, dict(got.attributes or {}), got.start_time, got.end_time) == (
        "GET /", SpanKind.CLIENT, {"a": "b"}, 5, 9)
    assert got.resource.attributes["service.name"] == "gw"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", EMPTY),
        (b"\xff\xff\xff\xff not protobuf", NOT_OTLP),
        (b"x" * (50 * 1024 * 1024), TOO_LARGE),
    ],
)
def test_bad_input_is_rejected_with_a_reason(value: bytes, reason: str) -> None:
    with pytest.raises(BadMessage) as info:
        decode(value, MAX)
    assert info.value.reason == reason


def test_truncated_request_is_rejected(otlp: Any) -> None:
    value = otlp.request("svc", otlp.span(1, 10, attrs={"k": "v" * 50}))
    with pytest.raises(BadMessage) as info:
        decode(value[:-7], MAX)
    assert info.value.reason == NOT_OTLP


def test_wrong_id_length_is_not_otlp(otlp: Any) -> None:
    pb = otlp.span(1, 10)
    pb.span_id = b"\x01\x02"
    with pytest.raises(BadMessage) as info:
        decode(otlp.request("svc", pb), MAX)
    assert info.value.reason == NOT_OTLP


def test_each_record_holds_its_span_s_wire_bytes_unchanged_and_one_route_per_resource_and_scope(otlp: Any) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = [otlp.span(1, 10, name="root", attrs={"k": "v"}), otlp.span(1, 11, 10, name="child"),
             otlp.span(2, 20, trace_state="ot=th:8")]
    value = otlp.request("checkout", *spans)
    held = [h for hs in decode(value, MAX).values() for h in hs]
    assert [record.data for record, _ in held] == [pb.SerializeToString() for pb in spans]  # sliced, not re-encoded
    assert len({record.route for record, _ in held}) == 1
    assert all(size >= len(record.data) for record, size in held)
    # and the route's resource/scope encode the request's headers: re-assembled, the same request
    from otelkit.exporter._encoded import EncodedBatch, encode_request

    again = encode_request(EncodedBatch([r.data for r, _ in held], [r.route for r, _ in held]))
    assert ExportTraceServiceRequest.FromString(again) == ExportTraceServiceRequest.FromString(value)


def test_a_span_written_out_of_field_order_is_put_in_order_once(otlp: Any) -> None:
    pb = otlp.span(3, 30, name="odd")
    body = pb.SerializeToString()
    ids = 2 + 16 + 2 + 8
    shuffled = body[ids:] + body[:ids]  # same fields, ids last: still a valid Span message
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    assert Span.FromString(shuffled) == pb
    request = ExportTraceServiceRequest.FromString(otlp.request("svc", pb))
    value = request.SerializeToString().replace(body, shuffled)
    ((record, _),) = decode(value, MAX)[3]
    assert record.data == body and record.name == "odd"


@pytest.mark.parametrize("value", [b"\x0a\x05\x12\x03\x12\x01", b"\x0b\x00", b"\x0a\x80"])
def test_malformed_wire_structure_is_not_otlp(value: bytes) -> None:
    with pytest.raises(BadMessage) as info:
        decode(value, MAX)
    assert info.value.reason == NOT_OTLP


def test_resource_and_scope_are_reframed_as_the_bytes_they_arrived_in(otlp: Any) -> None:
    # kvlist, bytes and a mixed array have no exact SDK attribute form: rebuilt from decoded
    # values, the resource would go out different (a kvlist as its str, bytes as hex)
    from otelkit.exporter._encoded import EncodedBatch, encode_request

    value = otlp.rich_request(otlp.span(1, 10, name="root"), otlp.span(1, 11, 10, name="child"))
    held = [h for hs in decode(value, MAX).values() for h in hs]
    again = encode_request(EncodedBatch([r.data for r, _ in held], [r.route for r, _ in held]))
    assert otlp.headers(again) == otlp.headers(value)
    assert again == value  # and so the whole request, byte for byte
    record = held[0][0]
    assert record.resource.attributes["service.name"] == "rich"  # what policies read is still decoded
    assert record.instrumentation_scope is not None and record.instrumentation_scope.version == "2.1"


def test_resources_that_decode_alike_but_arrived_as_other_bytes_stay_apart(otlp: Any) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    from otelkit.exporter._encoded import EncodedBatch, encode_request

    a = ExportTraceServiceRequest.FromString(otlp.request("svc", otlp.span(1, 10)))
    b = ExportTraceServiceRequest.FromString(otlp.request("svc", otlp.span(1, 11, 10)))
    a.resource_spans[0].resource.attributes.append(KeyValue(key="id", value=AnyValue(bytes_value=b"\xab")))
    b.resource_spans[0].resource.attributes.append(KeyValue(key="id", value=AnyValue(string_value="ab")))
    a.resource_spans.extend(b.resource_spans)  # one message, two resources: decoded, both {"id": "ab"}
    value = a.SerializeToString()
    held = [h for hs in decode(value, MAX).values() for h in hs]
    assert held[0][0].resource.attributes == held[1][0].resource.attributes
    again = encode_request(EncodedBatch([r.data for r, _ in held], [r.route for r, _ in held]))
    assert again == value
