"""Deterministic traffic simulation for head samplers (tests, docs plot, capacity planning).

Feeds a sampler Poisson arrivals of root spans on a fake clock, phase by phase, calling
``should_sample`` directly (no tracer), and tallies per time bucket: arrivals, kept spans
and the sum of the kept spans' adjusted counts.

Example::

    from otelkit.sampling.adaptive import AdaptiveSampler
    from otelkit.sampling.simulate import FakeClock, Phase, simulate

    clock = FakeClock()
    sampler = AdaptiveSampler(100, clock=clock, self_metrics=False)
    result = simulate(sampler, clock, [Phase(30, {"GET /a": 1000.0})], seed=1)
    print(result.kept_rate(10, 30))
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.trace import SpanKind

from otelkit.sampling._decide import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.sampling.threshold import MAX_THRESHOLD

__all__ = ["FakeClock", "Phase", "SimResult", "simulate"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


class FakeClock:
    """A settable monotonic clock in seconds."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Phase:
    """``duration`` seconds of Poisson arrivals at ``rates`` (span name -> root spans/s)."""

    duration: float
    rates: dict[str, float]


@dataclass
class SimResult:
    """Per-bucket tallies of one simulation (bucket ``i`` covers ``[i*bucket, (i+1)*bucket)``)."""

    bucket: float
    arrivals: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    adjusted: list[float] = field(default_factory=list)
    key_arrivals: dict[str, list[int]] = field(default_factory=dict)
    key_kept: dict[str, list[int]] = field(default_factory=dict)
    key_adjusted: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def _span(self, start: float, end: float) -> slice:
        return slice(int(round(start / self.bucket)), int(round(end / self.bucket)))

    def kept_rate(self, start: float, end: float) -> float:
        """Kept spans per second between ``start`` and ``end`` (seconds from the beginning)."""
        return sum(self.kept[self._span(start, end)]) / (end - start)

    def arrival_rate(self, start: float, end: float) -> float:
        """Arriving root spans per second between ``start`` and ``end``."""
        return sum(self.arrivals[self._span(start, end)]) / (end - start)

    def rates(self) -> list[float]:
        """Kept spans per second of every bucket."""
        return [k / self.bucket for k in self.kept]

    @property
    def total(self) -> int:
        """Root spans offered."""
        return sum(self.arrivals)

    @property
    def estimated_total(self) -> float:
        """Sum of the adjusted counts of the kept spans (estimates :attr:`total`)."""
        return math.fsum(self.adjusted)


def _trace_id(rng: random.Random, index: int, offset: float, stratified: bool) -> int:
    if not stratified:
        return rng.getrandbits(128) | 1
    low = int(((index * _GOLDEN + offset) % 1.0) * MAX_THRESHOLD) & (MAX_THRESHOLD - 1)
    return (rng.getrandbits(72) << 56) | low


def simulate(
    sampler: Sampler,
    clock: FakeClock,
    phases: list[Phase],
    *,
    seed: int = 0,
    bucket: float = 1.0,
    stratified: bool = False,
    per_key: bool = False,
) -> SimResult:
    """Run ``phases`` through ``sampler`` on ``clock`` (advanced by the simulation).

    Args:
        sampler: any head sampler; each arrival is a root span named after its key.
        clock: the fake clock the sampler reads.
        phases: consecutive traffic phases.
        seed: seed of arrivals, key choice and trace IDs.
        bucket: tally bucket in seconds (default 1.0).
        stratified: draw the trace IDs' low 56 bits from a seeded golden-ratio sequence
            instead of uniformly, removing coin-flip noise so a rate test measures the
            sampler's probabilities rather than the binomial spread of its coin flips.
        per_key: also tally arrivals and kept spans per key per bucket.
    """
    rng = random.Random(seed)
    offset = rng.random()
    result = SimResult(bucket)
    start = clock.now
    t = 0.0
    index = 0
    for phase in phases:
        names = [k for k, r in phase.rates.items() if r > 0]
        cumulative = []
        total_rate = 0.0
        for name in names:
            total_rate += phase.rates[name]
            cumulative.append(total_rate)
        end = t + phase.duration
        n_buckets = int(round(end / bucket))
        for series in (result.arrivals, result.kept):
            series.extend([0] * (n_buckets - len(series)))
        result.adjusted.extend([0.0] * (n_buckets - len(result.adjusted)))
        if total_rate <= 0:
            t = end
            continue
        while True:
            t += rng.expovariate(total_rate)
            if t >= end:
                t = end
                break
            name = names[bisect.bisect_right(cumulative, rng.random() * total_rate)] if len(names) > 1 else names[0]
            clock.now = start + t
            res = sampler.should_sample(None, _trace_id(rng, index, offset, stratified), name, SpanKind.SERVER)
            index += 1
            b = min(int(t / bucket), n_buckets - 1)
            result.arrivals[b] += 1
            kept = res.decision is Decision.RECORD_AND_SAMPLE
            count = 0.0
            if kept:
                result.kept[b] += 1
                attrs = res.attributes
                count = float(attrs[ADJUSTED_COUNT_ATTRIBUTE]) if attrs and ADJUSTED_COUNT_ATTRIBUTE in attrs else 1.0
                result.adjusted[b] += count
            if per_key:
                arr = result.key_arrivals.setdefault(name, [])
                kep = result.key_kept.setdefault(name, [])
                if len(arr) < n_buckets:
                    arr.extend([0] * (n_buckets - len(arr)))
                    kep.extend([0] * (n_buckets - len(kep)))
                arr[b] += 1
                if kept:
                    kep[b] += 1
                    result.key_adjusted[name] += count
    clock.now = start + t
    return result
