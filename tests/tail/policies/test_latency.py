from __future__ import annotations

import pytest

from otelkit.tail.policies import LatencyPolicy
from otelkit.tail.policy import Outcome


@pytest.mark.parametrize(
    ("lower", "upper", "extents", "outcome"),
    [
        (1000, None, [(0, 1500)], Outcome.SAMPLED),
        (1000, None, [(0, 999)], Outcome.NOT_SAMPLED),
        (1000, None, [(0, 1000)], Outcome.SAMPLED),  # lower bound inclusive
        # extent = latest end - earliest start, across spans that do not overlap
        (1000, None, [(0, 300), (900, 1200)], Outcome.SAMPLED),
        (100, 500, [(0, 499)], Outcome.SAMPLED),
        (100, 500, [(0, 500)], Outcome.NOT_SAMPLED),  # upper bound exclusive
        (0, None, [(5, 5)], Outcome.SAMPLED),
    ],
)
def test_latency_table(span, view, lower, upper, extents, outcome) -> None:
    spans = [span(span_id=i + 1, start_ms=s, end_ms=e) for i, (s, e) in enumerate(extents)]
    assert LatencyPolicy(lower, upper).evaluate(view(spans)).outcome is outcome


@pytest.mark.parametrize(
    ("lower", "upper", "field"),
    [(-1, None, "threshold_ms"), ("x", None, "threshold_ms"), (100, 100, "upper_threshold_ms"),
     (100, float("nan"), "upper_threshold_ms")],
)
def test_invalid_bounds_name_the_field(lower, upper, field) -> None:
    with pytest.raises(ValueError, match=field):
        LatencyPolicy(lower, upper)
