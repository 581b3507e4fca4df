"""The estimator's schedule: when it asks to be re-run (the math is in test_budget.py)."""

from __future__ import annotations

import pytest

from otelkit.sampling._estimate import Estimator, KeyState


def test_warm_up_re_estimates_at_doubling_intervals() -> None:
    # a start is a step from nothing: the first estimate (from a dozen arrivals) is followed
    # by re-estimates 100, 200, 400, 800 ms apart instead of being held for a whole interval
    estimator = Estimator(tau=5.0, interval=1.0, target=50.0)
    states = [KeyState(0, 1.0, 0.0) for _ in range(10)]
    gaps = []
    gap = estimator.next_gap(0.1)
    for _ in range(6):
        gaps.append(gap)
        for state in states:
            state.count = round(40.0 * gap)  # steady 40/s per key: no step after the start
        estimator.update(states, gap, 50.0)
        gap = estimator.next_gap(0.1)
    assert gaps == pytest.approx([0.1, 0.1, 0.2, 0.4, 0.8, 1.0])
    assert sum(s.rate for s in states) == pytest.approx(400.0)
