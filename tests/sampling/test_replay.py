"""Issue 17's targets on the realistic replay (fake clock, seeded: deterministic, not wall time)."""

from __future__ import annotations

import math

import pytest

from otelkit.sampling._reference import EmaThroughputReference, sample_rates
from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.sampling.consistent import ConsistentProbabilitySampler
from otelkit.sampling.replay import Scores, Workload, replay, run, services
from otelkit.sampling.simulate import FakeClock

TARGET = 50.0
SEEDS = 4  # 12 service replays; the figures in docs/sampling.md use 20 seeds


def _adaptive(clock: FakeClock) -> AdaptiveSampler:
    return AdaptiveSampler(TARGET, clock=clock, self_metrics=False, environ={}, pressure=None)


@pytest.fixture(scope="module")
def scores() -> tuple[Scores, Scores]:
    ref = run(lambda clock: EmaThroughputReference(TARGET, clock=clock), seeds=SEEDS, target=TARGET)
    return run(_adaptive, seeds=SEEDS, target=TARGET), ref


def test_steady_state_within_3_percent_and_closer_than_the_reference(scores: tuple[Scores, Scores]) -> None:
    new, ref = scores
    assert abs(new.steady_error) <= 0.03
    assert new.steady_abs_error < ref.steady_abs_error


@pytest.mark.parametrize("row", ["recovery_after_drop", "recovery_after_spike", "recovery_after_spike_end",
                                 "startup_recovery"])
def test_back_within_10_percent_in_5_s(scores: tuple[Scores, Scores], row: str) -> None:
    new, ref = scores
    assert getattr(new, row) <= 5.0
    assert getattr(new, row) <= getattr(ref, row)


def test_start_up_and_drop(scores: tuple[Scores, Scores]) -> None:
    new, ref = scores
    assert 0.9 <= new.startup_ratio <= 1.1  # within +-10 % 5 s after start
    assert new.drop_kept_ratio >= 0.9 > ref.drop_kept_ratio  # a 20x drop keeps (nearly) everything at once


def test_rare_routes_kept_and_counts_exact(scores: tuple[Scores, Scores]) -> None:
    new, ref = scores
    assert new.rare_kept >= 0.95 and new.rare_kept >= ref.rare_kept - 0.01
    assert new.unknown == 0  # every kept root carries th
    # hot keys bounded: the total count is about as precise as the reference's, which
    # overspends its target in spikes and bursts (figures in docs/sampling.md)
    assert new.total_count_expected_sd <= 0.02


def test_bursting_route_count_precision(scores: tuple[Scores, Scores]) -> None:
    # Expected SDs from the kept spans' variance estimates (sum of c * (c - 1)): far less
    # noisy than the SD of 4 errors. Measured over 5 disjoint 4-seed sets (seeds 0-19):
    # outside the 20x step 4.24-4.31 % (the sampler before issue 17: 8.90-9.35 %); whole
    # replay 8.90-9.60 % (before: 10.30-10.94 %). Bounds with margin between the two.
    new, _ = scores
    assert new.burst_outside_step_expected_sd <= 0.06
    assert new.burst_count_expected_sd <= 0.10


def test_the_reference_buys_its_count_precision_by_overspending(scores: tuple[Scores, Scores]) -> None:
    # the bursting route's count error is dominated by the 20x step, where otelkit holds the
    # target and the reference keeps ~10x it (and 2.2x during the route's bursts)
    new, ref = scores
    assert 0.95 <= new.spend <= 1.05 and new.step_spend <= 1.1
    assert ref.step_spend >= 5.0 and ref.burst_kept_ratio >= 1.5


def test_the_first_seconds_of_a_20x_drop_keep_what_arrives() -> None:
    # the sampler before issue 17 kept 2-8/s here: its small keys could not show the drop
    work = services()[0]
    kept = arrived = 0
    for seed in (7, 8, 9):
        res = replay(_adaptive, work, seed=seed, service=0)
        first = slice(int(work.drop[0]), int(work.drop[0]) + 4)
        kept += sum(res.kept[first])
        arrived += sum(res.arrivals[first])
    assert kept >= 0.8 * arrived  # 107 of 120 here; 61 of 120 before


def test_replay_tallies_with_a_keep_all_sampler() -> None:
    work = Workload(60.0, duration=120.0, spike=(30.0, 35.0), drop=(60.0, 70.0))
    res = replay(lambda clock: ConsistentProbabilitySampler(1.0), work, seed=1)
    assert res.kept == res.arrivals and res.adjusted == sum(res.arrivals) and res.unknown == 0
    assert sum(res.arrivals[31:35]) / 4 == pytest.approx(work.base * work.level(32.5), rel=0.1)  # 20x
    rare = res.route_arrivals[90:]
    assert sum(rare) <= 10 * 120 / 60 * 2  # ten routes at <= 1 trace/min
    assert res.route_arrivals[0] > res.route_arrivals[1] > res.route_arrivals[10]  # Zipf
    assert math.isclose(sum(res.expected), sum(res.arrivals), rel_tol=0.05)


def test_reference_apportions_like_dynsampler() -> None:
    rates = sample_rates({"hot": 10000.0, "warm": 100.0, "rare": 1.0}, goal_count=150.0)
    assert rates["rare"] == 1  # under its goal: kept whole
    assert rates["hot"] > rates["warm"] > 1
    kept = 10000.0 / rates["hot"] + 100.0 / rates["warm"] + 1.0
    assert kept == pytest.approx(150.0, rel=0.25)
