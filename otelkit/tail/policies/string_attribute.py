"""``string_attribute``: keep traces where an attribute equals (or regex-matches) a value."""

from __future__ import annotations

import re
from collections.abc import Iterable

from otelkit.tail.policies._attrs import attribute_values, check_key
from otelkit.tail.policies._check import check_bool, check_name
from otelkit.tail.policy import NOT_SAMPLED, SAMPLED, Decision, TraceView

__all__ = ["StringAttributePolicy"]


class StringAttributePolicy:
    """Keep a trace when a span (or resource) attribute ``key`` is one of ``values``.

    Args:
        key: attribute name.
        values: exact strings (a set), or regular expressions with ``enabled_regex_matching``
            (``re.fullmatch``).
        enabled_regex_matching: treat ``values`` as regular expressions; default False.
        invert_match: keep traces where NO span matches; default False.
        name: label; default ``string_attribute``.
    """

    @property
    def attribute_keys(self) -> frozenset[str]:
        """Span attributes this policy reads: its ``key``."""
        return frozenset((self.key,))

    def __init__(
        self,
        key: str,
        values: Iterable[str],
        *,
        enabled_regex_matching: bool = False,
        invert_match: bool = False,
        name: str | None = None,
    ) -> None:
        self.name = check_name(name, "string_attribute")
        self.key = check_key(key)
        if isinstance(values, str):
            values = [values]
        vals = list(values)
        if not vals or not all(isinstance(v, str) for v in vals):
            raise ValueError(f"values {vals!r} is invalid: expected a non-empty list of strings")
        self.regex = check_bool("enabled_regex_matching", enabled_regex_matching)
        self.invert = check_bool("invert_match", invert_match)
        self.values = frozenset(vals)
        self._patterns: list[re.Pattern[str]] = []
        if self.regex:
            for v in vals:
                try:
                    self._patterns.append(re.compile(v))
                except re.error as exc:
                    raise ValueError(f"values {v!r} is invalid: not a regular expression ({exc})") from None

    def _matches(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        if self.regex:
            return any(p.fullmatch(value) for p in self._patterns)
        return value in self.values

    def evaluate(self, trace: TraceView) -> Decision:
        found = any(self._matches(v) for v in attribute_values(trace, self.key))
        return SAMPLED if found != self.invert else NOT_SAMPLED
