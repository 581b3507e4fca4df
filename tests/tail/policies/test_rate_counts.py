"""Rate-limited and composite tail decisions count exactly (issue 12 item 5, issue 17).

A fake-clock replay with a steady base load, 10x spikes, a mix of small and big traces
(bigger than the budget's burst): the sum over kept traces of the adjusted count (from
the threshold each decision carried) must come within 2% of the traces offered (the trace
counts vary by ~0.6% over seeds here; span-weighted sums are unbiased too, but 2% of the
traces carry ~40% of the spans, so they vary by 3-5% and are not asserted), and traces
bigger than the budget's burst are kept under light load.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from otelkit.sampling.threshold import RANDOMNESS_MASK, adjusted_count
from otelkit.tail.policies import (
    AlwaysSamplePolicy,
    CompositePolicy,
    ProbabilisticPolicy,
    RateLimitingPolicy,
    StatusCodePolicy,
)


@dataclass
class SimTrace:
    """What the rate policies read of a trace (the TraceView attributes they use)."""

    trace_id: int
    span_count: int
    has_error: bool = False
    spans: tuple[object, ...] = field(default=())

    @property
    def randomness(self) -> int:
        return self.trace_id & RANDOMNESS_MASK


@dataclass
class Counts:
    traces: int = 0
    spans: int = 0
    kept_traces: int = 0
    est_traces: float = 0.0
    est_spans: float = 0.0


def replay(policy, clock, *, seconds: int, base: float, seed: int, spike: float = 10.0, big: float = 0.02) -> Counts:
    """Poisson arrivals at ``base`` traces/s, ``spike`` x for 5 s every 40 s; sizes 1-20
    spans, ``big`` of them 300 spans; 2% errors. Returns what was offered, kept, estimated."""
    rng = random.Random(seed)
    out = Counts()
    end = clock.now + seconds
    start = clock.now
    while clock.now < end:
        rate = base * (spike if (clock.now - start) % 40 < 5 else 1)
        clock.advance(rng.expovariate(rate))
        size = 300 if rng.random() < big else rng.randint(1, 20)
        trace = SimTrace(rng.getrandbits(128), size, rng.random() < 0.02)
        out.traces += 1
        out.spans += size
        decision = policy.evaluate(trace)
        if decision.sampled:
            count = adjusted_count(decision.threshold)
            out.kept_traces += 1
            out.est_traces += count
            out.est_spans += size * count
    return out


def _check(out: Counts) -> None:
    assert out.est_traces == pytest.approx(out.traces, rel=0.02)
    assert out.kept_traces < out.traces / 2  # the limit did bite


@pytest.mark.parametrize(("unit", "limit"), [("spans", 2000.0), ("traces", 120.0)])
def test_rate_limiting_counts_within_two_percent_with_spikes_and_big_traces(clock, unit, limit) -> None:
    policy = RateLimitingPolicy(**{f"{unit}_per_second": limit}, clock=clock)
    _check(replay(policy, clock, seconds=300, base=200, seed=7))


def test_composite_counts_within_two_percent_with_spikes_and_big_traces(clock) -> None:
    policy = CompositePolicy(
        [StatusCodePolicy(["ERROR"], name="errors"), ProbabilisticPolicy(50, name="rest")],
        max_total_spans_per_second=2000,
        rate_allocation={"errors": 20},
        clock=clock,
    )
    _check(replay(policy, clock, seconds=300, base=200, seed=11))


@pytest.mark.parametrize("make", [
    lambda clock: RateLimitingPolicy(spans_per_second=100, clock=clock),
    lambda clock: CompositePolicy([AlwaysSamplePolicy(name="all")], max_total_spans_per_second=100,
                                  clock=clock),
])
def test_traces_bigger_than_the_burst_are_kept_under_light_load(clock, make) -> None:
    """300-span traces at 30 spans/s against a 100 spans/s budget (burst 200): the Collector
    style bucket kept none; here every one is kept, with count 1."""
    policy = make(clock)
    rng = random.Random(3)
    decisions = []
    for _ in range(30):
        clock.advance(10.0)
        decisions.append(policy.evaluate(SimTrace(rng.getrandbits(128), 300)))
    kept = [d for d in decisions[3:] if d.sampled]  # after the load estimate settled
    assert len(kept) == len(decisions) - 3
    assert all(d.threshold == 0 for d in kept)
