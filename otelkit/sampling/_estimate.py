"""The adaptive sampler's estimator: per-key rates from counts, then probabilities per key.

:class:`KeyState` is one key's record (the sampler counts arrivals into it and reads its
threshold); :class:`Estimator` owns everything else the estimate needs (the common level's
age, the budget correction, whether the last interval kept everything) and turns one
interval's counts into new rates, probabilities, thresholds and step trips. Both are used
under the sampler's lock.

How an interval of ``dt`` seconds is folded in (see ``docs/sampling.md``, "The estimator"):

1. **Budget correction** (:func:`~otelkit.sampling._budget.feedback`): the kept rate the
   interval's probabilities gave on the arrivals that came, against the target.
2. **Common level** (:func:`~otelkit.sampling._budget.common_level`): the keys that did not
   step on their own are rescaled together, with a short time constant (``tau / 5``), at once
   on a step of their sum, and by plain average over the intervals since such a step.
3. **Shares**: each key's own estimate follows its count with a weight set by the *number of
   arrivals* in the interval (memory ``60 x target`` arrivals): shares neither fade during a
   drop nor lag in a spike. A key whose count is far outside its noise restarts from it.
4. **Apportioning** (:func:`~otelkit.sampling._budget.apportion`): log-weighted water
   filling of ``target x correction``, no sampled key below 0.7x the sampled keys' average probability.

Re-estimates come every ``interval``, and at doubling intervals from ``interval / 10`` after
a common step and after the start (:meth:`Estimator.next_gap`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from otelkit.sampling._budget import (
    JUMP_RELATIVE,
    JUMP_SIGMAS,
    apportion,
    common_level,
    feedback,
    update_rate,
)
from otelkit.sampling.threshold import probability_to_threshold

__all__ = ["KeyState", "Estimator", "step_trip", "NEW_KEY_TRIP", "SHAPE_ARRIVALS", "LEVEL_TAUS"]

NEW_KEY_TRIP = 16
"""Arrivals of a key not yet estimated that trigger an early re-estimate."""
SHAPE_ARRIVALS = 60.0
"""Keys' shares are averaged over the last ``SHAPE_ARRIVALS * target`` arrivals (at least 1000)."""
LEVEL_TAUS = 0.2
"""Time constant of the keys' common level, in units of ``tau``."""


def step_trip(expected: float) -> int:
    """Arrivals beyond which ``expected`` ones (in an interval) have stepped up."""
    return int(expected + JUMP_RELATIVE * expected + JUMP_SIGMAS * math.sqrt(expected) + 1.0)


class KeyState:
    """One key: arrivals this interval, its threshold, and the estimate behind it."""

    __slots__ = ("count", "trip", "threshold", "probability", "rate", "age", "last_seen")

    def __init__(self, threshold: int, probability: float, now: float) -> None:
        self.count = 0
        self.trip = NEW_KEY_TRIP  # arrivals within one interval that mean this key stepped up
        self.threshold = threshold
        self.probability = probability
        self.rate = -1.0  # not estimated yet
        self.age = 0.0  # seconds of measurement behind ``rate``
        self.last_seen = now


class Estimator:
    """Turns an interval's per-key counts into probabilities (see the module docstring).

    Args:
        tau: time constant of the rate estimates in seconds.
        interval: seconds between regular re-estimates (sets each key's step trip).
        target: the configured target (sets the shares' memory).
    """

    def __init__(self, tau: float, interval: float, target: float) -> None:
        self._tau = tau
        self._interval = interval
        self._shape_arrivals = max(1000.0, SHAPE_ARRIVALS * target)
        self.gain = 1.0  # budget correction
        self.saturated = True  # the last interval kept everything
        # seconds since the keys' common level last stepped; a start is such a step (from
        # nothing), so the first seconds re-estimate at doubling intervals (100 ms, 200 ms, ...)
        # instead of holding an estimate from the first dozen arrivals for a whole interval
        self.level_age = 0.0

    def update(self, states: Sequence[KeyState], dt: float, target: float) -> float:
        """Fold in an interval of ``dt`` seconds (> 0) for ``target`` traces/s; the total rate."""
        self.gain = feedback(self.gain, states, dt, target, self.saturated)
        # after a common step the level is the plain average of the intervals since (the
        # interval holding the step mixes before and after, so it is superseded at once)
        weight = max(-math.expm1(-dt / (LEVEL_TAUS * self._tau)), dt / (self.level_age + dt))
        level, stepped = common_level(states, dt, weight)
        self.level_age = 0.0 if stepped else self.level_age + dt
        alpha = -math.expm1(-sum(s.count for s in states) / self._shape_arrivals)
        for state in states:
            rate = state.rate * level if state.rate > 0.0 else state.rate
            state.rate, restarted = update_rate(rate, state.count, dt, alpha, state.age)
            state.age = dt if restarted else state.age + dt
            state.count = 0
        rates = [s.rate for s in states]
        total = math.fsum(rates)
        self.saturated = total <= target
        for state, rate, p in zip(states, rates, apportion(rates, target * self.gain), strict=True):
            state.probability = p
            state.threshold = probability_to_threshold(p)
            state.trip = step_trip(rate * self._interval)
        return total

    def next_gap(self, gap: float) -> float:
        """Seconds to the next re-estimate: ``interval``, or doubling from ``gap`` after a
        common step or the start."""
        return min(self._interval, max(gap, self.level_age))
