"""``composite``: ordered sub-policies sharing one span budget, unused share flowing on.

The first sub-policy (in order) that says SAMPLED owns the trace. Each sub-policy has a
share of ``max_total_spans_per_second`` (``rate_allocation`` in percent; unlisted ones split
what is left equally). Unlike the Collector (#36959), a share a sub-policy does not use is
not lost: allocations are recomputed per decision by water-filling — every sub-policy gets
``min(share, its current demand)`` and the remainder is handed to the sub-policies whose
demand exceeds their share, in proportion to their shares, until it is used up.

Each decision is spec-consistent and carries the threshold of the probability actually
applied: with ``q = min(1, allocation / demand)`` (demand = estimated matched spans per
second, this trace included), the sub-policy's own probability ``p_s`` (1 for deterministic
policies and for a sub-policy that states none) and the share a global token budget
(``max_total_spans_per_second``, burst 2x) allows now (:meth:`TokenBucket.share`, never 0),
the trace is kept iff ``R >= P2T(p_s * q * share)``, and that threshold is written as
``th``. Kept spans are labelled ``<composite>/<sub-policy>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from otelkit.sampling.threshold import probability_to_threshold, threshold_to_probability
from otelkit.tail.policies._check import check_name, check_number
from otelkit.tail.policies._rate import RateEstimator, TokenBucket, keep_probability
from otelkit.tail.policy import DROPPED, NOT_SAMPLED, Decision, Outcome, Policy, TraceView, attribute_keys

__all__ = ["CompositePolicy", "water_fill"]


def water_fill(total: float, shares: Sequence[float], demands: Sequence[float]) -> list[float]:
    """Split ``total`` among consumers: ``min(share*total, demand)`` each, then the spare
    to those still hungry, in proportion to their shares (equally if all are 0)."""
    eff = [min(s * total, d) for s, d in zip(shares, demands, strict=True)]
    for _ in range(len(shares) + 1):
        spare = total - sum(eff)
        hungry = [i for i, d in enumerate(demands) if d - eff[i] > 1e-12]
        if spare <= 1e-12 or not hungry:
            break
        weights = [shares[i] for i in hungry]
        if sum(weights) <= 0:
            weights = [1.0] * len(hungry)
        scale = spare / sum(weights)
        for i, w in zip(hungry, weights, strict=True):
            eff[i] = min(demands[i], eff[i] + w * scale)
    return eff


class CompositePolicy:
    """Ordered sub-policies with per-policy shares of a total span rate.

    Args:
        policies: sub-policies in evaluation order, with distinct names.
        max_total_spans_per_second: the total budget, > 0.
        rate_allocation: sub-policy name -> percent of the total (sum <= 100).
        tau_s: time constant of the demand estimates (s); default 2.
        name: label; default ``composite``.
        clock: monotonic seconds; default ``time.monotonic``.
    """

    @property
    def attribute_keys(self) -> frozenset[str] | None:
        """Span attributes its sub-policies read (None: one declares nothing)."""
        return attribute_keys(self.policies)

    def __init__(
        self,
        policies: Sequence[Policy],
        max_total_spans_per_second: float,
        rate_allocation: Mapping[str, float] | None = None,
        *,
        tau_s: float = 2.0,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = check_name(name, "composite")
        if not policies:
            raise ValueError("composite_sub_policy is empty: expected at least one sub-policy")
        names = [p.name for p in policies]
        if len(set(names)) != len(names):
            raise ValueError(f"composite_sub_policy names {names!r} are invalid: expected distinct names")
        total = check_number("max_total_spans_per_second", max_total_spans_per_second, lo=0)
        assert total is not None
        if total <= 0:
            raise ValueError(f"max_total_spans_per_second {total!r} is invalid: expected a number > 0")
        check_number("tau_s", tau_s, lo=1e-3)
        allocation = dict(rate_allocation or {})
        for key, pct in allocation.items():
            if key not in names:
                raise ValueError(f'rate_allocation policy "{key}" is unknown, supported: {", ".join(names)}')
            check_number(f"rate_allocation[{key}]", pct, lo=0, hi=100)
        used = sum(allocation.values())
        if used > 100 + 1e-9:
            raise ValueError(f"rate_allocation sums to {used:g}%: expected at most 100")
        rest = [n for n in names if n not in allocation]
        each = (100 - used) / len(rest) if rest else 0.0
        self.shares = [allocation.get(n, each) / 100.0 for n in names]
        self.policies = tuple(policies)
        self.total = total
        self._clock = clock
        now = clock()
        self._demand = [RateEstimator(tau_s, now) for _ in self.policies]
        self._bucket = TokenBucket(total, 2 * total, now)

    def allocations(self, now: float | None = None) -> list[float]:
        """Current spans/s allocation of each sub-policy after water-filling."""
        at = self._clock() if now is None else now
        return water_fill(self.total, self.shares, [d.rate(at) for d in self._demand])

    def _first_match(self, trace: TraceView) -> tuple[int, Decision]:
        """Index of the first sub-policy saying SAMPLED (or -1) and its (or the final) decision."""
        for index, policy in enumerate(self.policies):
            decision = policy.evaluate(trace)
            if decision.outcome is Outcome.DROPPED:
                return -1, DROPPED
            if decision.sampled:
                return index, decision
        return -1, NOT_SAMPLED

    def evaluate(self, trace: TraceView) -> Decision:
        index, decision = self._first_match(trace)
        if index < 0:
            return decision
        now = self._clock()
        cost = float(trace.span_count)
        self._demand[index].observe(cost, now)
        share = self.allocations(now)[index]
        q = keep_probability(share, self._demand[index].rate(now))
        p_sub = 1.0 if decision.threshold is None else threshold_to_probability(decision.threshold)
        threshold = probability_to_threshold(p_sub * q * self._bucket.share(cost, now))
        if trace.randomness >= threshold:
            self._bucket.spend(cost, now)
            return Decision(Outcome.SAMPLED, threshold, self.policies[index].name)
        return NOT_SAMPLED
