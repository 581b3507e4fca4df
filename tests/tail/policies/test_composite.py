from __future__ import annotations

import random

import pytest
from opentelemetry.trace import StatusCode

from otelkit.sampling.threshold import adjusted_count
from otelkit.tail.policies import AlwaysSamplePolicy, CompositePolicy, ProbabilisticPolicy, StatusCodePolicy
from otelkit.tail.policies.composite import water_fill


@pytest.mark.parametrize(
    ("total", "shares", "demands", "expected"),
    [
        (100, [0.5, 0.5], [10, 1000], [10, 90]),  # unused share flows on (#36959)
        (100, [0.75, 0.25], [1000, 1000], [75, 25]),  # both hungry: shares hold
        (100, [0.5, 0.3, 0.2], [0, 1000, 1000], [0, 60, 40]),  # spare split by shares
        (100, [0.5, 0.5], [20, 30], [20, 30]),  # nobody hungry
        (100, [0.2, 0.0], [1000, 1000], [100, 0]),  # the spare goes by share: none to a 0% policy
        (100, [0.2, 0.0], [10, 1000], [10, 90]),  # ... unless it is the only one still hungry
    ],
)
def test_water_fill_table(total, shares, demands, expected) -> None:
    got = water_fill(total, shares, demands)
    assert got == pytest.approx(expected, abs=1e-6)
    assert sum(got) <= total + 1e-9


def _drive(policy, clock, span, view, *, seconds, rates, seed=3):
    """rates: {"error": traces/s, "ok": traces/s}; returns kept spans/s and adjusted sums by kind."""
    rng = random.Random(seed)
    per_s = sum(rates.values())
    kinds = [k for k, r in rates.items() for _ in range(r)]
    kept = {k: 0 for k in rates}
    adjusted = {k: 0.0 for k in rates}
    for second in range(seconds):
        rng.shuffle(kinds)
        for kind in kinds:
            clock.advance(1 / per_s)
            status = StatusCode.ERROR if kind == "error" else StatusCode.UNSET
            d = policy.evaluate(view([span(trace_id=rng.getrandbits(128), status=status)]))
            if d.sampled and second >= seconds // 2:
                kept[kind] += 1
                adjusted[kind] += adjusted_count(d.threshold or 0)
    steady = seconds - seconds // 2
    return {k: v / steady for k, v in kept.items()}, {k: v / steady for k, v in adjusted.items()}


@pytest.mark.parametrize(
    ("rates", "expect_error", "expect_ok"),
    [
        # errors use 10 of their 50 spans/s: the other 40 flow to "rest" (Collector #36959)
        ({"error": 10, "ok": 1000}, 10, 90),
        # both over their shares: 50/50
        ({"error": 400, "ok": 400}, 50, 50),
    ],
)
def test_budget_shares_and_overflow(clock, span, view, rates, expect_error, expect_ok) -> None:
    policy = CompositePolicy(
        [StatusCodePolicy(["ERROR"], name="errors"), AlwaysSamplePolicy(name="rest")],
        max_total_spans_per_second=100,
        rate_allocation={"errors": 50, "rest": 50},
        clock=clock,
    )
    kept, adjusted = _drive(policy, clock, span, view, seconds=20, rates=rates)
    assert kept["error"] == pytest.approx(expect_error, rel=0.12)
    assert kept["ok"] == pytest.approx(expect_ok, rel=0.12)
    # kept traces carry thresholds whose adjusted counts estimate the offered traffic
    assert adjusted["ok"] == pytest.approx(rates["ok"], rel=0.1)
    assert adjusted["error"] == pytest.approx(rates["error"], rel=0.12)


def test_decision_names_the_sub_policy_and_composes_thresholds(clock, span, view) -> None:
    policy = CompositePolicy([ProbabilisticPolicy(50, name="half")], max_total_spans_per_second=1e6, clock=clock)
    trace_id = (1 << 56) - 1  # R = max: kept by any threshold
    d = policy.evaluate(view([span(trace_id=trace_id)]))
    assert d.sampled and d.via == "half"
    assert d.threshold == 1 << 55  # 50% x q=1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate_allocation": {"nope": 10}}, 'rate_allocation policy "nope" is unknown, supported: a, b'),
        ({"rate_allocation": {"a": 80, "b": 30}}, "sums to 110%"),
        ({"max_total_spans_per_second": 0}, "max_total_spans_per_second"),
    ],
)
def test_invalid(kwargs, match) -> None:
    args = {"max_total_spans_per_second": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        CompositePolicy([AlwaysSamplePolicy(name="a"), AlwaysSamplePolicy(name="b")], **args)


def test_duplicate_sub_policy_names_rejected() -> None:
    with pytest.raises(ValueError, match="distinct"):
        CompositePolicy([AlwaysSamplePolicy(), AlwaysSamplePolicy()], 10)
