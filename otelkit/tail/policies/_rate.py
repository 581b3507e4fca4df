"""Rate helpers for the rate-limited policies: a token budget and an arrival-rate estimator.

Both take explicit ``now`` values (seconds from any monotonic clock) so tests drive them
with a fake clock. Neither is thread-safe: the processor evaluates policies on one thread.
"""

from __future__ import annotations

import math

__all__ = ["TokenBucket", "RateEstimator", "keep_probability"]


class TokenBucket:
    """A budget refilled at ``rate`` per second up to ``burst``; starts full.

    It never refuses outright (a refusal outside the keep probability would leave kept
    items' adjusted counts too low): :meth:`share` scales the keep probability instead,
    1 while the bucket holds ``min(cost, burst)`` tokens, falling with the tokens left to
    ``floor`` once empty. A kept item spends its cost (:meth:`spend`), possibly into debt
    (down to ``-burst``), so an item larger than the burst is kept when the bucket is full.
    """

    def __init__(self, rate: float, burst: float, now: float, floor: float = 0.125) -> None:
        self.rate = rate
        self.burst = burst
        self.floor = floor
        self.tokens = burst
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
            self._last = now

    def share(self, cost: float, now: float) -> float:
        """Factor (``floor`` .. 1) for the keep probability of an item of ``cost`` tokens."""
        self._refill(now)
        need = min(cost, self.burst)
        if self.tokens >= need:
            return 1.0
        return max(self.floor, self.tokens / need) if need > 0 else 1.0

    def spend(self, cost: float, now: float) -> None:
        """A kept item's cost (the bucket may go into debt, at most ``burst`` deep)."""
        self._refill(now)
        self.tokens = max(-self.burst, self.tokens - cost)


class RateEstimator:
    """Arrival rate by an irregular-time exponentially weighted average (Wright 1986).

    On each arrival of ``cost`` units after a gap ``d``: ``b = exp(-d/tau)``,
    ``C <- b*C + cost``, ``A <- b*A + d``; the rate is ``C / A``. Reading the rate at a later
    time first decays by the silent gap, so an idle stream's rate falls towards 0. ``A``
    starts at ``tau`` (a prior of one quiet time constant), which keeps the first estimates
    finite and conservative.

    Args:
        tau: time constant in seconds (the averaging window), > 0.
        now: construction time.
    """

    def __init__(self, tau: float, now: float) -> None:
        self.tau = tau
        self._count = 0.0
        self._span = tau
        self._last = now

    def observe(self, cost: float, now: float) -> None:
        gap = max(0.0, now - self._last)
        decay = math.exp(-gap / self.tau)
        self._count = decay * self._count + cost
        self._span = decay * self._span + gap
        self._last = max(self._last, now)

    def rate(self, now: float) -> float:
        """Units per second, as of ``now``."""
        gap = max(0.0, now - self._last)
        decay = math.exp(-gap / self.tau)
        span = decay * self._span + gap
        return decay * self._count / span if span > 0 else 0.0


def keep_probability(target: float, demand: float) -> float:
    """``min(1, target / demand)``; 1 when there is no demand."""
    if demand <= target or demand <= 0:
        return 1.0
    return target / demand
