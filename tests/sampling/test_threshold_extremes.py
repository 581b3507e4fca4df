"""Thresholds for extreme probabilities and the one adjusted-count rule (issue 12 item 7)."""

from __future__ import annotations

import pytest
from opentelemetry.trace import TraceState

from otelkit.sampling import threshold as th

TINY = [1e-18, 1e-17, 2.0**-57, 2.0**-56, 1e-16, 3e-17]


@pytest.mark.parametrize("p", TINY)
def test_tiny_probability_never_rounds_up_to_a_large_one(p: float) -> None:
    t = th.probability_to_threshold(p)
    assert t < th.MAX_THRESHOLD  # still a positive probability
    # at most one unit of 2^-56 away from p (the best 56 bits can do), not 1.5e-5
    assert th.threshold_to_probability(t) <= max(p * 1.01, 2.0**-56) + 2.0**-56


@pytest.mark.parametrize("exponent", range(1, 80))
def test_thresholds_are_monotone_and_close_over_many_decades(exponent: int) -> None:
    p = 2.0 ** -(exponent * 0.7)
    t = th.probability_to_threshold(p)
    got = th.threshold_to_probability(t)
    # precision 4 after the leading f digits: within 2^-12 relative, until the 56 bits run out
    assert abs(got - p) <= max(p * 2.0**-12, 2.0**-56)
    assert th.probability_to_threshold(p / 2) >= t


@pytest.mark.parametrize(
    ("state", "count"),
    [(None, 1.0), ("th:0", 1.0), ("th:8", 2.0), ("th:e666", 2**56 / (2**56 - (0xE666 << 40))), ("th:zz", 1.0)],
)
def test_count_of_derives_the_count_from_th_only(state: str | None, count: float) -> None:
    ts = TraceState([("ot", state)]) if state else None
    assert th.count_of(ts) == count
