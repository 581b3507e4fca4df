"""SpanRecord: the tail buffer's encoded span and the summary policies read."""

from __future__ import annotations

import gc
import tracemalloc

from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, StatusCode, TraceState

from otelkit.exporter._encoded import encode_held
from otelkit.tail._record import RECORD_OVERHEAD, decode_attributes, held_bytes, record_from_wire, record_of
from tests.tail.conftest import make_span


def test_summary_matches_the_span() -> None:
    span = make_span(7, 3, parent_id=2, remote_parent=True, name="GET /x", status=StatusCode.ERROR,
                     start_ms=1, end_ms=5, attributes={"a": 1, "b": "x"}, events=2, sampled=True,
                     trace_state=TraceState([("ot", "th:8")]))
    rec, size = record_of(span, None)
    assert rec.data == encode_held(span)[0]
    assert (rec.name, rec.kind, rec.start_time, rec.end_time) == ("GET /x", SpanKind.INTERNAL, 1_000_000, 5_000_000)
    assert rec.status.status_code is StatusCode.ERROR and rec.status_code is StatusCode.ERROR
    assert rec.context == span.context and rec.parent is span.parent and rec.trace_id == 7
    assert rec.context.trace_state is span.context.trace_state and rec.context.trace_flags.sampled
    assert rec.events_count == 2
    assert rec.resource is span.resource
    assert dict(rec.attributes) == {"a": 1, "b": "x"}  # decoded from the bytes
    assert size == held_bytes(rec) == len(rec.data) + RECORD_OVERHEAD


def test_declared_keys_only_are_copied_and_counted() -> None:
    big = "v" * 10_000
    span = make_span(attributes={"keep": big, "other": "y" * 50_000, "n": 3})
    rec, size = record_of(span, frozenset({"keep", "absent"}))
    assert dict(rec.attributes) == {"keep": big}
    assert size == held_bytes(rec) > len(rec.data) + RECORD_OVERHEAD + 10_000
    rec2, _ = record_of(span, frozenset())
    assert dict(rec2.attributes) == {}


def test_decoded_attributes_keep_types() -> None:
    attrs = {"s": "x", "i": -5, "f": 1.5, "b": True, "t": ("a", "b"), "ti": (1, 2)}
    rec, _ = record_of(make_span(attributes=attrs), None)
    assert decode_attributes(rec.data) == attrs


def test_record_from_wire_has_the_same_summary() -> None:
    span = make_span(9, 4, parent_id=1, name="n", status=StatusCode.ERROR, attributes={"k": "v", "z": 1}, start_ms=2,
                     events=1, trace_state=TraceState([("ot", "th:8")]))
    rec, _ = record_of(span, None)
    wire, size = record_from_wire(rec.data, rec.route, frozenset({"k"}))
    assert wire.data is rec.data and size == held_bytes(wire)
    assert (wire.name, wire.kind, wire.status_code, wire.start_time, wire.end_time, wire.events_count) == (
        rec.name, rec.kind, rec.status_code, rec.start_time, rec.end_time, rec.events_count)
    assert wire.context.trace_id == 9 and wire.context.span_id == 4 and wire.context.trace_flags.sampled
    assert wire.context.trace_state.to_header() == "ot=th:8"
    assert wire.parent is not None and wire.parent.span_id == 1 and not wire.parent.is_remote
    assert dict(wire.attributes) == {"k": "v"}
    PbSpan.FromString(wire.data)


def test_record_overhead_covers_what_a_record_keeps() -> None:
    """RECORD_OVERHEAD bounds the memory a record keeps beyond its bytes, measured on SDK spans
    (each with its own context and a 2-entry tracestate, as a head sampler writes)."""
    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    n = 2000
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        held = []
        data = 0
        for i in range(n):
            with tracer.start_as_current_span("op", attributes={"i": i, "path": f"/p/{i}"}) as s:
                s.add_event("e", {"k": "v"})
            rec, _ = record_of(s, frozenset())  # type: ignore[arg-type]
            data += len(rec.data)
            held.append(rec)
            del s
        gc.collect()
        per = (tracemalloc.get_traced_memory()[0] - base - data) / n
    finally:
        tracemalloc.stop()
    print(f"held per record beyond its bytes: {per:.0f} B")
    assert 0 < per < RECORD_OVERHEAD, per


def test_the_sdk_span_is_released_at_on_end() -> None:
    import weakref

    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otelkit.tail import TailSamplingProcessor
    from otelkit.tail.policies import StatusCodePolicy

    proc = TailSamplingProcessor(SimpleSpanProcessor(InMemorySpanExporter()), [StatusCodePolicy(["ERROR"])],
                                 start_worker=False, self_metrics=False)
    provider = TracerProvider()
    provider.add_span_processor(proc)
    with provider.get_tracer("t").start_as_current_span("op", attributes={"a": "b"}) as span:
        span.add_event("e", {"k": "v"})
    ref = weakref.ref(span)
    del span
    assert ref() is None  # freed by refcount: nothing of the buffer points at it
    (entry,) = proc._buffer._traces.values()
    (rec,) = entry.spans
    assert not gc.is_tracked(rec.data)
    other, _ = record_of(make_span(), frozenset())
    assert rec._attributes is other._attributes and not rec._attributes  # one shared empty summary
    proc.shutdown()


def test_record_holds_no_gc_tracked_context() -> None:
    """The span's own SpanContext (a tuple) and its TraceFlags are GC-tracked: a record holds
    their fields instead, so held spans cost cyclic GC one tracked object each, not three."""
    span = make_span(7, 3, sampled=True, trace_state=TraceState([("ot", "th:8")]))
    rec, _ = record_of(span, None)
    held = [o for o in gc.get_referents(rec) if gc.is_tracked(o)]
    assert all(type(o).__name__ not in ("SpanContext", "TraceFlags") for o in held), held
    assert rec.trace_state is span.context.trace_state and rec.trace_flags == 1 and type(rec.trace_flags) is int
    assert (rec.trace_id, rec.span_id, rec.remote) == (7, 3, False)
