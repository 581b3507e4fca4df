"""Replay a realistic multi-key workload through head samplers on a fake clock and score them.

The workload (:class:`Workload`, one per service; :func:`services` gives the default three):

* 100 routes per service (300 in all): 90 with Zipf(1.2) popularity sharing the service's
  rate, 10 *rare* routes at 0.4-1 trace/min each;
* a day-like curve: the service's rate swings +-50 % around its base over the replay;
* a 20x step up of all regular routes for 15 s (``spike``, from 120 s) and a 20x drop for
  25 s (``drop``, from 240 s), in a replay of 420 s;
* one *bursting* route (in the first service) that runs at 20x its rate for 5 s every 40 s.

:func:`replay` feeds every arrival as a root span through the public ``should_sample`` of a
sampler made per service (the fake clock advances with the arrivals) and tallies kept spans
per second, and adjusted counts derived from the ``th`` each kept root carries.
:func:`score` turns a set of replays (seeds x services) into the rows of issue 17's table
(:class:`Scores`). ``benchmarks/bench_sampling_realistic.py`` prints the table;
``tests/sampling/test_replay.py`` asserts the targets.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.trace import SpanKind

from otelkit.sampling.simulate import FakeClock
from otelkit.sampling.threshold import OT_KEY, adjusted_count, read_ot

__all__ = ["Workload", "ReplayResult", "Scores", "services", "replay", "score", "run"]

_SLICE = 0.1  # seconds of constant rates
_ZIPF = 1.2
_REGULAR = 90
_RARE = 10
_BURST_RANK = 9  # the bursting route: 10th most popular of the first service


@dataclass(frozen=True)
class Workload:
    """One service's traffic. Times in seconds from the start, rates in root spans/s."""

    base: float
    duration: float = 420.0
    spike: tuple[float, float] = (120.0, 135.0)
    drop: tuple[float, float] = (240.0, 265.0)
    multiple: float = 20.0
    swing: float = 0.5
    bursting: bool = False
    burst_every: float = 40.0
    burst_length: float = 5.0

    def level(self, t: float) -> float:
        """Rate multiplier of the regular routes at ``t`` (day curve x spike/drop)."""
        m = 1.0 + self.swing * math.sin(2.0 * math.pi * t / self.duration)
        if self.spike[0] <= t < self.spike[1]:
            m *= self.multiple
        elif self.drop[0] <= t < self.drop[1]:
            m /= self.multiple
        return m

    def bursting_now(self, t: float) -> bool:
        return self.bursting and (t % self.burst_every) >= self.burst_every - self.burst_length

    def rates(self, t: float, shares: list[float], rare: list[float]) -> list[float]:
        level = self.base * self.level(t)
        out = [level * s for s in shares]
        if self.bursting_now(t):
            out[_BURST_RANK] *= self.multiple
        return out + rare

    def expected(self, t: float, shares: list[float], rare: list[float]) -> float:
        """Expected arrivals/s at ``t``."""
        return math.fsum(self.rates(t, shares, rare))


def services() -> list[Workload]:
    """The three services of the default workload (bases 240, 160 and 100 root spans/s)."""
    return [Workload(240.0, bursting=True), Workload(160.0), Workload(100.0)]


@dataclass
class ReplayResult:
    """Per-second tallies of one service replay."""

    arrivals: list[int]
    kept: list[int]
    expected: list[float]
    route_arrivals: list[int]
    route_kept: list[int]
    route_adjusted: list[float]
    adjusted: float = 0.0
    variance: float = 0.0  # Horvitz-Thompson estimate of the variance of ``adjusted``
    route_variance: list[float] = field(default_factory=list)
    unknown: int = 0  # kept roots without a usable th
    # the same per-route tallies for the 20x step up only (``Workload.spike``)
    step_arrivals: list[int] = field(default_factory=list)
    step_adjusted: list[float] = field(default_factory=list)
    step_variance: list[float] = field(default_factory=list)


