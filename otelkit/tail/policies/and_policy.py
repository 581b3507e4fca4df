"""``and``: keep a trace only when every sub-policy keeps it."""

from __future__ import annotations

from collections.abc import Sequence

from otelkit.tail.policies._check import check_name
from otelkit.tail.policy import NOT_SAMPLED, Decision, Outcome, Policy, TraceView, attribute_keys

__all__ = ["AndPolicy"]


class AndPolicy:
    """SAMPLED iff all ``policies`` say SAMPLED; the threshold is the largest of theirs
    (consistent sampling: ``R >= T1 and R >= T2`` is ``R >= max``), unknown if any is.

    Args:
        policies: at least one sub-policy.
        name: label; default ``and``.
    """

    @property
    def attribute_keys(self) -> frozenset[str] | None:
        """Span attributes its sub-policies read (None: one declares nothing)."""
        return attribute_keys(self.policies)

    def __init__(self, policies: Sequence[Policy], name: str | None = None) -> None:
        self.name = check_name(name, "and")
        if not policies:
            raise ValueError("and_sub_policy is empty: expected at least one sub-policy")
        self.policies = tuple(policies)

    def evaluate(self, trace: TraceView) -> Decision:
        threshold: int | None = 0
        for policy in self.policies:
            decision = policy.evaluate(trace)
            if not decision.sampled:
                return NOT_SAMPLED
            if threshold is not None:
                threshold = None if decision.threshold is None else max(threshold, decision.threshold)
        return Decision(Outcome.SAMPLED, threshold)
