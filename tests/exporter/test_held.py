"""Spans as the batcher holds them: bytes plus a small-int route, batches read as EncodedBatch."""

from __future__ import annotations

import gc
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags

from otelkit.batch._queue import SpanQueue
from otelkit.exporter import _routes
from otelkit.exporter._encoded import (
    EncodedBatch,
    encode_held,
    encode_request,
    encode_sampled,
    encode_span,
    request_parts,
    split_requests,
)
from otelkit.exporter.encoder import SpanEncoder

from . import strategies
from .conftest import RESOURCE, realistic_batch

QUIET = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def held(spans: Sequence[ReadableSpan]) -> EncodedBatch:
    pairs = [encode_held(s) for s in spans]
    return EncodedBatch([d for d, _ in pairs], [r for _, r in pairs])


def span_in(scope: InstrumentationScope | None, name: str = "op", resource: Resource = RESOURCE) -> ReadableSpan:
    return ReadableSpan(name=name, context=SpanContext(7, 8, False, TraceFlags(1)), resource=resource,
                        instrumentation_scope=scope, start_time=1, end_time=2)


@QUIET
@given(strategies.batches, st.integers(min_value=0, max_value=8))
def test_held_batches_give_the_stock_request_byte_for_byte(spans: list[ReadableSpan], cut: int) -> None:
    # Equal-but-distinct resources and scopes are in the strategy: grouping stays the SDK's
    batch = held(spans)
    assert b"".join(request_parts(batch)) == encode_spans(spans).SerializeToString()
    first, rest = batch[:cut], batch[cut:]
    assert isinstance(first, EncodedBatch) and isinstance(rest, EncodedBatch)
    assert encode_request(first) == encode_spans(spans[:cut]).SerializeToString()
    assert encode_request(rest) == encode_spans(spans[cut:]).SerializeToString()


def test_equal_resources_that_encode_differently_are_merged_per_batch_first_seen_first() -> None:
    # Equal for the SDK (dict equality), different bytes (attribute order): the SDK merges
    # them and writes the first one's attributes; so must a batch, whichever came first
    a = Resource({"service.name": "x", "host.name": "h"})
    b = Resource({"host.name": "h", "service.name": "x"})
    assert a == b and SpanEncoder().resource_bytes(a) != SpanEncoder().resource_bytes(b)
    for order in ([a, b, a], [b, a, b]):
        spans = [span_in(None, f"s{i}", resource=r) for i, r in enumerate(order)]
        assert encode_request(held(spans)) == encode_spans(spans).SerializeToString()
    assert encode_held(span_in(None, resource=a))[1] != encode_held(span_in(None, resource=b))[1]


def test_a_new_equal_scope_object_per_span_reuses_one_route() -> None:
    # Routes count contents, not objects: an app making a scope per request does not grow them
    spans = [span_in(InstrumentationScope("per-request", "2.0"), f"op{i}") for i in range(50)]
    assert len({id(s.instrumentation_scope) for s in spans}) == 50
    registered = len(_routes_of_encoder())
    routes = {encode_held(s)[1] for s in spans}
    assert len(routes) == 1 and type(routes.pop()) is int
    assert len(_routes_of_encoder()) <= registered + 1


def _routes_of_encoder() -> list[object]:
    from otelkit.exporter import _encoded

    return _encoded._ROUTES.pairs


def test_past_the_route_limit_a_span_routes_by_its_pair_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _routes.Routes(SpanEncoder())
    monkeypatch.setattr(_routes, "MAX_ROUTES", 2)
    scopes = [InstrumentationScope(f"lib{i}") for i in range(4)]
    got = [registry.route(RESOURCE, s) for s in scopes]
    assert got[:2] == [0, 1] and got[2:] == [(RESOURCE, scopes[2]), (RESOURCE, scopes[3])]
    assert [registry.pair(r) for r in got] == [(RESOURCE, s) for s in scopes]
    spans = [span_in(s, f"s{i}") for i, s in enumerate(scopes)]
    routes = [encode_held(spans[0])[1], (RESOURCE, scopes[1]), (RESOURCE, scopes[2]), encode_held(spans[3])[1]]
    mixed = EncodedBatch([encode_held(s)[0] for s in spans], routes)
    assert encode_request(mixed) == encode_spans(spans).SerializeToString()


