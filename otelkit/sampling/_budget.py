"""The adaptive sampler's math: per-key rate estimates and budget apportioning.

Pure functions (no state, no clock), so they are tested directly.

* :func:`update_rate`: an exponentially weighted average of a key's arrival rate that
  *jumps* to the measured rate when the measurement is far outside the noise (a step), so a
  10x step is followed within one re-apportioning instead of after ~2.3 time constants.
* :func:`apportion`: log-weighted water filling. Each key's share of the target is
  proportional to ``1 + log10(1 + rate)``; keys whose rate is below their share are kept
  1:1 and hand the rest of their share to the others, so rare keys are kept whole and hot
  keys are sampled down; ``sum(p_k * rate_k) == min(target, sum(rate_k))`` exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "update_rate",
    "is_step",
    "apportion",
    "weight",
    "JUMP_RELATIVE",
    "JUMP_SIGMAS",
    "MIN_PROBABILITY",
    "HOT_FLOOR",
    "FEEDBACK_TIME",
    "GAIN_RANGE",
    "feedback",
    "common_level",
]

JUMP_RELATIVE = 0.25
"""A measured count beyond 25 % of the expected one (plus noise) counts as a step."""
JUMP_SIGMAS = 3.0
"""Poisson noise allowance, in standard deviations, before a change counts as a step."""
MIN_PROBABILITY = 2.0**-40
"""Lowest probability handed out (keeps thresholds below 2^56)."""
HOT_FLOOR = 0.7
"""No sampled key (one not kept whole) gets less than this fraction of the sampled keys'
average probability, so a hot key keeps enough spans for its count to stay precise (at
least 70 % of what proportional sampling would give it) instead of being pushed towards
``MIN_PROBABILITY`` as its traffic grows."""


def is_step(count: float, expected: float) -> bool:
    """True when ``count`` arrivals are far outside the Poisson noise of ``expected`` (a step)."""
    return abs(count - expected) > JUMP_RELATIVE * expected + JUMP_SIGMAS * math.sqrt(expected) + 1.0


def update_rate(rate: float, count: int, dt: float, alpha: float, age: float = math.inf) -> tuple[float, bool]:
    """The new arrival-rate estimate (per second) of one key after an interval.

    Returns:
        ``(rate, restarted)``: ``restarted`` is True when the estimate was (re)seeded from this
        interval alone (a new key or a step), so its age starts over.

    Args:
        rate: the previous estimate; negative for a key never estimated (seeded directly).
        count: arrivals during the interval.
        dt: interval length in seconds (> 0).
        alpha: EMA weight of the new measurement, ``1 - exp(-dt / tau)``.
        age: seconds of measurements behind ``rate``. While it is short the estimate is a
            plain average (weight ``dt / (age + dt)``), so a first estimate taken over a few
            milliseconds does not linger for ``tau`` (bias-corrected EMA).
    """
    measured = count / dt
    if rate < 0.0:
        return measured, True
    if is_step(count, rate * dt):
        return measured, True
    weight = max(alpha, dt / (age + dt))
    return rate + weight * (measured - rate), False


def weight(rate: float) -> float:
    """A key's claim on the budget: ``1 + log10(1 + rate)`` (rate in traces/s)."""
    return 1.0 + math.log10(1.0 + rate)


def apportion(rates: Sequence[float], target: float, floor: float = HOT_FLOOR) -> list[float]:
    """Keep probabilities per key so that the expected kept rate is ``min(target, sum(rates))``.

    Args:
        rates: estimated arrival rate per key (traces/s, >= 0).
        target: traces/s to keep overall (> 0).
        floor: no sampled key's probability below ``floor`` x the sampled keys' average
            (0..1, see :data:`HOT_FLOOR`); keys kept whole are not touched.

    Returns:
        probabilities in (0, 1], in the order of ``rates``.
    """
    n = len(rates)
    probs = [1.0] * n
    total = math.fsum(rates)
    if total <= target:
        return probs
    _fill(rates, range(n), target, probs)
    # keys kept whole stay whole; among the others (sampled) none gets under ``floor`` x their
    # average probability: pin those below it and share out the rest again
    free = [i for i in range(n) if probs[i] < 1.0]
    budget = target - math.fsum(rates[i] for i in range(n) if probs[i] >= 1.0)
    lowest = floor * budget / math.fsum(rates[i] for i in free) if free else 0.0
    for _ in range(8):  # each pass pins the keys below the floor; a few passes settle
        pinned = [i for i in free if probs[i] < lowest]
        if not pinned:
            break
        for i in pinned:
            probs[i] = lowest
            budget -= lowest * rates[i]
        free = [i for i in free if probs[i] > lowest]
        _fill(rates, free, budget, probs)
    for i in range(n):
        probs[i] = max(MIN_PROBABILITY, probs[i])
    return probs


