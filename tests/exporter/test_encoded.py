"""Spans encoded at on_end: what EncodedSpan holds, requests by concatenation, splitting."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags

from otelkit.exporter._encoded import (
    EncodedSpan,
    encode_each,
    encode_request,
    encode_request_into,
    encode_span,
    request_parts,
    split_requests,
)

from . import strategies
from .conftest import RESOURCE, SCOPE, realistic_batch

QUIET = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def stock_spans(request: bytes) -> list[Any]:
    req = ExportTraceServiceRequest.FromString(request)
    return [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]


def test_encoded_span_holds_the_span_message_and_what_routes_it() -> None:
    span = realistic_batch(1)[0]
    enc = encode_span(span)
    assert PbSpan.FromString(enc.data) == stock_spans(encode_spans([span]).SerializeToString())[0]
    assert enc.resource is RESOURCE and enc.scope is SCOPE
    assert enc.trace_id == span.context.trace_id
    assert enc.size == len(enc.data) > 0
    assert f"{span.context.trace_id:032x}" in repr(enc)


def test_encoded_span_keeps_no_reference_to_the_span() -> None:
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("op", attributes={"a": 1}) as live:
        live.add_event("e", {"k": "v"})
    ended = memory.get_finished_spans()[0]
    enc = encode_span(ended)
    ref = weakref.ref(ended)
    memory.clear()
    del ended, live
    gc.collect()
    assert ref() is None
    assert not hasattr(enc, "__dict__")
    referents = gc.get_referents(enc)
    assert {type(r) for r in referents} <= {bytes, int, Resource, InstrumentationScope, type}


def test_a_span_without_a_scope_holds_none() -> None:
    span = ReadableSpan(name="op", context=SpanContext(5, 6, False, TraceFlags(1)), resource=RESOURCE)
    assert encode_span(span).scope is None


@QUIET
@given(strategies.batches)
def test_request_from_encoded_spans_is_byte_identical_to_stock(spans: list[ReadableSpan]) -> None:
    encoded, failed = encode_each(spans)
    assert failed == 0
    assert encode_request(encoded) == encode_spans(spans).SerializeToString()


def test_encode_request_into_writes_the_same_bytes_and_keeps_the_buffer() -> None:
    encoded = encode_each(realistic_batch(40))[0]
    buf = bytearray(1 << 20)
    n = encode_request_into(encoded, buf)
    assert len(buf) == 1 << 20 and bytes(buf[:n]) == encode_request(encoded)
    small = bytearray(8)
    assert encode_request_into(encoded, small) == n and bytes(small) == encode_request(encoded)


def test_empty_request_is_empty() -> None:
    assert encode_request([]) == b"" == encode_spans([]).SerializeToString()
    assert request_parts([]) == [] and split_requests([], 1024) == []


def test_encode_each_leaves_out_and_counts_only_broken_spans() -> None:
    good = realistic_batch(3)
    broken = ReadableSpan(name="no-context")  # reading its context raises
    encoded, failed = encode_each([good[0], broken, good[1], object(), good[2]])  # type: ignore[list-item]
    assert failed == 2
    assert encode_request(encoded) == encode_spans(good).SerializeToString()
    with pytest.raises(ValueError, match="no span context"):
        encode_span(broken)


def test_lone_surrogates_become_replacement_characters() -> None:
    span = ReadableSpan(
        name="GET \ud800/x", context=SpanContext(1, 2, False, TraceFlags(1)), resource=RESOURCE,
        attributes={"bad\udc80": "v\udfff", "pair": "\ud83d\ude00"},
    )
    (got,) = stock_spans(encode_request([encode_span(span)]))
    assert got.name == "GET \ufffd/x"
    assert {kv.key: kv.value.string_value for kv in got.attributes} == {"bad\ufffd": "v\ufffd", "pair": "\U0001f600"}


@QUIET
@given(strategies.batches, st.integers(min_value=300, max_value=20_000))
def test_split_requests_respects_the_limit_and_keeps_order(spans: list[ReadableSpan], limit: int) -> None:
    encoded = encode_each(spans)[0]
    runs = split_requests(encoded, limit)
    assert [s for run in runs for s in run] == encoded
    for run in runs:
        assert run
        assert len(run) == 1 or len(encode_request(run)) <= limit


def test_split_requests_sends_a_lone_oversize_span_alone() -> None:
    small = encode_each(realistic_batch(4))[0]
    big_span = realistic_batch(1)[0]
    big_span._attributes = {"blob": "x" * 5000}  # type: ignore[attr-defined]
    big = encode_span(big_span)
    runs = split_requests([small[0], big, small[1]], 2048)
    assert [len(r) for r in runs] == [1, 1, 1]
    assert list(runs[1]) == [big]


def test_split_requests_packs_what_fits() -> None:
    encoded = encode_each(realistic_batch(100))[0]
    whole = len(encode_request(encoded))
    assert [len(r) for r in split_requests(encoded, whole + 8)] == [100]  # 2 length varints at 5 bytes
    assert [len(r) for r in split_requests(encoded, whole - 1)] == [99, 1]
    runs = split_requests(encoded, whole // 3)
    assert len(runs) == 4 and all(len(encode_request(r)) <= whole // 3 for r in runs)


def test_encoded_span_is_a_small_slotted_object() -> None:
    enc = encode_span(realistic_batch(1)[0])
    assert EncodedSpan.__slots__ == ("data", "resource", "scope", "trace_id", "size")
    with pytest.raises(AttributeError):
        enc.other = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("shut_down", "batch", "sent", "expected", "counted"),
    [
        (True, 3, None, "FAILURE", [(3, "shutdown")]),
        (True, 0, None, "FAILURE", []),  # an empty batch after shutdown: FAILURE, nothing counted
        (False, 3, 3, "SUCCESS", []),
        (False, 0, 0, "SUCCESS", []),
    ],
)
def test_export_spans_is_the_shared_export_of_the_encoded_exporters(shut_down, batch, sent, expected, counted) -> None:
    from opentelemetry.sdk.trace.export import SpanExportResult

    from otelkit.exporter._export import export_spans

    provider = TracerProvider()
    spans = []
    for i in range(batch):
        span = provider.get_tracer("t").start_span(f"s{i}")
        span.end()
        spans.append(span)
    got: list[Any] = []
    counts: list[tuple[int, str]] = []
    result = export_spans(spans, shut_down, lambda failed, error: counts.append((failed, error)),
                          lambda encoded: (got.append(len(encoded)), SpanExportResult.SUCCESS)[1])
    assert result is getattr(SpanExportResult, expected)
    assert got == ([] if sent is None else [sent]) and counts == counted


def test_export_spans_fails_a_span_that_cannot_be_encoded_alone() -> None:
    from opentelemetry.sdk.trace.export import SpanExportResult

    from otelkit.exporter._export import export_spans

    good = TracerProvider().get_tracer("t").start_span("ok")
    good.end()
    got: list[int] = []
    counts: list[tuple[int, str]] = []
    result = export_spans([good, ReadableSpan(name="no-context")], False,
                          lambda failed, error: counts.append((failed, error)),
                          lambda encoded: (got.append(len(encoded)), SpanExportResult.SUCCESS)[1])
    assert result is SpanExportResult.FAILURE and got == [1] and counts == [(1, "encode")]
