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

__all__ = ["update_rate", "apportion", "weight", "JUMP_RELATIVE", "JUMP_SIGMAS", "MIN_PROBABILITY"]

JUMP_RELATIVE = 0.25
"""A measured count beyond 25 % of the expected one (plus noise) counts as a step."""
JUMP_SIGMAS = 3.0
"""Poisson noise allowance, in standard deviations, before a change counts as a step."""
MIN_PROBABILITY = 2.0**-40
"""Lowest probability handed out (keeps thresholds below 2^56)."""


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
    expected = rate * dt
    if abs(count - expected) > JUMP_RELATIVE * expected + JUMP_SIGMAS * math.sqrt(expected) + 1.0:
        return measured, True
    weight = max(alpha, dt / (age + dt))
    return rate + weight * (measured - rate), False


def weight(rate: float) -> float:
    """A key's claim on the budget: ``1 + log10(1 + rate)`` (rate in traces/s)."""
    return 1.0 + math.log10(1.0 + rate)


def apportion(rates: Sequence[float], target: float) -> list[float]:
    """Keep probabilities per key so that the expected kept rate is ``min(target, sum(rates))``.

    Args:
        rates: estimated arrival rate per key (traces/s, >= 0).
        target: traces/s to keep overall (> 0).

    Returns:
        probabilities in (0, 1], in the order of ``rates``.
    """
    n = len(rates)
    probs = [1.0] * n
    if sum(rates) <= target:
        return probs
    weights = [weight(r) for r in rates]
    order = sorted(range(n), key=lambda i: rates[i] / weights[i])
    budget = float(target)
    wsum = math.fsum(weights)
    for pos, i in enumerate(order):
        rate = rates[i]
        if rate <= budget * weights[i] / wsum:
            budget -= rate
            wsum -= weights[i]
            continue
        # Sorted by rate/weight: every remaining key is over its share; they split the rest.
        level = budget / wsum
        for j in order[pos:]:
            probs[j] = max(MIN_PROBABILITY, min(1.0, level * weights[j] / rates[j]))
        break
    return probs
