from __future__ import annotations

import pytest
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import TraceState

from otelkit.sampling import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.sampling.threshold import adjusted_count, count_of, read_ot
from otelkit.tail._forward import POLICY_ATTRIBUTE, exportable, final_threshold


def test_copy_is_sampled_labelled_and_carries_th(span) -> None:
    state = TraceState([("ot", "rv:0123456789abcd"), ("vendor", "x")])
    original = span(attributes={"k": "v"}, trace_state=state, events=2, parent_id=9)
    copy = exportable(original, "rest", 0xE666 << 40)
    assert copy.context.trace_flags.sampled and not original.context.trace_flags.sampled
    assert dict(copy.attributes) == {"k": "v", POLICY_ATTRIBUTE: "rest",
                                     ADJUSTED_COUNT_ATTRIBUTE: adjusted_count(0xE666 << 40)}
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
    assert copy.attributes[ADJUSTED_COUNT_ATTRIBUTE] == 4.0


@pytest.mark.parametrize(
    ("head_state", "tail", "threshold"),
    [("th:0", 0xE666 << 40, 0xE666 << 40), (None, None, None), ("th:e666", 0, 0), ("th:e666", None, None), ("th:zz", 7, 7)],
)
def test_written_count_attribute_always_agrees_with_th(span, head_state, tail, threshold) -> None:
    state = TraceState([("ot", head_state)]) if head_state else None
    copy = exportable(span(trace_state=state, sampled=True), "p", tail)
    assert copy.attributes[ADJUSTED_COUNT_ATTRIBUTE] == count_of(copy.context.trace_state)
    if threshold is not None:
        assert read_ot(copy.context.trace_state).th == threshold


@pytest.mark.parametrize(("sees_all", "expected"), [(True, 0), (False, 0xE666 << 40)])
def test_a_tail_that_only_sees_head_sampled_traces_never_lowers_the_head_th(span, sees_all, expected) -> None:
    head = span(trace_state=TraceState([("ot", "th:e666")]), sampled=True)
    assert final_threshold(0, [head], sees_all) == expected
    assert final_threshold(0xF << 52, [head], False) == 0xF << 52  # the tail's larger one stands


def test_dropped_attribute_count_is_kept(span) -> None:
    original = span()
    attrs = BoundedAttributes(maxlen=1, attributes={"a": 1, "b": 2})
    original._attributes = attrs
    assert exportable(original, "p", 0).dropped_attributes == 1
