"""What the head samplers do with the parent's ``th`` (issue 12 item 10, issue 17).

Per the specification: a negative decision carries no ``th``; a malformed ``th`` is ignored
(and not passed on); the adjusted-count attribute of every kept span is derived from the
``th`` the span carries, 1 for an unknown probability (no ``th``).
"""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from otelkit.sampling import (
    ADJUSTED_COUNT_ATTRIBUTE,
    AdaptiveSampler,
    ConsistentProbabilitySampler,
    RulesSampler,
)
from otelkit.sampling.threshold import RANDOMNESS_MASK, count_of

TID = (7 << 64) | RANDOMNESS_MASK

SAMPLERS = {
    "consistent": lambda: ConsistentProbabilitySampler(0.5),
    "adaptive": lambda: AdaptiveSampler(target=10),
    "rules": lambda: RulesSampler([], default_ratio=0.5),
}


def _parent(sampled: bool, ot: str | None):
    state = TraceState([("vendor", "v"), ("ot", ot)] if ot else [("vendor", "v")])
    ctx = SpanContext(TID, 9, True, TraceFlags(1 if sampled else 0), state)
    return trace.set_span_in_context(NonRecordingSpan(ctx))


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("ot", ["th:8", "th:zz;rv:ffffffffffffff", "th:8;x:y"])
def test_negative_decision_removes_th(name, ot) -> None:
    res = SAMPLERS[name]().should_sample(_parent(False, ot), TID, "child")
    assert res.decision is Decision.DROP
    assert "th:" not in (res.trace_state.get("ot") or "")
    assert res.trace_state.get("vendor") == "v"


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("ot", ["th:zz", "th:", "th:123456789abcdef0;rv:ffffffffffffff"])
def test_malformed_parent_th_is_ignored_not_passed_on(name, ot) -> None:
    res = SAMPLERS[name]().should_sample(_parent(True, ot), TID, "child")
    assert res.decision is Decision.RECORD_AND_SAMPLE
    assert "th:" not in (res.trace_state.get("ot") or "")
    assert res.attributes[ADJUSTED_COUNT_ATTRIBUTE] == 1.0


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("ot", [None, "th:0", "th:8", "th:fd70a", "th:8;rv:00000000000000", "rv:ffffffffffffff"])
def test_attribute_agrees_with_the_th_of_every_kept_child(name, ot) -> None:
    res = SAMPLERS[name]().should_sample(_parent(True, ot), TID, "child")
    assert res.decision is Decision.RECORD_AND_SAMPLE
    assert res.attributes[ADJUSTED_COUNT_ATTRIBUTE] == count_of(res.trace_state)
