from __future__ import annotations

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import TraceState

from otelkit.sampling.threshold import read_ot
from otelkit.tail.forward import POLICY_ATTRIBUTE, exportable


def test_copy_is_sampled_labelled_and_carries_th(span) -> None:
    state = TraceState([("ot", "rv:0123456789abcd"), ("vendor", "x")])
    original = span(attributes={"k": "v"}, trace_state=state, events=2, parent_id=9)
    copy = exportable(original, "rest", 0xE666 << 40)
    assert copy.context.trace_flags.sampled and not original.context.trace_flags.sampled
    assert dict(copy.attributes) == {"k": "v", POLICY_ATTRIBUTE: "rest"}
    ot = read_ot(copy.context.trace_state)
    assert (ot.th, ot.rv) == (0xE666 << 40, 0x0123456789ABCD)
    assert copy.context.trace_state.get("vendor") == "x"
    assert (copy.name, copy.parent, copy.start_time, copy.end_time) == (
        original.name, original.parent, original.start_time, original.end_time)
    assert len(copy.events) == 2
    assert POLICY_ATTRIBUTE not in original.attributes


def test_threshold_none_leaves_tracestate_alone(span) -> None:
    state = TraceState([("ot", "th:c")])
    copy = exportable(span(trace_state=state, sampled=True), "head", None)
    assert copy.context.trace_state.get("ot") == "th:c"


def test_dropped_attribute_count_is_kept(span) -> None:
    original = span()
    attrs = BoundedAttributes(maxlen=1, attributes={"a": 1, "b": 2})
    original._attributes = attrs
    assert exportable(original, "p", 0).dropped_attributes == 1
