"""``numeric_attribute``: keep traces where a numeric attribute lies in a range."""

from __future__ import annotations

from otelkit.tail.policies._attrs import attribute_values, check_key
from otelkit.tail.policies._check import check_bool, check_name, check_number
from otelkit.tail.policy import NOT_SAMPLED, SAMPLED, Decision, TraceView

__all__ = ["NumericAttributePolicy"]


class NumericAttributePolicy:
    """Keep a trace when attribute ``key`` is a number with ``min_value <= v <= max_value``.

    Args:
        key: attribute name.
        min_value: inclusive lower bound; None = unbounded.
        max_value: inclusive upper bound; None = unbounded (at least one bound is required).
        invert_match: keep traces where NO span matches; default False.
        name: label; default ``numeric_attribute``.
    """

    @property
    def attribute_keys(self) -> frozenset[str]:
        """Span attributes this policy reads: its ``key``."""
        return frozenset((self.key,))

    def __init__(
        self,
        key: str,
        min_value: float | None = None,
        max_value: float | None = None,
        *,
        invert_match: bool = False,
        name: str | None = None,
    ) -> None:
        self.name = check_name(name, "numeric_attribute")
        self.key = check_key(key)
        self.min_value = check_number("min_value", min_value, optional=True)
        self.max_value = check_number("max_value", max_value, optional=True)
        if self.min_value is None and self.max_value is None:
            raise ValueError("min_value and max_value are both missing: expected at least one bound")
        if self.min_value is not None and self.max_value is not None and self.max_value < self.min_value:
            raise ValueError(f"max_value {max_value!r} is invalid: expected a number >= min_value ({min_value!r})")
        self.invert = check_bool("invert_match", invert_match)

    def _matches(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.min_value is not None and value < self.min_value:
            return False
        return not (self.max_value is not None and value > self.max_value)

    def evaluate(self, trace: TraceView) -> Decision:
        found = any(self._matches(v) for v in attribute_values(trace, self.key))
        return SAMPLED if found != self.invert else NOT_SAMPLED
