from __future__ import annotations

import pytest
from opentelemetry.trace import TraceState

from otelkit.tail.policies import HeadSampledPolicy
from otelkit.tail.policy import Outcome


@pytest.mark.parametrize(
    ("flags", "state", "outcome", "threshold"),
    [
        ((False, False), None, Outcome.NOT_SAMPLED, None),
        ((False, True), None, Outcome.SAMPLED, None),
        ((True, True), TraceState([("ot", "th:e666")]), Outcome.SAMPLED, 0xE666 << 40),
        ((True, False), TraceState([("ot", "th:8;rv:00000000000001")]), Outcome.SAMPLED, 1 << 55),
    ],
)
def test_head_sampled_table(span, view, flags, state, outcome, threshold) -> None:
    spans = [span(span_id=i + 1, sampled=s, trace_state=state) for i, s in enumerate(flags)]
    decision = HeadSampledPolicy().evaluate(view(spans))
    assert decision.outcome is outcome
    assert decision.threshold == threshold
