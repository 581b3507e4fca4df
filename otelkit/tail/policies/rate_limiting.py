"""``rate_limiting``: keep up to N spans (or traces) per second, with exact counts.

A plain token bucket (the Collector's) keeps what fits and reports adjusted count 1
(Collector #49710), and never keeps an item larger than its burst. Here every decision is a
spec-consistent probability decision and carries the threshold of the probability actually
applied:

1. an arrival-rate estimator (:class:`RateEstimator`, time constant ``tau_s``) tracks the
   offered load in the limited unit (spans or traces per second), this trace included;
2. a token budget (``target`` per second, burst ``burst_factor * target``) says how much of
   that probability it allows right now (:meth:`TokenBucket.share`: 1 while it has room,
   less as it empties, never 0);
3. ``p = min(1, target / offered) * share`` and ``T`` its threshold; the trace is kept iff
   ``R >= T`` and the decision carries ``T`` (written as ``th``); a kept trace spends its
   cost from the budget (into debt if it is larger than the burst).

``p`` is fixed before ``R`` is looked at, so each kept trace's adjusted count ``1 / p`` is
unbiased, surges included: the budget lowers the probability, it never refuses a trace the
threshold keeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from otelkit.sampling.threshold import probability_to_threshold
from otelkit.tail.policies._check import check_name, check_number
from otelkit.tail.policies._rate import RateEstimator, TokenBucket, keep_probability
from otelkit.tail.policy import NOT_SAMPLED, Decision, Outcome, TraceView

__all__ = ["RateLimitingPolicy"]


class RateLimitingPolicy:
    """Keep at most ``spans_per_second`` spans or ``traces_per_second`` traces.

    Args:
        spans_per_second: span budget (give exactly one of the two), > 0.
        traces_per_second: trace budget, > 0.
        tau_s: time constant of the load estimate in seconds; default 2.
        burst_factor: budget capacity as a multiple of the per-second budget; default 2.
        name: label; default ``rate_limiting``.
        clock: monotonic seconds; default ``time.monotonic``.
    """

    attribute_keys: frozenset[str] = frozenset()
    """Span attributes this policy reads: none."""

    def __init__(
        self,
        spans_per_second: float | None = None,
        traces_per_second: float | None = None,
        *,
        tau_s: float = 2.0,
        burst_factor: float = 2.0,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = check_name(name, "rate_limiting")
        if (spans_per_second is None) == (traces_per_second is None):
            raise ValueError(
                "give exactly one of spans_per_second and traces_per_second "
                f"(got {spans_per_second!r} and {traces_per_second!r})"
            )
        field = "spans_per_second" if spans_per_second is not None else "traces_per_second"
        limit = check_number(field, spans_per_second if spans_per_second is not None else traces_per_second, lo=0)
        assert limit is not None
        if limit <= 0:
            raise ValueError(f"{field} {limit!r} is invalid: expected a number > 0")
        check_number("tau_s", tau_s, lo=1e-3)
        check_number("burst_factor", burst_factor, lo=1)
        self.limit = limit
        self.per_span = spans_per_second is not None
        self._clock = clock
        now = clock()
        self._load = RateEstimator(tau_s, now)
        self._bucket = TokenBucket(limit, limit * burst_factor, now)

    def evaluate(self, trace: TraceView) -> Decision:
        now = self._clock()
        cost = float(trace.span_count) if self.per_span else 1.0
        self._load.observe(cost, now)
        p = keep_probability(self.limit, self._load.rate(now)) * self._bucket.share(cost, now)
        threshold = probability_to_threshold(p)
        if trace.randomness >= threshold:
            self._bucket.spend(cost, now)
            return Decision(Outcome.SAMPLED, threshold)
        return NOT_SAMPLED
