"""Verbatim resources and scopes: encoded as the bytes they were read from."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags

from otelkit.exporter._encoded import encode_each, encode_request, split_requests
from otelkit.exporter._verbatim import VerbatimResource, VerbatimScope
from otelkit.exporter.encoder import SpanEncoder

RES = b"\x0a\x05\x0a\x01k\x12\x00"  # a Resource message: one attribute with an empty AnyValue
SCOPE = b"\x0a\x03lib"


def test_the_encoder_writes_their_own_bytes_and_nothing_for_an_absent_field() -> None:
    enc = SpanEncoder()
    assert enc.resource_bytes(VerbatimResource(RES, {"k": "x"})) == b"\x0a\x07" + RES
    assert enc.scope_bytes(VerbatimScope(SCOPE, "other", "9")) == b"\x0a\x05" + SCOPE  # not the decoded values
    assert enc.resource_bytes(VerbatimResource(None, {})) == b""
    assert enc.scope_bytes(VerbatimScope(None, "")) == b""


def test_equal_by_bytes_and_schema_not_by_decoded_values() -> None:
    a, b = VerbatimResource(RES, {"k": "x"}), VerbatimResource(RES + b"\x10\x01", {"k": "x"})
    assert a != b and a == VerbatimResource(RES, {}) and hash(a) == hash(VerbatimResource(RES, {}))
    assert a != VerbatimResource(RES, {"k": "x"}, "https://s") and a != Resource({"k": "x"})
    assert Resource({"k": "x"}) != a  # both ways
    assert VerbatimScope(SCOPE, "lib") != VerbatimScope(SCOPE + b"\x12\x01v", "lib")
    assert VerbatimScope(SCOPE, "lib") != InstrumentationScope("lib")


def test_requests_and_their_split_sizes_use_the_verbatim_bytes() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource

    big = PbResource(attributes=[KeyValue(key="k", value=AnyValue(string_value="v" * 300))]).SerializeToString()
    res, scope = VerbatimResource(big, {}, "https://s"), VerbatimScope(SCOPE, "lib")  # decoded: nearly empty
    spans = [ReadableSpan(name=f"s{i}", context=SpanContext(1, i + 1, False, TraceFlags(1)), resource=res,
                          instrumentation_scope=scope, start_time=1, end_time=2) for i in range(4)]
    held, _ = encode_each(spans)
    value = encode_request(held)
    (rs,) = ExportTraceServiceRequest.FromString(value).resource_spans
    assert rs.resource.SerializeToString() == big and rs.schema_url == "https://s"
    assert rs.scope_spans[0].scope.SerializeToString() == SCOPE and len(rs.scope_spans[0].spans) == 4
    limit = len(value) - 50  # sized by the decoded resource, all four would seem to fit
    runs = split_requests(held, limit)
    assert len(runs) == 2 and all(len(encode_request(r)) <= limit for r in runs)
