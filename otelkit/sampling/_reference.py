"""A Refinery-style EMA-throughput head sampler: the yardstick of :mod:`otelkit.sampling.replay`.

Written after dynsampler-go's ``EMAThroughput`` (``emathroughput.go``, ``keyCalculation.go``):

* every ``interval`` (15 s) each key's count of the interval updates its moving average,
  ``ema_k <- weight * count_k + (1 - weight) * ema_k`` (weight 0.5); a key whose average
  falls below ``weight`` is forgotten; an interval without any traffic changes nothing;
* the interval's goal is ``goal_per_s * interval`` spans, shared out in proportion to
  ``log10(max(1, ema_k))`` walking the keys from the least busy up, each key keeping 1 in
  ``ceil(ema_k / goal_k)`` (an integer rate) and handing what it does not use to the rest;
* before the first adjustment every key is sampled 1 in ``initial_rate`` (10); a key not in
  the last adjustment 1:1;
* burst detection: after 3 intervals, when the current interval's count reaches 2x the sum
  of the averages, the averages are updated at once and the interval restarts.

Differences kept on purpose (so its counts can be compared): the keep decision uses the trace
ID's randomness (``R >= T`` for ``T = 2^56 - 2^56 / rate``) instead of ``rand.Intn(rate)``,
and a kept root carries the matching ``th``. The goal is ``goal_per_s * interval`` (the
published ``emathroughput.go`` divides by the interval instead, which is a unit slip).
Not a production sampler: no rules, no parent handling beyond following a valid parent.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState, get_current_span
from opentelemetry.util.types import Attributes

from otelkit.sampling.threshold import MAX_THRESHOLD, OT_KEY, RANDOMNESS_MASK, encode_th

__all__ = ["EmaThroughputReference", "sample_rates"]


def sample_rates(ema: dict[str, float], goal_count: float) -> dict[str, int]:
    """dynsampler-go ``calculateSampleRates``: integer 1-in-N rates per key for ``goal_count``."""
    log_sum = math.fsum(math.log10(max(1.0, v)) for v in ema.values())
    ratio = goal_count / log_sum if log_sum > 0 else 0.0
    keys = sorted(ema)
    rates: dict[str, int] = {}
    extra = 0.0
    for i, key in enumerate(keys):
        count = max(1.0, ema[key])
        goal = max(1.0, math.log10(count) * ratio) + extra / (len(keys) - i)
        if count <= goal:
            rates[key] = 1
            extra += goal - count
            continue
        rate = math.ceil(count / goal)
        rates[key] = rate
        extra += goal - count / rate
    return rates


class EmaThroughputReference(Sampler):
    """Keep ``goal_per_s`` root traces/s the way Refinery's EMAThroughput does (see module doc)."""

    def __init__(
        self,
        goal_per_s: float,
        *,
        clock: Callable[[], float],
        interval: float = 15.0,
        weight: float = 0.5,
        initial_rate: int = 10,
        burst_multiple: float = 2.0,
        burst_delay: int = 3,
    ) -> None:
        self._goal = goal_per_s
        self._clock = clock
        self._interval = interval
        self._weight = weight
        self._initial = initial_rate
        self._burst_multiple = burst_multiple
        self._burst_delay = burst_delay
        self._lock = threading.Lock()
        self._counts: dict[str, float] = {}
        self._ema: dict[str, float] = {}
        self._rates: dict[str, int] = {}
        self._have_data = False
        self._burst_sum = 0.0
        self._burst_threshold = 0.0
        self._intervals = 0
        self._next = clock() + interval
        self._states: dict[int, TraceState] = {}

    def _update(self, now: float, burst: bool) -> None:
        self._next = now + self._interval
        if not burst:
            self._intervals += 1
        counts, self._counts, self._burst_sum = self._counts, {}, 0.0
        if not counts:
            return
        w = self._weight
        for key in list(self._ema):
            avg = w * counts.pop(key, 0.0) + (1 - w) * self._ema[key]
            if avg < w:
                del self._ema[key]
            else:
                self._ema[key] = avg
        for key, count in counts.items():
            if w * count >= w:
                self._ema[key] = w * count
        self._burst_threshold = self._burst_multiple * math.fsum(max(1.0, v) for v in self._ema.values())
        self._rates = sample_rates(self._ema, self._goal * self._interval)
        self._have_data = True

    def _rate(self, key: str) -> int:
        with self._lock:
            now = self._clock()
            if now >= self._next:
                self._update(now, False)
            self._counts[key] = self._counts.get(key, 0.0) + 1.0
            self._burst_sum += 1.0
            if 0 < self._burst_threshold <= self._burst_sum and self._intervals >= self._burst_delay:
                self._update(now, True)
            if not self._have_data:
                return self._initial
            return self._rates.get(key, 1)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = get_current_span(parent_context if parent_context is not None else get_current()).get_span_context()
        if parent.is_valid:
            decision = Decision.RECORD_AND_SAMPLE if parent.trace_flags.sampled else Decision.DROP
            return SamplingResult(decision, attributes, parent.trace_state)
        rate = self._rate(name)
        threshold = MAX_THRESHOLD - MAX_THRESHOLD // rate
        if (trace_id & RANDOMNESS_MASK) < threshold:
            return SamplingResult(Decision.DROP)
        state = self._states.get(threshold)
        if state is None:
            state = self._states[threshold] = TraceState([(OT_KEY, "th:" + encode_th(threshold))])
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)

    def get_description(self) -> str:
        return f"EmaThroughputReference{{goal={self._goal:g},interval={self._interval:g}}}"
