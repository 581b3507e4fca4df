"""``latency``: keep traces whose span extent (latest end - earliest start) is in a range."""

from __future__ import annotations

from otelkit.tail.policies._check import check_name, check_number
from otelkit.tail.policy import NOT_SAMPLED, SAMPLED, Decision, TraceView

__all__ = ["LatencyPolicy"]


class LatencyPolicy:
    """Keep a trace lasting at least ``threshold_ms`` (and below ``upper_threshold_ms``).

    Args:
        threshold_ms: lower bound in ms (inclusive), >= 0.
        upper_threshold_ms: optional upper bound in ms (exclusive), > ``threshold_ms``.
        name: label; default ``latency``.
    """

    attribute_keys: frozenset[str] = frozenset()
    """Span attributes this policy reads: none."""

    def __init__(
        self, threshold_ms: float, upper_threshold_ms: float | None = None, name: str | None = None
    ) -> None:
        self.name = check_name(name, "latency")
        lower = check_number("threshold_ms", threshold_ms, lo=0)
        assert lower is not None
        self.threshold_ms = lower
        self.upper_threshold_ms = check_number(
            "upper_threshold_ms", upper_threshold_ms, lo=0, optional=True
        )
        if self.upper_threshold_ms is not None and self.upper_threshold_ms <= lower:
            raise ValueError(
                f"upper_threshold_ms {upper_threshold_ms!r} is invalid: expected a number "
                f"> threshold_ms ({threshold_ms!r})"
            )

    def evaluate(self, trace: TraceView) -> Decision:
        duration = trace.duration_ms
        if duration < self.threshold_ms:
            return NOT_SAMPLED
        if self.upper_threshold_ms is not None and duration >= self.upper_threshold_ms:
            return NOT_SAMPLED
        return SAMPLED
