"""``not``: keep a trace when the sub-policy does not."""

from __future__ import annotations

from otelkit.tail.policies._check import check_name
from otelkit.tail.policy import NOT_SAMPLED, SAMPLED, Decision, Policy, TraceView, attribute_keys

__all__ = ["NotPolicy"]


class NotPolicy:
    """SAMPLED (certain) when ``policy`` does not say SAMPLED, NOT_SAMPLED when it does.

    Args:
        policy: the sub-policy to invert.
        name: label; default ``not``.
    """

    @property
    def attribute_keys(self) -> frozenset[str] | None:
        """Span attributes its sub-policy reads (None: it declares nothing)."""
        return attribute_keys((self.policy,))

    def __init__(self, policy: Policy, name: str | None = None) -> None:
        self.name = check_name(name, "not")
        if not callable(getattr(policy, "evaluate", None)):
            raise ValueError(f"not_sub_policy {policy!r} is invalid: expected a policy")
        self.policy = policy

    def evaluate(self, trace: TraceView) -> Decision:
        return NOT_SAMPLED if self.policy.evaluate(trace).sampled else SAMPLED
