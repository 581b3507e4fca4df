"""``drop``: veto a trace when every sub-policy matches it; a veto beats every keep."""

from __future__ import annotations

from collections.abc import Sequence

from otelkit.tail.policies._check import check_name
from otelkit.tail.policy import DROPPED, NOT_SAMPLED, Decision, Policy, TraceView, attribute_keys

__all__ = ["DropPolicy"]


class DropPolicy:
    """DROPPED when all ``policies`` say SAMPLED (e.g. health checks), else no opinion.

    Args:
        policies: at least one sub-policy (they are ANDed).
        name: label; default ``drop``.
    """

    @property
    def attribute_keys(self) -> frozenset[str] | None:
        """Span attributes its sub-policies read (None: one declares nothing)."""
        return attribute_keys(self.policies)

    def __init__(self, policies: Sequence[Policy], name: str | None = None) -> None:
        self.name = check_name(name, "drop")
        if not policies:
            raise ValueError("drop_sub_policy is empty: expected at least one sub-policy")
        self.policies = tuple(policies)

    def evaluate(self, trace: TraceView) -> Decision:
        for policy in self.policies:
            if not policy.evaluate(trace).sampled:
                return NOT_SAMPLED
        return DROPPED
