from __future__ import annotations

import math
import random

import pytest
from opentelemetry.trace import TraceState

from otelkit.sampling.threshold import MAX_THRESHOLD, probability_to_threshold
from otelkit.tail.policies import ProbabilisticPolicy
from otelkit.tail.policy import Outcome

T10 = 0xE666 << 40  # spec: 1/10 -> th e666


@pytest.mark.parametrize(
    ("pct", "randomness", "state", "outcome", "threshold"),
    [
        (10, T10, None, Outcome.SAMPLED, T10),  # R == T keeps
        (10, T10 - 1, None, Outcome.NOT_SAMPLED, None),
        (10, MAX_THRESHOLD - 1, None, Outcome.SAMPLED, T10),
        (100, 0, None, Outcome.SAMPLED, 0),
        (0, MAX_THRESHOLD - 1, None, Outcome.NOT_SAMPLED, None),
        # rv in the ot tracestate takes precedence over the trace ID
        (10, MAX_THRESHOLD - 1, TraceState([("ot", "rv:00000000000001")]), Outcome.NOT_SAMPLED, None),
        (10, 0, TraceState([("ot", "rv:ffffffffffffff")]), Outcome.SAMPLED, T10),
    ],
)
def test_probabilistic_table(span, view, pct, randomness, state, outcome, threshold) -> None:
    trace_id = (0xABCD << 64) | randomness  # high bits must not matter
    decision = ProbabilisticPolicy(pct).evaluate(view([span(trace_id=trace_id, trace_state=state)]))
    assert decision.outcome is outcome
    assert decision.threshold == threshold


def test_fraction_within_four_sigma_and_subset(span, view) -> None:
    rng = random.Random(7)
    ids = [rng.getrandbits(128) for _ in range(20000)]
    low, high = ProbabilisticPolicy(5), ProbabilisticPolicy(20)
    kept_low = {t for t in ids if low.evaluate(view([span(trace_id=t)])).sampled}
    kept_high = {t for t in ids if high.evaluate(view([span(trace_id=t)])).sampled}
    assert kept_low <= kept_high
    n, p = len(ids), 0.2
    assert abs(len(kept_high) - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def test_threshold_matches_spec_math() -> None:
    assert ProbabilisticPolicy(1).threshold == probability_to_threshold(0.01)


@pytest.mark.parametrize("pct", [-1, 101, "10", float("inf")])
def test_invalid_percentage(pct) -> None:
    with pytest.raises(ValueError, match="sampling_percentage"):
        ProbabilisticPolicy(pct)
