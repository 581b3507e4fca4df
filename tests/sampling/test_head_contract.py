"""One contract for every head sampler, on one golden set of trace IDs (issue 12).

Whatever a sampler decides, a kept root carries a well-formed ``th`` with ``R >= T`` and the
adjusted-count attribute derived from it; at a fixed probability (consistent sampler, a
rules sampler's ratio) the decision is exactly the spec's ``R >= P2T(p)``, from 1 down to
2^-56 and 0.
"""

from __future__ import annotations

import random

import pytest
from opentelemetry.sdk.trace.sampling import Decision

from otelkit.sampling import (
    ADJUSTED_COUNT_ATTRIBUTE,
    AdaptiveSampler,
    ConsistentProbabilitySampler,
    RulesSampler,
)
from otelkit.sampling.threshold import (
    MAX_THRESHOLD,
    RANDOMNESS_MASK,
    count_of,
    probability_to_threshold,
    read_ot,
)

PROBABILITIES = [1.0, 0.5, 0.1, 1e-3, 1e-6, 1e-12, 1e-18, 2.0**-56, 0.0]


def _golden() -> list[int]:
    rng = random.Random(20240601)
    ids = [rng.getrandbits(128) | 1 for _ in range(2000)]
    for p in PROBABILITIES:  # R just below, at and above every threshold tested
        t = probability_to_threshold(p)
        for r in (t - 1, t, t + 1):
            if 0 <= r <= RANDOMNESS_MASK:
                ids.append((rng.getrandbits(72) << 56) | r)
    ids += [(1 << 100) | 0, (1 << 100) | RANDOMNESS_MASK]
    return ids


GOLDEN = _golden()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _check_kept_or_dropped(res, tid: int) -> bool:
    if res.decision is Decision.DROP:
        assert "th:" not in ((res.trace_state or {}).get("ot") or "") if res.trace_state else True
        return False
    th = read_ot(res.trace_state).th
    assert th is not None and 0 <= th < MAX_THRESHOLD
    assert (tid & RANDOMNESS_MASK) >= th  # kept only where the written threshold keeps
    assert res.attributes[ADJUSTED_COUNT_ATTRIBUTE] == count_of(res.trace_state)
    return True


@pytest.mark.parametrize("p", PROBABILITIES)
@pytest.mark.parametrize("kind", ["consistent", "rules"])
def test_fixed_probability_samplers_decide_exactly_like_the_spec(kind, p) -> None:
    sampler = ConsistentProbabilitySampler(p) if kind == "consistent" else RulesSampler([], default_ratio=p)
    t = probability_to_threshold(p)
    for tid in GOLDEN:
        kept = _check_kept_or_dropped(sampler.should_sample(None, tid, "root"), tid)
        assert kept == (t < MAX_THRESHOLD and (tid & RANDOMNESS_MASK) >= t)


@pytest.mark.parametrize("load", [10, 10_000])
def test_adaptive_sampler_honours_the_contract_under_light_and_heavy_load(load) -> None:
    clock = FakeClock()
    sampler = AdaptiveSampler(target=5, clock=clock, self_metrics=False)
    rng = random.Random(load)
    for _ in range(30 * load if load < 1000 else 60_000):  # warm up its estimate
        clock.now += 1.0 / load
        sampler.should_sample(None, rng.getrandbits(128), "GET /x")
    kept = sum(_check_kept_or_dropped(sampler.should_sample(None, tid, "GET /x"), tid) for tid in GOLDEN)
    if load == 10:  # under its target: it keeps
        assert kept > 0


@pytest.mark.parametrize("p", PROBABILITIES)
def test_a_lower_probability_keeps_a_subset(p) -> None:
    lower = ConsistentProbabilitySampler(p / 10)
    higher = ConsistentProbabilitySampler(p)
    for tid in GOLDEN:
        if lower.should_sample(None, tid, "r").decision is not Decision.DROP:
            assert higher.should_sample(None, tid, "r").decision is not Decision.DROP
