"""``boolean_attribute``: keep traces where a boolean attribute has a given value."""

from __future__ import annotations

from otelkit.tail.policies._attrs import attribute_values, check_key
from otelkit.tail.policies._check import check_bool, check_name
from otelkit.tail.policy import NOT_SAMPLED, SAMPLED, Decision, TraceView

__all__ = ["BooleanAttributePolicy"]


class BooleanAttributePolicy:
    """Keep a trace when attribute ``key`` is the boolean ``value``.

    Args:
        key: attribute name.
        value: the boolean to match (strings such as "true" do not match).
        invert_match: keep traces where NO span matches; default False.
        name: label; default ``boolean_attribute``.
    """

    @property
    def attribute_keys(self) -> frozenset[str]:
        """Span attributes this policy reads: its ``key``."""
        return frozenset((self.key,))

    def __init__(self, key: str, value: bool, *, invert_match: bool = False, name: str | None = None) -> None:
        self.name = check_name(name, "boolean_attribute")
        self.key = check_key(key)
        self.value = check_bool("value", value)
        self.invert = check_bool("invert_match", invert_match)

    def evaluate(self, trace: TraceView) -> Decision:
        found = any(v is self.value for v in attribute_values(trace, self.key))
        return SAMPLED if found != self.invert else NOT_SAMPLED