def test_items_read_from_a_batch_are_the_encoded_spans() -> None:
    spans = realistic_batch(5)
    batch = held(spans)
    assert len(batch) == 5 and "5 spans" in repr(batch)
    for item, span in zip(batch, spans, strict=True):
        want = encode_span(span)
        assert (item.data, item.size, item.trace_id) == (want.data, want.size, want.trace_id)
        assert item.resource == span.resource and item.scope == span.instrumentation_scope
    assert batch[3].data == encode_span(spans[3]).data
    assert [s.data for s in batch[1:3]] == [encode_span(s).data for s in spans[1:3]]


@QUIET
@given(strategies.batches, st.integers(min_value=300, max_value=20_000))
def test_split_held_batches_respects_the_limit_and_keeps_order(spans: list[ReadableSpan], limit: int) -> None:
    batch = held(spans)
    runs = split_requests(batch, limit)
    assert [d for run in runs for d in run.datas] == batch.datas  # type: ignore[attr-defined]
    for run in runs:
        assert isinstance(run, EncodedBatch) and run
        assert len(run) == 1 or len(encode_request(run)) <= limit


def test_a_batch_that_fits_is_not_sized_span_by_span() -> None:
    batch = held(realistic_batch(200))
    whole = len(encode_request(batch))
    assert split_requests(batch, 2 * whole)[0] is batch
    assert [len(r) for r in split_requests(batch, whole - 1)] == [199, 1]


def test_held_spans_are_invisible_to_the_cyclic_gc() -> None:
    spans = realistic_batch(3000)
    warm = SpanQueue(10_000, max_bytes=1 << 30, encode=encode_held)
    for span in spans:  # routes registered, encoding caches filled
        warm.put_encoded(span)
    q = SpanQueue(10_000, max_bytes=1 << 30, encode=encode_held)
    gc.collect()
    before = len(gc.get_objects())
    for span in spans:
        q.put_encoded(span)
    grown = len(gc.get_objects()) - before
    assert len(q) == 3000 and grown < 100  # was one tracked EncodedSpan per held span


def test_a_high_cardinality_key_caches_a_bounded_number_of_values_and_evicts_nothing() -> None:
    from otelkit.exporter._span_writer import VALUES_PER_KEY, SpanWriter

    writer = SpanWriter(cache_entries=1000)
    spans = [ReadableSpan(name="op", context=SpanContext(1, 2, False, TraceFlags(1)), resource=RESOURCE,
                  attributes={"http.request.method": "GET", "url.path": f"/orders/{i}"}) for i in range(3000)]
    bodies = [writer.span(s)[0] for s in spans]
    str_fields = writer.fields(b"\x4a")[0]
    assert ("http.request.method", "GET") in str_fields  # never evicted by the paths
    assert sum(1 for key, _ in str_fields if key == "url.path") == VALUES_PER_KEY
    assert bodies == [SpanEncoder().span_body(s)[0] for s in spans]


@QUIET
@given(strategies.batches)
def test_the_batchers_encoder_holds_sampled_spans_as_encode_held_and_skips_the_rest(spans: list[ReadableSpan]) -> None:
    # encode_sampled is the batcher's whole on_end: it reads the flags from the span's fields
    for span in spans:
        if span.context.trace_flags.sampled:
            assert encode_sampled(span) == encode_held(span)
        else:
            assert encode_sampled(span) is None


def test_the_batchers_encoder_skips_a_span_without_a_context() -> None:
    assert encode_sampled(ReadableSpan("no-context", context=None)) is None
