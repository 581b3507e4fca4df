from __future__ import annotations

import pytest

from otelkit.tail.policies._rate import RateEstimator, TokenBucket, keep_probability


def test_token_bucket_starts_full_and_refills() -> None:
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert all(bucket.take(1, 0.0) for _ in range(20))
    assert not bucket.take(1, 0.0)
    assert bucket.take(5, 0.5)  # 0.5 s * 10/s = 5 tokens
    assert not bucket.take(1, 0.5)
    assert bucket.take(20, 100.0) and not bucket.take(1, 100.0)  # capped at burst


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
