"""``always_sample``: keep every trace (adjusted count 1)."""

from __future__ import annotations

from otelkit.tail.policies._check import check_name
from otelkit.tail.policy import SAMPLED, Decision, TraceView

__all__ = ["AlwaysSamplePolicy"]


class AlwaysSamplePolicy:
    """Keep every trace.

    Args:
        name: label for kept spans and counts; default ``always_sample``.
    """

    attribute_keys: frozenset[str] = frozenset()
    """Span attributes this policy reads: none."""

    def __init__(self, name: str | None = None) -> None:
        self.name = check_name(name, "always_sample")

    def evaluate(self, trace: TraceView) -> Decision:
        return SAMPLED