def replay(make: Callable[[FakeClock], Sampler], work: Workload, seed: int, service: int = 0) -> ReplayResult:
    """Feed ``work`` through ``make(clock)`` with arrivals drawn from ``seed``."""
    rng = random.Random(seed * 1009 + service)
    raw = [k ** -_ZIPF for k in range(1, _REGULAR + 1)]
    total = math.fsum(raw)
    shares = [r / total for r in raw]
    rare = [rng.uniform(0.4, 1.0) / 60.0 for _ in range(_RARE)]
    names = [f"GET /s{service}/r{k}" for k in range(_REGULAR + _RARE)]
    clock = FakeClock(0.0)
    sampler = make(clock)
    should_sample = sampler.should_sample
    seconds = int(work.duration)
    res = ReplayResult([0] * seconds, [0] * seconds, [0.0] * seconds, [0] * len(names), [0] * len(names),
                       [0.0] * len(names), route_variance=[0.0] * len(names), step_arrivals=[0] * len(names),
                       step_adjusted=[0.0] * len(names), step_variance=[0.0] * len(names))
    counts: dict[str, float | None] = {}
    expo, uniform, bits = rng.expovariate, rng.random, rng.getrandbits
    server, keep = SpanKind.SERVER, Decision.RECORD_AND_SAMPLE
    slices = int(round(work.duration / _SLICE))
    for i in range(slices):
        start = i * _SLICE
        end = start + _SLICE
        rates = work.rates(start, shares, rare)
        in_step = work.spike[0] <= start < work.spike[1]
        cum = list(accumulate(rates))
        lam = cum[-1]
        res.expected[int(start)] += lam * _SLICE
        t = start
        while True:
            t += expo(lam)
            if t >= end:
                break
            k = bisect.bisect_right(cum, uniform() * lam)
            if k >= len(names):
                k = len(names) - 1
            clock.now = t
            result = should_sample(None, bits(128), names[k], server)
            sec = int(t)
            res.arrivals[sec] += 1
            res.route_arrivals[k] += 1
            if in_step:
                res.step_arrivals[k] += 1
            if result.decision is not keep:
                continue
            res.kept[sec] += 1
            res.route_kept[k] += 1
            ot = (result.trace_state.get(OT_KEY) if result.trace_state else None) or ""
            if ot in counts:
                count = counts[ot]
            else:
                th = read_ot(result.trace_state).th
                count = counts[ot] = adjusted_count(th) if th is not None else None
            if count is None:
                res.unknown += 1
                count = 1.0
            res.adjusted += count
            res.route_adjusted[k] += count
            res.variance += count * (count - 1.0)
            res.route_variance[k] += count * (count - 1.0)
            if in_step:
                res.step_adjusted[k] += count
                res.step_variance[k] += count * (count - 1.0)
    return res


@dataclass
class Scores:
    """The rows of issue 17's table for one sampler over seeds x services."""

    steady_error: float  # mean signed error of 10-s kept rates vs min(target, arrivals)
    steady_abs_error: float
    recovery_after_drop: float  # seconds to +-10 % after a 20x drop ends
    recovery_after_spike: float  # seconds to +-10 % after a 20x step up
    recovery_after_spike_end: float  # seconds to +-10 % after the step up ends (a 20x step down)
    drop_kept_ratio: float  # kept / min(target, arrivals) over the first 6 s of the drop
    startup_ratio: float  # kept / target in second 5
    startup_recovery: float  # seconds to +-10 % after start
    rare_kept: float  # share of rare-route traces kept
    total_count_sd: float  # SD across seeds of the total adjusted count's relative error
    burst_count_sd: float  # SD across seeds of the bursting route's count error
    burst_kept_ratio: float = 0.0  # kept / target in the bursting route's bursts (its service)
    total_count_expected_sd: float = 0.0  # the same from the kept spans' variance estimates
    burst_count_expected_sd: float = 0.0
    burst_outside_step_sd: float = 0.0  # the bursting route's count error outside the 20x step up
    burst_outside_step_expected_sd: float = 0.0
    spend: float = 0.0  # kept / min(target, arrivals) over the whole replay
    step_spend: float = 0.0  # the same during the 20x step up
    unknown: int = 0
    curve: list[float] = field(default_factory=list)  # mean kept / target per second


def _recovery(curve: list[float], event: float, end: float, hold: int = 5) -> float:
    """Seconds after ``event`` until ``curve`` stays within +-10 % for ``hold`` seconds (before ``end``)."""
    first = int(event)
    for d in range(int(end) - first - hold + 1):
        window = curve[first + d:first + d + hold]
        if window and all(0.9 <= r <= 1.1 for r in window):
            return float(d)
    return math.inf


