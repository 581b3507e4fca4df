from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otelkit.sampling._budget import HOT_FLOOR, apportion, common_level, feedback, update_rate


@given(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=60),
       st.floats(min_value=0.01, max_value=1e4))
def test_expected_kept_rate_is_the_target_or_everything(rates: list[float], target: float) -> None:
    probs = apportion(rates, target)
    assert all(0.0 < p <= 1.0 for p in probs)
    kept = math.fsum(p * r for p, r in zip(probs, rates, strict=True))
    assert kept == pytest.approx(min(target, math.fsum(rates)), rel=1e-9, abs=1e-9)


def test_rare_keys_are_kept_whole_and_the_hot_key_pays() -> None:
    rates = [9900.0] + [2.0] * 50
    probs = apportion(rates, 200.0)
    assert probs[1:] == [1.0] * 50
    assert probs[0] == pytest.approx(100.0 / 9900.0)


def test_hot_keys_share_logarithmically() -> None:
    p_small, p_big = apportion([100.0, 10000.0], 100.0, floor=0.0)
    kept_small, kept_big = p_small * 100.0, p_big * 10000.0
    assert kept_big > kept_small  # more traffic, bigger share ...
    assert kept_big / kept_small == pytest.approx((1 + math.log10(10001)) / (1 + math.log10(101)))  # ... by log10


@pytest.mark.parametrize(("rate", "count", "dt", "age", "expected", "restarted"), [
    (-1.0, 50, 1.0, 0.0, 50.0, True),  # first estimate: measured
    (100.0, 110, 1.0, 99.0, 100.0 + 0.2 * 10, False),  # within noise: EMA
    (100.0, 110, 1.0, 1.0, 105.0, False),  # young estimate: plain average of 2 s
    (100.0, 1000, 1.0, 99.0, 1000.0, True),  # 10x step up: jump
    (1000.0, 100, 1.0, 99.0, 100.0, True),  # 10x step down: jump
    (0.1, 1, 0.1, 99.0, 0.1 + 0.2 * 9.9, False),  # one rare arrival in a short interval is not a step
])
def test_update_rate(rate: float, count: int, dt: float, age: float, expected: float, restarted: bool) -> None:
    new, jumped = update_rate(rate, count, dt, 0.2, age)
    assert new == pytest.approx(expected) and jumped is restarted


@given(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=60),
       st.floats(min_value=0.01, max_value=1e4))
def test_no_sampled_key_below_the_floor_and_whole_keys_stay_whole(rates: list[float], target: float) -> None:
    free = apportion(rates, target, floor=0.0)
    probs = apportion(rates, target)
    sampled = [i for i, p in enumerate(free) if p < 1.0]
    for i, p in enumerate(free):
        if p >= 1.0:
            assert probs[i] == 1.0  # the floor never takes from keys kept whole
    if sampled:
        budget = target - math.fsum(r for r, p in zip(rates, free, strict=True) if p >= 1.0)
        average = budget / math.fsum(rates[i] for i in sampled)
        assert min(probs[i] for i in sampled) >= HOT_FLOOR * average * (1 - 1e-9)


def test_floor_lifts_the_hot_key_and_the_others_pay() -> None:
    rates = [100000.0] + [50.0] * 100  # a hot key with 95 % of the traffic
    free = apportion(rates, 500.0, floor=0.0)
    probs = apportion(rates, 500.0)
    assert free[0] < 0.2 * 500.0 / sum(rates)  # log weighting alone pushes it far down
    assert probs[0] == pytest.approx(HOT_FLOOR * 500.0 / sum(rates))
    assert probs[1] < free[1]
    assert math.fsum(p * r for p, r in zip(probs, rates, strict=True)) == pytest.approx(500.0)


class _K:
    def __init__(self, count: int, probability: float, rate: float) -> None:
        self.count, self.probability, self.rate = count, probability, rate


def test_feedback_integrates_the_overshoot_and_never_winds_up() -> None:
    # noisy estimates made the probabilities 10 % too high: 55/s kept for a target of 50
    gain = 1.0
    for _ in range(200):
        gain = feedback(gain, [_K(110, 0.5 * gain, 100.0)], 1.0, 50.0, saturated=False)
    assert gain == pytest.approx(50.0 / 55.0, rel=0.01)
    over = [_K(110, 0.5, 100.0)]
    assert feedback(1.0, over, 1.0, 50.0, saturated=True) == 1.0  # everything kept: no signal
    assert feedback(1.0, [_K(1000, 0.5, 100.0)], 1.0, 50.0, saturated=False) == 1.0  # a step


def test_common_level_follows_keys_too_small_to_step_alone() -> None:
    keys = [_K(0, 1.0, 0.5) for _ in range(200)]  # 100/s over keys of 0.5/s: a 20x drop ...
    for k in keys[:5]:
        k.count = 1  # ... leaves each key within its noise
    level, stepped = common_level(keys, 1.0, 0.2)
    assert stepped and level == pytest.approx(5 / 100.0)
    hot = [_K(2000, 1.0, 100.0), *[_K(50, 1.0, 50.0) for _ in range(4)]]
    level, stepped = common_level(hot, 1.0, 0.2)  # one key stepping alone does not move the others
    assert not stepped and level == pytest.approx(1.0)
