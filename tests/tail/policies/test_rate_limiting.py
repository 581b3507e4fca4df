from __future__ import annotations

import random

import pytest

from otelkit.sampling.threshold import adjusted_count
from otelkit.tail.policies import RateLimitingPolicy


def _run(policy, clock, span, view, *, per_s: int, seconds: int, spans_per_trace: int = 1, seed: int = 1):
    """Feed ``per_s`` traces per simulated second; return (per-second kept, adjusted sum, sent) lists."""
    rng = random.Random(seed)
    kept, adjusted, sent = [], [], []
    for _ in range(seconds):
        k = a = 0
        for _ in range(per_s):
            clock.advance(1 / per_s)
            tid = rng.getrandbits(128)
            spans = [span(trace_id=tid, span_id=i + 1) for i in range(spans_per_trace)]
            d = policy.evaluate(view(spans))
            if d.sampled:
                k += spans_per_trace
                a += adjusted_count(d.threshold) * spans_per_trace
        kept.append(k)
        adjusted.append(a)
        sent.append(per_s * spans_per_trace)
    return kept, adjusted, sent


@pytest.mark.parametrize(
    ("unit", "limit", "per_s", "spans_per_trace"),
    [("traces", 100, 1000, 1), ("traces", 50, 400, 3), ("spans", 100, 200, 5)],
)
def test_holds_the_rate_and_counts_stay_right(clock, span, view, unit, limit, per_s, spans_per_trace) -> None:
    policy = RateLimitingPolicy(**{f"{unit}_per_second": limit}, clock=clock)
    kept, adjusted, sent = _run(policy, clock, span, view, per_s=per_s, seconds=30, spans_per_trace=spans_per_trace)
    steady = slice(10, 30)
    unit_kept = [k / (spans_per_trace if unit == "traces" else 1) for k in kept[steady]]
    assert sum(unit_kept) / 20 == pytest.approx(limit, rel=0.1)
    assert max(unit_kept) <= 2 * limit  # burst capacity
    # Adjusted counts (from the threshold each decision carried) estimate what was offered.
    assert sum(adjusted[steady]) == pytest.approx(sum(sent[steady]), rel=0.05)


def test_under_the_limit_keeps_everything_with_count_one(clock, span, view) -> None:
    policy = RateLimitingPolicy(traces_per_second=100, clock=clock)
    kept, adjusted, sent = _run(policy, clock, span, view, per_s=20, seconds=5)
    assert kept == sent
    assert adjusted == sent


def test_bucket_caps_a_sudden_surge(clock, span, view) -> None:
    policy = RateLimitingPolicy(traces_per_second=10, clock=clock)
    _run(policy, clock, span, view, per_s=5, seconds=10)
    kept, _, _ = _run(policy, clock, span, view, per_s=2000, seconds=1)  # 400x more, at once
    # the budget (burst 20 + 10/s) lowers the probability to 1/8 once spent, never refuses:
    # a few more than a hard cap would keep, but each with its exact count
    assert kept[0] <= 5 * 10
    later, adjusted, sent = _run(policy, clock, span, view, per_s=2000, seconds=10)
    assert sum(later[5:]) / 5 == pytest.approx(10, rel=0.3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({}, "exactly one"), ({"spans_per_second": 1, "traces_per_second": 1}, "exactly one"),
     ({"spans_per_second": 0}, "spans_per_second"), ({"traces_per_second": -3}, "traces_per_second"),
     ({"traces_per_second": 5, "tau_s": 0}, "tau_s")],
)
def test_invalid(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        RateLimitingPolicy(**kwargs)
