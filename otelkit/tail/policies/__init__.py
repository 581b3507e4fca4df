"""Tail-sampling policies: one module per policy, each ``evaluate(trace) -> Decision``."""

from __future__ import annotations

from otelkit.tail.policies.always import AlwaysSamplePolicy
from otelkit.tail.policies.and_policy import AndPolicy
from otelkit.tail.policies.boolean_attribute import BooleanAttributePolicy
from otelkit.tail.policies.composite import CompositePolicy
from otelkit.tail.policies.drop import DropPolicy
from otelkit.tail.policies.head_sampled import HeadSampledPolicy
from otelkit.tail.policies.latency import LatencyPolicy
from otelkit.tail.policies.not_policy import NotPolicy
from otelkit.tail.policies.numeric_attribute import NumericAttributePolicy
from otelkit.tail.policies.probabilistic import ProbabilisticPolicy
from otelkit.tail.policies.rate_limiting import RateLimitingPolicy
from otelkit.tail.policies.span_count import SpanCountPolicy
from otelkit.tail.policies.status_code import StatusCodePolicy
from otelkit.tail.policies.string_attribute import StringAttributePolicy

__all__ = [
    "AlwaysSamplePolicy",
    "AndPolicy",
    "BooleanAttributePolicy",
    "CompositePolicy",
    "DropPolicy",
    "HeadSampledPolicy",
    "LatencyPolicy",
    "NotPolicy",
    "NumericAttributePolicy",
    "ProbabilisticPolicy",
    "RateLimitingPolicy",
    "SpanCountPolicy",
    "StatusCodePolicy",
    "StringAttributePolicy",
]
