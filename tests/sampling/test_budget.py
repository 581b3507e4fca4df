from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otelkit.sampling._budget import apportion, update_rate


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
    p_small, p_big = apportion([100.0, 10000.0], 100.0)
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
