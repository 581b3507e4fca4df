"""The direct encoder must produce the same message as the SDK's ``encode_spans``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from otelkit.exporter.encoder import SpanEncoder

from .conftest import RESOURCE, SCOPE, realistic_batch

MAX64 = (1 << 63) - 1
MIN64 = -(1 << 63)


def assert_same(spans: Sequence[ReadableSpan], encoder: SpanEncoder | None = None) -> bytes:
    """Parse our bytes and compare with the stock message (deterministic re-serialisation
    compares presence, repeated order and NaN bit patterns exactly)."""
    enc = encoder or SpanEncoder()
    ours = enc.encode(spans)
    parsed = ExportTraceServiceRequest.FromString(ours)
    stock = encode_spans(spans)
    assert parsed.SerializeToString(deterministic=True) == stock.SerializeToString(deterministic=True)
    return ours


def ctx(trace_id: int = 0xABC, span_id: int = 0x1, remote: bool = False, state: TraceState | None = None) -> SpanContext:
    return SpanContext(trace_id, span_id, remote, TraceFlags(1), state)


def span(**kw: Any) -> ReadableSpan:
    base: dict[str, Any] = {
        "name": "op",
        "context": ctx(),
        "resource": RESOURCE,
        "instrumentation_scope": SCOPE,
        "start_time": 10,
        "end_time": 20,
    }
    base.update(kw)
    return ReadableSpan(**base)


def test_realistic_batch_is_byte_identical_to_stock() -> None:
    spans = realistic_batch(64)
    assert SpanEncoder().encode(spans) == encode_spans(spans).SerializeToString()


def test_encode_into_writes_the_same_bytes_and_keeps_the_buffer() -> None:
    spans = realistic_batch(32)
    enc = SpanEncoder()
    buf = bytearray(1 << 20)
    n = enc.encode_into(spans, buf)
    assert len(buf) == 1 << 20
    assert bytes(buf[:n]) == enc.encode(spans)
    small = bytearray(10)
    m = enc.encode_into(spans, small)
    assert m == n and bytes(small[:m]) == enc.encode(spans)


def test_cached_encodings_stay_correct_across_calls() -> None:
    enc = SpanEncoder(cache_entries=3)  # forces cache clears
    for seed in range(3):
        assert_same(realistic_batch(20, seed=seed), enc)


EDGE_ATTRS: list[dict[str, Any]] = [
    {},
    {"empty": ""},
    {"unicode": "naïve ☃ 𝄞 日本"},
    {"huge": "x" * 200_000},
    {"zero": 0, "max": MAX64, "min": MIN64, "neg": -1},
    {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "negzero": -0.0, "f": 1.5},
    {"t": True, "f": False},
    {"bytes": b"\x00\xff\x10", "empty_bytes": b""},
    {"strs": ("a", "", "ü"), "ints": [0, MAX64, MIN64], "floats": [math.nan, 2.5], "bools": [True, False]},
    {"empty_list": (), "nested": [[1, 2], ["a", [b"x"]]], "map": {"k": "v", "n": {"deep": 1}}},
    {"none": None, "list_with_none": [None, "a"]},
    {"": "empty key"},
    {"too_big": 1 << 64, "fine": 1},
    {"bad_in_list": [1, 1 << 70], "ok": "yes"},
    {"bad_type": object(), "ok": 2},
]


@pytest.mark.parametrize("attrs", EDGE_ATTRS, ids=[",".join(a) or "empty" for a in EDGE_ATTRS])
def test_edge_case_attributes_match_stock(attrs: dict[str, Any]) -> None:
    event = Event("e", attrs, 15)
    link = Link(ctx(0xDEF, 0x9, remote=True), attrs)
    assert_same([span(attributes=attrs, events=[event], links=[link])])


@pytest.mark.parametrize(
    "kw",
    [
        {"parent": None},
        {"parent": ctx(span_id=0x77, remote=True)},
        {"parent": ctx(span_id=0x77, remote=False)},
        {"context": ctx(state=TraceState([("vendor", "abc"), ("ot", "th:8")]))},
        {"context": ctx(trace_id=(1 << 128) - 1, span_id=(1 << 64) - 1)},
        {"name": ""},
        {"name": "é" * 5000},
        {"start_time": None, "end_time": None},
        {"start_time": 0, "end_time": (1 << 64) - 1},
        {"end_time": None},
        {"status": Status(StatusCode.ERROR, "boom ☃")},
        {"status": Status(StatusCode.OK)},
        {"kind": SpanKind.CLIENT},
        {"kind": SpanKind.PRODUCER},
        {"kind": SpanKind.CONSUMER},
        {"kind": SpanKind.INTERNAL},
        {"instrumentation_scope": None},
        {"instrumentation_scope": InstrumentationScope("lib", None, "https://s/1", {"scope.attr": [1, 2]})},
        {"resource": Resource({"a": 1}, schema_url="https://opentelemetry.io/schemas/1.26.0")},
        {"resource": Resource({})},
        {"events": [Event("no-attrs", None, 5), Event("", {"k": 1}, 0)]},
        {"links": [Link(ctx(0x1, 0x2, remote=False)), Link(ctx(0x3, 0x4, remote=True), {"l": "v"})]},
    ],
)
def test_span_field_edge_cases_match_stock(kw: dict[str, Any]) -> None:
    assert_same([span(**kw)])


def test_dropped_counts_match_stock() -> None:
    attrs = BoundedAttributes(maxlen=2, attributes={"a": 1, "b": 2, "c": 3, "d": 4})
    events = BoundedList(1)
    events.extend([Event("e1", BoundedAttributes(1, {"x": 1, "y": 2}), 1), Event("e2", None, 2)])
    links = BoundedList(1)
    links.extend([Link(ctx(5, 6), BoundedAttributes(1, {"x": 1, "y": 2})), Link(ctx(7, 8))])
    s = span(attributes=attrs, events=events, links=links)
    assert (s.dropped_attributes, s.dropped_events, s.dropped_links) == (2, 1, 1)
    assert_same([s])


def test_grouping_by_resource_and_scope_matches_stock() -> None:
    r1 = Resource({"service.name": "a"})
    r1_equal = Resource({"service.name": "a"})  # equal, distinct object: same group
    r2 = Resource({"service.name": "b"}, schema_url="https://x/1")
    s1 = InstrumentationScope("lib", "1")
    s1_equal = InstrumentationScope("lib", "1")
    s2 = InstrumentationScope("lib", "2", "https://scope/2")
    plan = [(r1, s1), (r2, s1), (r1_equal, s2), (r1, s1_equal), (r2, None), (r1_equal, s1)]
    spans = [span(name=f"s{i}", resource=r, instrumentation_scope=s) for i, (r, s) in enumerate(plan)]
    out = ExportTraceServiceRequest.FromString(assert_same(spans))
    assert len(out.resource_spans) == 2
    assert [len(ss.spans) for ss in out.resource_spans[0].scope_spans] == [3, 1]


def test_spans_from_a_real_tracer_with_limits_match_stock() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        span_limits=SpanLimits(max_span_attributes=3, max_events=1, max_links=1, max_event_attributes=1)
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("real", "1.0", schema_url="https://schema/real")
    link = Link(ctx(0x5, 0x6, remote=True), {"a": 1, "b": 2})
    with tracer.start_as_current_span("parent", links=[link, link]) as parent:
        for i in range(5):
            parent.set_attribute(f"k{i}", i)
        parent.add_event("e1", {"x": 1, "y": 2})
        parent.add_event("e2")
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "bad"))
            child.record_exception(ValueError("boom"))
    spans = exporter.get_finished_spans()
    assert type(spans[0]) is ReadableSpan  # what processors get: the fast path
    assert spans[1].dropped_attributes == 2 and spans[1].dropped_events == 1
    assert_same(spans)


class WrappedSpan(ReadableSpan):
    """A ReadableSpan subclass the encoder does not know: read through its properties."""

    @property
    def name(self) -> str:
        return "wrapped:" + self._name


def test_unknown_span_subclasses_are_read_through_properties() -> None:
    s = WrappedSpan(name="op", context=ctx(), resource=RESOURCE, instrumentation_scope=SCOPE, attributes={"a": 1})
    out = ExportTraceServiceRequest.FromString(assert_same([s]))
    assert out.resource_spans[0].scope_spans[0].spans[0].name == "wrapped:op"


class RenamedEvent(Event):
    """An Event subclass: read through its properties."""

    @property
    def name(self) -> str:
        return "renamed:" + self._name


def test_unknown_event_subclasses_are_read_through_properties() -> None:
    attrs = BoundedAttributes(1, {"a": 1, "b": 2})
    s = span(events=[RenamedEvent("e", attrs, 5), Event("plain", {"k": "v"}, 6)])
    out = ExportTraceServiceRequest.FromString(assert_same([s]))
    events = out.resource_spans[0].scope_spans[0].spans[0].events
    assert [e.name for e in events] == ["renamed:e", "plain"]
    assert events[0].dropped_attributes_count == 1


def test_empty_batch_matches_stock() -> None:
    assert assert_same([]) == b""


def test_bad_cache_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="cache_entries=0"):
        SpanEncoder(cache_entries=0)


# ---------------------------------------------------------------- property-based

scalars = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=MIN64, max_value=MAX64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.binary(max_size=20),
)
homogeneous = st.one_of(
    st.lists(st.text(max_size=10), max_size=4),
    st.lists(st.integers(min_value=MIN64, max_value=MAX64), max_size=4),
    st.lists(st.floats(), max_size=4),
    st.lists(st.booleans(), max_size=4),
)
values = st.one_of(scalars, homogeneous, st.lists(homogeneous, max_size=2))
attr_maps = st.dictionaries(st.text(max_size=12), values, max_size=6)
ids128 = st.integers(min_value=1, max_value=(1 << 128) - 1)
ids64 = st.integers(min_value=1, max_value=(1 << 64) - 1)
times = st.one_of(st.none(), st.integers(min_value=0, max_value=(1 << 64) - 1))
resources = st.sampled_from([RESOURCE, Resource({"service.name": "x"}, "https://schema/1"), Resource({})])
scopes = st.sampled_from([SCOPE, None, InstrumentationScope("other", None, "https://s/2", {"k": "v"})])


@st.composite
def random_span(draw: st.DrawFn) -> ReadableSpan:
    trace_id = draw(ids128)
    parent = draw(st.one_of(st.none(), st.builds(ctx, st.just(trace_id), ids64, st.booleans())))
    state = draw(st.sampled_from([None, TraceState(), TraceState([("a", "1"), ("b", "two")])]))
    events = draw(st.lists(st.builds(Event, st.text(max_size=10), attr_maps, times), max_size=2))
    links = draw(st.lists(st.builds(Link, st.builds(ctx, ids128, ids64, st.booleans()), attr_maps), max_size=2))
    return ReadableSpan(
        name=draw(st.text(max_size=30)),
        context=ctx(trace_id, draw(ids64), state=state),
        parent=parent,
        resource=draw(resources),
        attributes=draw(attr_maps),
        events=events,
        links=links,
        kind=draw(st.sampled_from(list(SpanKind))),
        instrumentation_scope=draw(scopes),
        status=draw(st.sampled_from([Status(StatusCode.UNSET), Status(StatusCode.OK), Status(StatusCode.ERROR, "x")])),
        start_time=draw(times),
        end_time=draw(times),
    )


SHARED = SpanEncoder(cache_entries=64)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(random_span(), max_size=6))
def test_random_spans_match_stock(spans: list[ReadableSpan]) -> None:
    assert_same(spans, SHARED)


# ---------------------------------------------------------------- byte-identical differential

from . import strategies  # noqa: E402


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(strategies.batches)
def test_any_batch_is_byte_identical_to_stock(spans: list[ReadableSpan]) -> None:
    """Every attribute type, tiny/huge values, events, links, status, kinds, dropped counts,
    trace flags and tracestate, several (and equal-but-distinct) resources and scopes."""
    assert SHARED.encode(spans) == encode_spans(spans).SerializeToString()


def test_lone_surrogates_are_replaced_not_fatal() -> None:
    """Issue 12 bug 6: ``str.encode`` raised on a lone surrogate and failed the request."""
    s = span(name="a\ud800b", attributes={"k": "v\udfff"}, status=Status(StatusCode.ERROR, "\udc80"),
             events=[Event("e\ud800", None, 5)])
    got = ExportTraceServiceRequest.FromString(SpanEncoder().encode([s])).resource_spans[0].scope_spans[0].spans[0]
    assert (got.name, got.attributes[0].value.string_value) == ("a\ufffdb", "v\ufffd")
    assert (got.status.message, got.events[0].name) == ("\ufffd", "e\ufffd")


def test_encode_parts_leaves_out_and_counts_spans_that_cannot_be_read() -> None:
    good = realistic_batch(3)
    parts, failed = SpanEncoder().encode_parts([good[0], ReadableSpan(name="no-context"), good[1], good[2]])
    assert failed == 1
    assert b"".join(parts) == encode_spans(good).SerializeToString()
    only_bad = ReadableSpan(name="x", context=None, resource=RESOURCE)
    assert SpanEncoder().encode_parts([only_bad]) == ([], 1)  # no empty ResourceSpans left behind
