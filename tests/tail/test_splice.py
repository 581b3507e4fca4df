"""Spliced kept-span bytes equal the SDK's encoding of the ``exportable`` copy (property test)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import TraceState

from otelkit.sampling._decide import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.tail._forward import POLICY_ATTRIBUTE, Rewrite, exportable
from otelkit.tail._record import record_of
from otelkit.tail._splice import attribute_fields, readable_of, splice, state_field
from tests.exporter import strategies
from tests.tail.conftest import make_span

thresholds = st.one_of(st.none(), st.just(0), st.integers(min_value=0, max_value=(1 << 56) - 1))
labels = st.one_of(st.just("errors"), st.text(max_size=30), st.just("c/" + "x" * 300))


def sdk_bytes(span: ReadableSpan) -> bytes:
    return encode_spans([span]).resource_spans[0].scope_spans[0].spans[0].SerializeToString()


def spliced(span: ReadableSpan, label: str, threshold: int | None) -> tuple[bytes, TraceState]:
    rec, _ = record_of(span, None)
    state, count = Rewrite(threshold).apply(span.context.trace_state)  # type: ignore[union-attr]
    fields = attribute_fields({POLICY_ATTRIBUTE: label, ADJUSTED_COUNT_ATTRIBUTE: count})
    return splice(rec.data, state_field(state), fields), state


@st.composite
def kept_spans(draw: st.DrawFn) -> ReadableSpan:
    span: Any = draw(strategies.spans())
    existing = draw(st.sampled_from(["none", "policy", "count", "both"]))
    if existing != "none":  # a head sampler's adjusted count (or a policy label) already there
        attrs = dict(span._attributes or {})
        extra = {"policy": [POLICY_ATTRIBUTE], "count": [ADJUSTED_COUNT_ATTRIBUTE],
                 "both": [ADJUSTED_COUNT_ATTRIBUTE, POLICY_ATTRIBUTE]}[existing]
        for key in extra:
            attrs[key] = draw(st.one_of(st.floats(allow_nan=False), st.text(max_size=5)))
        attrs.update(draw(strategies.plain_attrs))
        span._attributes = attrs
    return span  # type: ignore[no-any-return]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kept_spans(), labels, thresholds)
def test_spliced_bytes_equal_the_sdk_encoding_of_the_kept_copy(span: ReadableSpan, label: str, th: int | None) -> None:
    data, _ = spliced(span, label, th)
    assert data == sdk_bytes(exportable(span, label, th))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kept_spans(), labels, thresholds)
def test_the_readable_fallback_encodes_to_the_spliced_bytes(span: ReadableSpan, label: str, th: int | None) -> None:
    rec, _ = record_of(span, None)
    data, state = spliced(span, label, th)
    readable = readable_of(rec, data, state)
    assert readable.context.trace_flags.sampled and readable.context.trace_state is state  # type: ignore[union-attr]
    assert sdk_bytes(readable) == data


def test_th_written_is_the_decisions() -> None:
    span = make_span(trace_state=TraceState([("ot", "rv:00000000000001;th:c"), ("v", "1")]),
                     attributes={ADJUSTED_COUNT_ATTRIBUTE: 2.0, "a": 1})
    data, state = spliced(span, "probabilistic", 1 << 55)
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

    pb = PbSpan.FromString(data)
    assert pb.trace_state == state.to_header() == "ot=th:8;rv:00000000000001,v=1"
    attrs = {kv.key: kv.value for kv in pb.attributes}
    assert [kv.key for kv in pb.attributes] == [ADJUSTED_COUNT_ATTRIBUTE, "a", POLICY_ATTRIBUTE]
    assert attrs[ADJUSTED_COUNT_ATTRIBUTE].double_value == 2.0
    assert attrs[POLICY_ATTRIBUTE].string_value == "probabilistic"