def score(results: list[list[ReplayResult]], works: list[Workload], target: float) -> Scores:
    """Score ``results[seed][service]`` (replays of ``works``) against ``target`` per service."""
    seconds = len(results[0][0].kept)
    curve = [0.0] * seconds
    errors: list[float] = []
    n = 0
    for per_seed in results:
        for res, work in zip(per_seed, works, strict=True):
            n += 1
            goal = [min(target, e) for e in res.expected]
            for s in range(seconds):
                curve[s] += res.kept[s] / goal[s]
            for w in range(0, seconds - 9, 10):
                quiet = w >= 30 and all(w + 10 <= a - 2 or w >= b + 60 for a, b in (work.spike, work.drop))
                if quiet:
                    want = math.fsum(goal[w:w + 10])
                    errors.append(sum(res.kept[w:w + 10]) / want - 1.0)
    curve = [c / n for c in curve]
    work = works[0]
    drop0 = int(work.drop[0])
    rare_arr = rare_kept = 0
    total_err: list[float] = []
    burst_err: list[float] = []
    total_var: list[float] = []
    burst_var: list[float] = []
    outside_err: list[float] = []
    outside_var: list[float] = []
    burst_secs = [t for t in range(seconds) if work.bursting_now(t + 0.5)
                  and not work.spike[0] <= t < work.spike[1] and not work.drop[0] <= t < work.drop[1]]
    burst_kept: list[float] = []
    for per_seed in results:
        arrived = sum(sum(r.arrivals) for r in per_seed)
        total_var.append(math.fsum(r.variance for r in per_seed) / arrived**2)
        total_err.append(math.fsum(r.adjusted for r in per_seed) / arrived - 1.0)
        for res in per_seed:
            rare_arr += sum(res.route_arrivals[_REGULAR:])
            rare_kept += sum(res.route_kept[_REGULAR:])
        first = per_seed[0]
        if burst_secs:
            burst_kept.append(sum(first.kept[t] for t in burst_secs) / (target * len(burst_secs)))
        burst_err.append(first.route_adjusted[_BURST_RANK] / first.route_arrivals[_BURST_RANK] - 1.0)
        burst_var.append(first.route_variance[_BURST_RANK] / first.route_arrivals[_BURST_RANK] ** 2)
        outside = first.route_arrivals[_BURST_RANK] - first.step_arrivals[_BURST_RANK]
        outside_err.append((first.route_adjusted[_BURST_RANK] - first.step_adjusted[_BURST_RANK]) / outside - 1.0)
        outside_var.append((first.route_variance[_BURST_RANK] - first.step_variance[_BURST_RANK]) / outside**2)
    return Scores(
        steady_error=statistics.fmean(errors),
        steady_abs_error=statistics.fmean(abs(e) for e in errors),
        recovery_after_drop=_recovery(curve, work.drop[1], work.duration),
        recovery_after_spike=_recovery(curve, work.spike[0], work.spike[1]),
        recovery_after_spike_end=_recovery(curve, work.spike[1], work.drop[0]),
        drop_kept_ratio=statistics.fmean(curve[drop0:drop0 + 6]),
        startup_ratio=curve[5],
        startup_recovery=_recovery(curve, 0.0, work.spike[0]),
        rare_kept=rare_kept / rare_arr if rare_arr else math.nan,
        total_count_sd=statistics.pstdev(total_err),
        burst_count_sd=statistics.pstdev(burst_err),
        burst_kept_ratio=statistics.fmean(burst_kept) if burst_kept else math.nan,
        total_count_expected_sd=math.sqrt(statistics.fmean(total_var)),
        burst_count_expected_sd=math.sqrt(statistics.fmean(burst_var)),
        burst_outside_step_sd=statistics.pstdev(outside_err),
        burst_outside_step_expected_sd=math.sqrt(statistics.fmean(outside_var)),
        spend=statistics.fmean(curve),
        step_spend=statistics.fmean(curve[int(work.spike[0]):int(work.spike[1])]),
        unknown=sum(r.unknown for per_seed in results for r in per_seed),
        curve=curve,
    )


def run(make: Callable[[FakeClock], Sampler], seeds: int = 20, target: float = 50.0,
        works: list[Workload] | None = None) -> Scores:
    """Replay ``works`` (default :func:`services`) for ``seeds`` seeds and score them."""
    works = works if works is not None else services()
    results = [[replay(make, w, seed, i) for i, w in enumerate(works)] for seed in range(seeds)]
    return score(results, works, target)
