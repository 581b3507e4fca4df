from __future__ import annotations

import pytest

from otelkit.tail.policies._rate import RateEstimator, TokenBucket, keep_probability


def test_token_bucket_scales_the_probability_and_never_refuses() -> None:
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert bucket.share(5, 0.0) == 1.0
    bucket.spend(15, 0.0)
    assert bucket.share(10, 0.0) == 0.5  # 5 tokens left for a cost of 10
    bucket.spend(100, 0.0)
    assert bucket.tokens == -20  # debt at most one burst deep
    assert bucket.share(1, 0.0) == bucket.floor > 0
    assert bucket.share(1, 2.5) == 1.0  # 2.5 s * 10/s refilled
    assert bucket.share(1000, 100.0) == 1.0  # bigger than the burst: a full bucket keeps it
    bucket.spend(1000, 100.0)
    assert bucket.tokens == -20


@pytest.mark.parametrize("rate", [10.0, 1000.0])
def test_rate_estimator_converges_and_decays(rate: float) -> None:
    est = RateEstimator(tau=1.0, now=0.0)
    t = 0.0
    for _ in range(int(rate * 10)):
        t += 1 / rate
        est.observe(1.0, t)
    assert est.rate(t) == pytest.approx(rate, rel=0.02)
    assert est.rate(t + 5.0) < rate * 0.05  # an idle stream fades


@pytest.mark.parametrize(("target", "demand", "p"), [(10, 5, 1.0), (10, 0, 1.0), (10, 40, 0.25)])
def test_keep_probability(target, demand, p) -> None:
    assert keep_probability(target, demand) == p