def _fill(rates: Sequence[float], keys: Sequence[int], target: float, probs: list[float]) -> None:
    """Log-weighted water filling of ``target`` over ``keys`` (writes ``probs[k]``)."""
    weights = {i: weight(rates[i]) for i in keys}
    order = sorted(keys, key=lambda i: rates[i] / weights[i])
    budget = float(target)
    wsum = math.fsum(weights.values())
    for i in keys:
        probs[i] = 1.0
    for pos, i in enumerate(order):
        rate = rates[i]
        if rate <= budget * weights[i] / wsum:
            budget -= rate
            wsum -= weights[i]
            continue
        # Sorted by rate/weight: every remaining key is over its share; they split the rest.
        level = budget / wsum
        for j in order[pos:]:
            probs[j] = min(1.0, level * weights[j] / rates[j])
        break


FEEDBACK_TIME = 20.0
"""Seconds over which the budget correction (:func:`feedback`) integrates."""
GAIN_RANGE = (0.67, 1.5)
"""Bounds of the budget correction factor."""


class KeyInterval(Protocol):
    """A key's tallies over the last interval, as :func:`feedback` and :func:`common_level` read them."""

    count: int
    probability: float
    rate: float


def feedback(gain: float, keys: Sequence[KeyInterval], dt: float, target: float, saturated: bool) -> float:
    """The budget correction factor after an interval of ``dt`` seconds.

    ``sum(count_k * p_k) / dt`` is the kept rate the interval's probabilities gave on the
    arrivals that came (coin flips aside). Apportioning on noisy per-key estimates makes it
    overshoot on average (``E[1 / rate_estimate] > 1 / rate``: the more keys, the more noise),
    so the factor handed to :func:`apportion` integrates ``target / that rate`` over
    :data:`FEEDBACK_TIME`. Not while everything is kept (``saturated``) and not across a step
    (a ratio beyond 1.5x either way: the estimates are being re-seeded), so it never winds up.
    """
    if saturated or dt <= 0.0:
        return gain
    expected = math.fsum(k.count * k.probability for k in keys) / dt
    if expected <= 0.0:
        return gain
    ratio = target / expected
    if not 1.0 / 1.5 < ratio < 1.5:
        return gain
    gain *= ratio ** min(1.0, dt / FEEDBACK_TIME)
    return min(GAIN_RANGE[1], max(GAIN_RANGE[0], gain))


def common_level(keys: Sequence[KeyInterval], dt: float, weight: float) -> tuple[float, bool]:
    """The factor by which the keys that did not step on their own changed together, and
    whether that was a step.

    Per-key estimates are noisy, so they average over a long time; the sum over all keys
    that did not step on their own is far less noisy, so it sets their common level with
    the EMA weight ``weight`` (a shorter time constant), or at once when the sum stepped (a
    key with a few arrivals per interval cannot show a 20x drop on its own, the sum can).
    """
    count = expected = 0.0
    for k in keys:
        if k.rate <= 0.0:
            continue
        e = k.rate * dt
        if e >= 1.0 and is_step(k.count, e):
            continue  # stepped on its own (a key expecting under one arrival is not evidence alone)
        count += k.count
        expected += e
    if expected <= 0.0:
        return 1.0, False
    if is_step(count, expected):
        return max(count, 0.5) / expected, True
    return 1.0 + weight * (count - expected) / (expected + 1.0), False
