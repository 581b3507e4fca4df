"""``span_count``: keep traces with a number of (buffered) spans in a range."""

from __future__ import annotations

from otelkit.tail.policies._check import check_name, check_number
from otelkit.tail.policy import NOT_SAMPLED, SAMPLED, Decision, TraceView

__all__ = ["SpanCountPolicy"]


class SpanCountPolicy:
    """Keep a trace with ``min_spans <= spans <= max_spans``.

    Args:
        min_spans: lower bound (inclusive), >= 1.
        max_spans: optional upper bound (inclusive), >= ``min_spans``.
        name: label; default ``span_count``.
    """

    attribute_keys: frozenset[str] = frozenset()
    """Span attributes this policy reads: none."""

    def __init__(self, min_spans: int, max_spans: int | None = None, name: str | None = None) -> None:
        self.name = check_name(name, "span_count")
        for field, value in (("min_spans", min_spans), ("max_spans", max_spans)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"{field} {value!r} is invalid: expected an integer >= 1")
        check_number("min_spans", min_spans, lo=1)
        check_number("max_spans", max_spans, lo=min_spans, optional=True)
        self.min_spans = min_spans
        self.max_spans = max_spans

    def evaluate(self, trace: TraceView) -> Decision:
        n = trace.span_count
        if n < self.min_spans or (self.max_spans is not None and n > self.max_spans):
            return NOT_SAMPLED
        return SAMPLED
