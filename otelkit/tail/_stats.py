"""The tail processor's counters (owned by the trace buffer, updated under its lock) and
the decider's timing (owned by the decider)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Counters", "DecisionTimer", "LATE_AGE_BOUNDS_S", "ERROR"]

ERROR = "error"
"""Drop reason of spans and traces the processor failed on (never silently lost)."""

LATE_AGE_BOUNDS_S = (0.1, 1.0, 10.0, 60.0, 600.0)
"""Upper bounds (s) of the late-span age buckets: time from the decision to the late span."""


def _age_key(age_s: float) -> str:
    for bound in LATE_AGE_BOUNDS_S:
        if age_s <= bound:
            return f"<={bound:g}s"
    return f">{LATE_AGE_BOUNDS_S[-1]:g}s"


class Counters:
    """Traces/spans kept and dropped by policy, late spans, evictions, decision timing.

    Drop reasons are the vetoing policy's name, ``no_match`` (no policy kept the trace),
    ``evicted`` (buffer overflow with ``overflow="evict"``), ``overflow`` (arrived for a
    trace in decision while that pool was full), ``shutdown`` (ended after shutdown) or
    ``error`` (the processor failed on the span or its trace). Every dropped
    span is counted in ``spans_dropped``; a kept span the downstream processor raised on is
    counted in ``spans_forward_failed`` as well.
    """

    def __init__(self) -> None:
        self.traces_kept = 0
        self.traces_dropped = 0
        self.spans_kept = 0
        self.spans_dropped = 0
        self.kept_by_policy: dict[str, int] = {}
        self.spans_kept_by_policy: dict[str, int] = {}
        self.dropped_by_policy: dict[str, int] = {}
        self.spans_dropped_by_policy: dict[str, int] = {}
        self.late_spans_kept = 0
        self.late_spans_dropped = 0
        self.late_span_age: dict[str, int] = {}
        self.evicted_traces = 0
        self.decided_early = 0
        self.spans_forward_failed = 0
        self.unknown_probability = 0

    def kept(self, policy: str, spans: int) -> None:
        self.traces_kept += 1
        self.spans_kept += spans
        self.kept_by_policy[policy] = self.kept_by_policy.get(policy, 0) + 1
        self.spans_kept_by_policy[policy] = self.spans_kept_by_policy.get(policy, 0) + spans

    def dropped(self, reason: str, spans: int) -> None:
        self.traces_dropped += 1
        self._dropped_spans(reason, spans)
        self.dropped_by_policy[reason] = self.dropped_by_policy.get(reason, 0) + 1

    def _dropped_spans(self, reason: str, spans: int) -> None:
        self.spans_dropped += spans
        self.spans_dropped_by_policy[reason] = self.spans_dropped_by_policy.get(reason, 0) + spans

    def evicted(self, spans: int) -> None:
        self.evicted_traces += 1
        self.dropped("evicted", spans)

    def _late_age(self, age_s: float) -> None:
        key = _age_key(age_s)
        self.late_span_age[key] = self.late_span_age.get(key, 0) + 1

    def late_kept(self, policy: str, age_s: float = 0.0) -> None:
        self._late_age(age_s)
        self.late_spans_kept += 1
        self.spans_kept += 1
        self.spans_kept_by_policy[policy] = self.spans_kept_by_policy.get(policy, 0) + 1

    def late_dropped(self, age_s: float = 0.0) -> None:
        self._late_age(age_s)
        self.late_spans_dropped += 1
        self._dropped_spans("late", 1)

    def overflow(self) -> None:
        self._dropped_spans("overflow", 1)

    def after_shutdown(self) -> None:
        self._dropped_spans("shutdown", 1)

    def failed(self, spans: int = 1) -> None:
        """Spans the processor dropped because it failed on them (reason ``error``)."""
        self._dropped_spans(ERROR, spans)

    def snapshot(self) -> dict[str, Any]:
        return {
            "traces_kept": self.traces_kept,
            "traces_dropped": self.traces_dropped,
            "spans_kept": self.spans_kept,
            "spans_dropped": self.spans_dropped,
            "kept_by_policy": dict(self.kept_by_policy),
            "spans_kept_by_policy": dict(self.spans_kept_by_policy),
            "dropped_by_policy": dict(self.dropped_by_policy),
            "spans_dropped_by_policy": dict(self.spans_dropped_by_policy),
            "late_spans_kept": self.late_spans_kept,
            "late_spans_dropped": self.late_spans_dropped,
            "late_span_age": dict(self.late_span_age),
            "evicted_traces": self.evicted_traces,
            "decided_early": self.decided_early,
            "spans_forward_failed": self.spans_forward_failed,
            "traces_kept_unknown_probability": self.unknown_probability,
        }


class DecisionTimer:
    """Policy evaluation count and time, and the metrics hook (the decider's thread only)."""

    def __init__(self, hook: Callable[[float], None] | None = None) -> None:
        self.decisions = 0
        self.seconds = 0.0
        self.hook = hook

    def observe(self, seconds: float) -> None:
        self.decisions += 1
        self.seconds += seconds
        hook = self.hook
        if hook is not None:
            try:
                hook(seconds)
            except Exception:  # noqa: BLE001 - a metrics failure must not lose the decision
                pass
