from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from otelkit.sampling.consistent import ConsistentProbabilitySampler
from otelkit.sampling.simulate import FakeClock, Phase, simulate
from otelkit.sampling.threshold import RANDOMNESS_MASK


class _Recorder(ConsistentProbabilitySampler):
    def __init__(self, probability: float, clock: FakeClock) -> None:
        super().__init__(probability)
        self.low_bits: list[float] = []
        self.times: list[float] = []
        self._clock = clock

    def should_sample(self, parent_context, trace_id, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.low_bits.append((trace_id & RANDOMNESS_MASK) / RANDOMNESS_MASK)
        self.times.append(self._clock())
        return super().should_sample(parent_context, trace_id, name, *args, **kwargs)


def test_phases_buckets_and_clock() -> None:
    clock = FakeClock(500.0)
    result = simulate(ALWAYS_ON, clock, [Phase(10, {"a": 100.0}), Phase(5, {"a": 0.0}), Phase(5, {"b": 400.0})],
                      seed=3, bucket=5.0, per_key=True)
    assert len(result.arrivals) == 4 and result.arrivals[2] == 0
    assert result.kept == result.arrivals  # ALWAYS_ON keeps everything
    assert result.arrival_rate(0, 10) == pytest.approx(100.0, rel=0.1)
    assert result.arrival_rate(15, 20) == pytest.approx(400.0, rel=0.1)
    assert sum(result.key_arrivals["b"]) == result.arrivals[3]
    assert clock.now == pytest.approx(520.0)


def test_clock_advances_with_arrivals_and_estimate_uses_adjusted_counts() -> None:
    clock = FakeClock(0.0)
    sampler = _Recorder(0.25, clock)
    result = simulate(sampler, clock, [Phase(20, {"a": 500.0})], seed=9)
    assert sampler.times == sorted(sampler.times) and 0 < sampler.times[0] < sampler.times[-1] < 20
    assert result.estimated_total == pytest.approx(4 * sum(result.kept))
    assert result.estimated_total == pytest.approx(result.total, rel=0.05)


@pytest.mark.parametrize("stratified", [False, True])
def test_trace_id_randomness_is_uniform(stratified: bool) -> None:
    clock = FakeClock()
    sampler = _Recorder(1.0, clock)
    simulate(sampler, clock, [Phase(10, {"a": 1000.0})], seed=4, stratified=stratified)
    tenths = [0] * 10
    for u in sampler.low_bits:
        tenths[min(int(u * 10), 9)] += 1
    n = len(sampler.low_bits)
    spread = max(abs(t - n / 10) for t in tenths)
    # golden-ratio low bits fill every tenth almost exactly; random ones within noise
    assert spread < (3 if stratified else 4 * (n / 10) ** 0.5)
