"""AdaptiveSampler: keep a target number of root traces per second, fairly across keys.

How a root span is decided (non-root spans follow their parent, ``th`` preserved):

1. rules first (:class:`otelkit.sampling.rules.RuleSet`, debug override included): a match
   decides with its own threshold, outside the budget;
2. the span's key (default: ``http.request.method`` + ``http.route`` when the route is
   present, else the span name; or the configured attributes) picks a per-key state;
   keys beyond ``max_keys`` share one overflow state that still counts toward the budget;
   a new key starts at the current global probability;
3. the span is kept iff ``R >= T_key`` (``R`` = the trace ID's low 56 bits), and a kept span
   carries ``ot=th:...`` and the attribute ``otelkit.sampling.adjusted_count``.

A new key's first trace is kept whole while a small allowance lasts (5 % of the target per
second), so keys seen once a minute are not lost to the global probability.

Every ``interval`` (1 s), or early (at most every ``interval / 10``) on a burst (more than
1.5x the budget + 5 kept within the last ``interval / 10``), a key's step (more arrivals
than its interval's expectation allows) or a drought (under half the expected arrivals),
the estimator (:mod:`otelkit.sampling._estimate`) re-estimates the keys' rates and
re-apportions the target, times the export back-pressure factor
(:mod:`otelkit._pressure`). A decision costs one lock, a dict lookup and an integer compare.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace._sampling_experimental import SamplingIntent
from opentelemetry.sdk.trace.sampling import Decision, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from otelkit import config
from otelkit._pressure import EXPORT_PRESSURE, ExportPressure
from otelkit.sampling._arg import adaptive_sampler_factory, check_range
from otelkit.sampling._base import BaseHeadSampler
from otelkit.sampling._budget import MIN_PROBABILITY
from otelkit.sampling._decide import ThresholdResults
from otelkit.sampling._estimate import NEW_KEY_TRIP, Estimator, KeyState, step_trip
from otelkit.sampling._keys import show_key, span_key
from otelkit.sampling._metrics import register_sampler_metrics
from otelkit.sampling._rule_parse import resolve_rules
from otelkit.sampling.rules import Rule, RuleSet
from otelkit.sampling.threshold import MAX_THRESHOLD, RANDOMNESS_MASK, probability_to_threshold

__all__ = ["AdaptiveSampler", "adaptive_sampler_factory", "OVERFLOW_KEY"]

OVERFLOW_KEY = "(overflow)"
"""How the shared bucket of keys beyond ``max_keys`` appears in ``stats()``."""
_TOP_KEYS = 20
_DROP = SamplingResult(Decision.DROP)


class AdaptiveSampler(BaseHeadSampler):
    """Keep ``target`` root traces/s, apportioned across keys; spec-consistent thresholds.

    Args:
        target: root traces kept per second (per process); default ``OTELKIT_SAMPLER_TARGET`` (100).
        tau: time constant of the arrival-rate average in seconds; default
            ``OTELKIT_SAMPLER_TAU`` (5).
        keys: span attributes forming the key; default ``OTELKIT_SAMPLER_KEYS`` (empty:
            method + ``http.route``, else the span name).
        max_keys: most keys tracked; default ``OTELKIT_SAMPLER_MAX_KEYS`` (500).
        rules: rules evaluated first: a compact string, a file path, :class:`Rule` objects,
            a :class:`RuleSet`, or None for ``OTELKIT_RULES``.
        debug: honour the ``otelkit.debug`` override; default ``OTELKIT_SAMPLER_DEBUG`` (true).
        interval: seconds between re-apportionings (default 1.0).
        clock: monotonic clock in seconds (default ``time.monotonic``; inject a fake in tests).
        pressure: export back-pressure whose factor multiplies the target (default the
            process-wide :data:`otelkit._pressure.EXPORT_PRESSURE` the batch processor reports
            into; None to ignore it).
        self_metrics: register observable self-metrics; default ``OTELKIT_SELF_METRICS``.
        environ: mapping read instead of ``os.environ``.

    Raises:
        ValueError: a bad explicit argument (named in the message with what is allowed).
    """

    _error_key = "adaptive-error"
    _root_counted = True  # counted under the lock the budget takes anyway

    def __init__(
        self,
        target: float | None = None,
        *,
        tau: float | None = None,
        keys: Sequence[str] | None = None,
        max_keys: int | None = None,
        rules: str | Sequence[Rule] | RuleSet | None = None,
        debug: bool | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        self_metrics: bool | None = None,
        environ: Mapping[str, str] | None = None,
        pressure: ExportPressure | None = EXPORT_PRESSURE,
    ) -> None:
        self._pressure = pressure
        self._target = check_range(config.OTELKIT_SAMPLER_TARGET.resolve(target, environ), "target", 0.0, math.inf)
        self._tau = check_range(config.OTELKIT_SAMPLER_TAU.resolve(tau, environ), "tau", 0.1, 3600.0, True)
        self._interval = check_range(interval, "interval", 0.01, 60.0, True)
        self._max_keys = int(check_range(config.OTELKIT_SAMPLER_MAX_KEYS.resolve(max_keys, environ), "max_keys",
                                    1, 100000, True))
        if keys is None:
            keys = [k.strip() for k in config.OTELKIT_SAMPLER_KEYS.get(environ).split(";") if k.strip()]
        self._key_attrs: tuple[str, ...] | None = tuple(keys) or None
        self._rules = rules if isinstance(rules, RuleSet) else RuleSet(
            resolve_rules(rules, environ), config.OTELKIT_SAMPLER_DEBUG.resolve(debug, environ), environ)
        self._debug = self._rules.debug
        self._clock = clock
        self._results = ThresholdResults()
        super().__init__()
        self._reset(self._clock())
        if config.OTELKIT_SELF_METRICS.resolve(self_metrics, environ):
            register_sampler_metrics(self, "adaptive")

    def _reset(self, now: float) -> None:
        self._lock = threading.Lock()
        self._keys: dict[object, KeyState] = {}
        self._overflow = KeyState(0, 1.0, now)
        self._probability = 1.0
        self._threshold = 0
        self._tick_start = now
        self._next_tick = now + self._interval
        self._kept_window = 0.0
        self._arrivals_tick = 0
        self._drought = 0.0  # half the estimated arrivals/s of all keys
        self._dry_start = now  # the drought check's window: its start and the arrivals before it
        self._dry_ticks = 0
        self._surge = NEW_KEY_TRIP  # arrivals within one interval that mean all keys stepped up
        self._burst = 5.0
        self._burst_rate = 1.5 * self._target
        self._min_gap = self._interval / 10  # early re-estimates at most every 100 ms
        self._window = self._interval / 10
        self._window_start = now
        self._estimator = Estimator(self._tau, self._interval, self._target)
        # new keys: the first trace of each is kept whole while this allowance lasts
        self._allowance = self._allowance_cap = max(5.0, 0.05 * self._target)
        self._allowance_time = now
        self._idle_limit = max(600.0, 120.0 * self._tau)  # rare keys are remembered ...
        self._idle_short = max(60.0, 12.0 * self._tau)  # ... unless max_keys is reached

    def _after_fork(self) -> None:
        # The parent's rate estimates describe the parent's traffic; start over, keeping the
        # current probabilities as the starting point for the keys already known.
        known = self._keys
        super()._after_fork()
        self._reset(self._clock())
        for key, state in known.items():
            state.count, state.rate, state.age = 0, -1.0, 0.0
            self._keys[key] = state

    def _root(
        self, ctx: Context, trace_id: int, name: str, kind: SpanKind | None, attributes: Attributes
    ) -> SamplingResult:
        if self._debug or self._rules.rules:
            fixed = self._rules.threshold(ctx, name, kind, attributes)
            if fixed is not None:
                return self._count(self._results.decide(trace_id, fixed, attributes))
        rand = trace_id & RANDOMNESS_MASK
        threshold = self._budget(span_key(name, attributes, self._key_attrs), rand)
        if rand < threshold:
            return _DROP
        return self._results.keep(threshold, attributes)

    def sampling_intent(
        self,
        parent_ctx: Context | None,
        name: str,
        span_kind: SpanKind | None,
        attributes: Attributes,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingIntent:
        """The specification's composable shape (:mod:`otelkit.sampling.composable`): this root
        span's threshold, from the rules or its key's budget; the composite sampler decides."""
        if self._debug or self._rules.rules:
            fixed = self._rules.threshold(parent_ctx if parent_ctx is not None else get_current(), name,
                                          span_kind, attributes)
            if fixed is not None:
                return SamplingIntent(fixed)
        return SamplingIntent(self._budget(span_key(name, attributes, self._key_attrs), -1))

    def _budget(self, key: object, rand: int) -> int:
        """``key``'s threshold for one root span, counted; ``rand`` < 0: decided elsewhere."""
        with self._lock:
            # Read under the lock so time only moves forward in decision order; clamp a
            # clock that lags another thread's (a per-thread or injected clock).
            now = self._clock()
            if now < self._window_start:
                now = self._window_start
            if now >= self._next_tick:
                self._retune(now)
            state = self._keys.get(key)
            fresh = False
            if state is None:
                fresh = len(self._keys) < self._max_keys
                state = self._admit(key, now)
            state.count += 1
            ticks = self._arrivals_tick = self._arrivals_tick + 1
            # a key stepped up; every 8th arrival: all keys stepped up, or a drought (under half
            # the arrivals expected; not per arrival, so threads with skewed clocks do not trip it)
            if state.count > state.trip or (not ticks & 7 and (ticks > self._surge or self._dry(now, ticks))):
                if now - self._tick_start >= self._min_gap:
                    self._retune(now)
            threshold = state.threshold
            if fresh and self._take_allowance(now):
                threshold = 0
            if rand < threshold:  # always for an intent (rand < 0)
                if rand >= 0:
                    self._dropped += 1
                    return threshold
                kept = 1.0 - threshold / MAX_THRESHOLD  # an intent: count the expected keep
            else:
                self._kept += 1
                kept = 1.0
            if now - self._window_start >= self._window:  # burst window: the last ~100 ms
                self._window_start = now
                self._kept_window = 0.0
            self._kept_window += kept
            # a burst: far more kept in this window than its budget (at least 100 ms of budget,
            # so bursty traffic cannot re-estimate more often than every ~0.15 * target kept)
            if self._kept_window > self._burst + self._burst_rate * max(now - self._window_start, self._min_gap):
                self._retune(now)
            return threshold

    def _dry(self, now: float, ticks: int) -> bool:
        """A drought: under half the expected arrivals in the window (>= ``interval / 10``)
        ending now. Windowed rather than since the last re-estimate, so a drop late in an
        interval shows within ~100 ms whatever the phase of the re-estimates."""
        span = now - self._dry_start
        if span < self._min_gap:
            return False
        dry = ticks - self._dry_ticks < self._drought * span
        self._dry_start, self._dry_ticks = now, ticks
        return dry

    def _take_allowance(self, now: float) -> bool:
        """One new key's first trace kept whole (5 % of the target per second, burst 5 % of it)."""
        cap = self._allowance_cap
        tokens = min(cap, self._allowance + (now - self._allowance_time) * cap)
        self._allowance_time = now
        self._idle_limit = max(600.0, 120.0 * self._tau)  # rare keys are remembered ...
        self._idle_short = max(60.0, 12.0 * self._tau)  # ... unless max_keys is reached
        if tokens < 1.0:
            self._allowance = tokens
            return False
        self._allowance = tokens - 1.0
        return True

    def _admit(self, key: object, now: float) -> KeyState:
        if len(self._keys) >= self._max_keys:
            return self._overflow
        state = KeyState(self._threshold, self._probability, now)
        self._keys[key] = state
        return state

    def _retune(self, now: float) -> None:
        """Re-estimate rates and re-apportion the target (called with the lock held)."""
        dt = now - self._tick_start
        if dt > 1e-9:
            idle_limit = self._idle_limit if len(self._keys) < self._max_keys else self._idle_short
            states = [self._overflow]
            for key, state in list(self._keys.items()):
                if state.count:
                    state.last_seen = now
                elif now - state.last_seen > idle_limit:
                    del self._keys[key]
                    continue
                states.append(state)
            target = self._target if self._pressure is None else self._target * self._pressure.factor()
            total = self._estimator.update(states, dt, target)
            self._drought = 0.5 * total
            self._surge = step_trip(total * self._interval)
            self._probability = max(MIN_PROBABILITY, min(1.0, target / total)) if total > 0 else 1.0
            self._threshold = probability_to_threshold(self._probability)
        self._tick_start = now
        # soon after a common step, re-estimate at doubling intervals (100 ms, 200 ms, ...)
        self._next_tick = now + self._estimator.next_gap(self._min_gap)
        self._window_start = now
        self._kept_window = 0.0
        self._arrivals_tick = 0
        self._dry_start, self._dry_ticks = now, 0

    def get_description(self) -> str:
        return f"AdaptiveSampler{{target={self._target:g},tau={self._tau:g},max_keys={self._max_keys}}}"

    def stats(self) -> dict[str, Any]:
        """``kept``/``dropped`` spans, global ``probability``, ``keys`` tracked,
        ``probability_by_key`` for the 20 busiest keys (plus the overflow bucket when used) and
        ``pressure``: the export back-pressure factor on the target (1.0: none)."""
        pressure = 1.0 if self._pressure is None else self._pressure.stats()["factor"]
        with self._lock:
            busiest = heapq.nlargest(_TOP_KEYS, self._keys.items(), key=lambda kv: kv[1].rate)
            by_key = {show_key(k): s.probability for k, s in busiest}
            if self._overflow.rate > 0:
                by_key[OVERFLOW_KEY] = self._overflow.probability
            return {
                "kept": self._kept,
                "dropped": self._dropped,
                **self._debug.stats(),
                "probability": self._probability,
                "keys": len(self._keys),
                "probability_by_key": by_key,
                "pressure": pressure,
            }

