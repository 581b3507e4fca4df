"""The time series of one demo run, for the HTML report (``otelkit demo --report``).

A :class:`Recorder` is handed every live snapshot of its run and keeps what the report
charts: traces kept by head sampling per second (from the sampled local roots), the head
probability per key, export latency p50/p99 and server CPU. It owns its series: values are
copied out of each snapshot under its own lock, and :meth:`Recorder.series` returns a copy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from otelkit.demo.display import Snapshot

__all__ = ["Recorder", "RunSeries", "FIXED_RATIO_KEY"]

FIXED_RATIO_KEY = "all spans (fixed ratio)"
"""The probability key of a pipeline whose sampler keeps one ratio for everything (stock)."""


@dataclass
class RunSeries:
    """One run's recorded points; lists are aligned with ``t`` (``None``: not reported)."""

    mode: str
    round: int
    target: float
    t: list[float] = field(default_factory=list)
    kept_per_s: list[float | None] = field(default_factory=list)
    p50_ms: list[float | None] = field(default_factory=list)
    p99_ms: list[float | None] = field(default_factory=list)
    cpu_seconds: list[float | None] = field(default_factory=list)
    probability_by_key: dict[str, list[float | None]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "round": self.round,
            "target": self.target,
            "t": list(self.t),
            "kept_per_s": list(self.kept_per_s),
            "p50_ms": list(self.p50_ms),
            "p99_ms": list(self.p99_ms),
            "cpu_seconds": list(self.cpu_seconds),
            "probability_by_key": {k: list(v) for k, v in self.probability_by_key.items()},
        }


class Recorder:
    """Records one run's snapshots at most every ``min_interval`` seconds of run time.

    The kept rate of a point is the sampled local roots added since the previous point over
    the time between them (the first point measures from the start of the load, 0 roots).
    """

    def __init__(self, mode: str, round_: int, target: float, *, min_interval: float = 1.0) -> None:
        if min_interval < 0:
            raise ValueError(f"min_interval {min_interval!r} is invalid; allowed: a number >= 0")
        self._lock = threading.Lock()
        self._series = RunSeries(mode, round_, target)
        self._min_interval = min_interval
        self._last_t = 0.0
        self._last_roots = 0.0

    def add(self, snap: Snapshot) -> None:
        """Record ``snap`` (a live snapshot; the final one after the flush is not a rate point)."""
        c = snap.counts
        with self._lock:
            s = self._series
            dt = snap.elapsed - self._last_t
            if s.t and dt < self._min_interval:
                return
            if dt <= 0:
                return
            roots = c.roots_sampled
            rate = None if roots is None else max(0.0, roots - self._last_roots) / dt
            if roots is not None:
                self._last_roots = roots
            self._last_t = snap.elapsed
            n = len(s.t)
            s.t.append(round(snap.elapsed, 3))
            s.kept_per_s.append(rate)
            s.p50_ms.append(c.p50_ms)
            s.p99_ms.append(c.p99_ms)
            s.cpu_seconds.append(snap.cpu_seconds)
            by_key = dict(c.probability_by_key)
            if not by_key and c.probability is not None:
                by_key = {FIXED_RATIO_KEY: c.probability}
            for key, value in by_key.items():
                s.probability_by_key.setdefault(key, [None] * n).append(value)
            for values in s.probability_by_key.values():
                if len(values) == n:  # the key was not reported this time
                    values.append(None)

    def series(self) -> RunSeries:
        """A copy of what was recorded so far."""
        with self._lock:
            s = self._series
            return RunSeries(
                s.mode, s.round, s.target, list(s.t), list(s.kept_per_s), list(s.p50_ms), list(s.p99_ms),
                list(s.cpu_seconds), {k: list(v) for k, v in s.probability_by_key.items()},
            )
