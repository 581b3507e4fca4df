"""The adaptation math of the smart batcher: small pure functions plus one state holder.

Everything here takes the current time as an argument, so tests drive it with a fake clock.
Units: seconds for time, spans for sizes, spans/s for rates, bytes for sizes in bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ewma", "clamp", "batch_cap", "target_batch", "target_wait", "Adaptation"]

RATE_ALPHA = 0.3
"""EWMA weight of a new arrival-rate sample."""
LATENCY_ALPHA = 0.3
"""EWMA weight of a new export-latency sample."""
BYTES_ALPHA = 0.2
"""EWMA weight of a new bytes-per-span sample."""
WAIT_ALPHA = 0.5
"""How far the wait moves towards its new target per export (0..1)."""
HEADROOM = 2.0
"""Exports keep up when ``latency <= concurrency * wait``; the wait target keeps this factor spare."""
MIN_RATE_INTERVAL_S = 0.05
"""Shortest interval an arrival-rate sample is taken over (shorter ones are too noisy)."""


def ewma(prev: float | None, sample: float, alpha: float) -> float:
    """Exponentially weighted moving average; the first sample is taken as is."""
    if prev is None:
        return sample
    return prev + alpha * (sample - prev)


def clamp(value: float, lo: float, hi: float) -> float:
    """``value`` limited to ``[lo, hi]`` (``lo`` wins when ``lo > hi``)."""
    return max(lo, min(value, hi))


def batch_cap(max_batch: int, max_bytes: int, bytes_per_span: float | None) -> int:
    """Largest batch allowed: ``max_batch``, lowered so ``batch * bytes_per_span <= max_bytes``.

    Unknown ``bytes_per_span`` (``None`` or not positive) applies the span bound only.
    """
    if bytes_per_span is None or bytes_per_span <= 0:
        return max_batch
    return max(1, min(max_batch, int(max_bytes // bytes_per_span)))


def target_batch(rate: float | None, wait_s: float, min_batch: int, cap: int) -> int:
    """Spans to collect before flushing: what arrives in one wait, within ``[min_batch, cap]``."""
    expected = 0.0 if rate is None else rate * wait_s
    return int(clamp(math.ceil(expected - 1e-6), min(min_batch, cap), cap))


def target_wait(latency_s: float | None, concurrency: int, freshness_s: float, max_wait_s: float) -> float:
    """Where the flush wait should head: the freshness bound while exports are fast, longer
    (up to ``max_wait_s``) while one export takes more than ``concurrency * wait / HEADROOM``."""
    floor = min(freshness_s, max_wait_s)
    if latency_s is None:
        return floor
    return clamp(HEADROOM * latency_s / concurrency, floor, max_wait_s)


@dataclass
class Adaptation:
    """EWMAs of arrival rate, export latency and bytes/span, and the targets they give.

    Not thread-safe: the processor calls it under its lock.

    Args:
        min_batch: lower bound of the target batch (spans).
        max_batch: upper bound of any batch (spans).
        max_bytes: upper bound of one request (bytes), used with the bytes/span EWMA.
        freshness_s: the wait while exports are fast (s).
        max_wait_s: upper bound of the wait (s).
        startup_s: wait before the first export (s).
        concurrency: exports allowed in flight.
        queue_capacity: the queue bound (spans); the target never exceeds half of it, so the
            worker wakes while there is still room (default: no bound).
    """

    min_batch: int
    max_batch: int
    max_bytes: int
    freshness_s: float
    max_wait_s: float
    startup_s: float
    concurrency: int
    queue_capacity: int = 1 << 62
    rate: float | None = None
    latency_s: float | None = None
    bytes_per_span: float | None = None
    wait_s: float = 0.0
    target: int = 1
    exports_seen: int = 0
    _last_arrived: int = 0
    _last_t: float | None = None

    def __post_init__(self) -> None:
        self.wait_s = min(self.freshness_s, self.max_wait_s)
        self._retarget()

    @property
    def cap(self) -> int:
        """Largest batch allowed now (spans)."""
        return batch_cap(self.max_batch, self.max_bytes, self.bytes_per_span)

    def current_wait(self) -> float:
        """The flush deadline for the oldest queued span (s); short before the first export."""
        if self.exports_seen == 0:
            return min(self.startup_s, self.wait_s)
        return self.wait_s

    def observe_arrivals(self, arrived_total: int, now: float) -> None:
        """Feed the running total of spans offered to the processor at time ``now``."""
        if self._last_t is None:
            self._last_t, self._last_arrived = now, arrived_total
            return
        dt = now - self._last_t
        if dt < MIN_RATE_INTERVAL_S:
            return
        self.rate = ewma(self.rate, (arrived_total - self._last_arrived) / dt, RATE_ALPHA)
        self._last_t, self._last_arrived = now, arrived_total
        self._retarget()

    def observe_export(self, latency_s: float) -> None:
        """Feed the duration of one finished export call (s)."""
        self.exports_seen += 1
        self.latency_s = ewma(self.latency_s, latency_s, LATENCY_ALPHA)
        goal = target_wait(self.latency_s, self.concurrency, self.freshness_s, self.max_wait_s)
        self.wait_s = ewma(self.wait_s, goal, WAIT_ALPHA)
        self._retarget()

    def observe_bytes(self, raw_bytes: int, spans: int) -> None:
        """Feed the encoded size of ``spans`` spans (from the exporter's counters)."""
        if spans > 0 and raw_bytes > 0:
            self.bytes_per_span = ewma(self.bytes_per_span, raw_bytes / spans, BYTES_ALPHA)
            self._retarget()

    def _retarget(self) -> None:
        limit = max(1, min(self.cap, self.queue_capacity // 2))
        self.target = target_batch(self.rate, self.wait_s, self.min_batch, limit)
