"""In-process tail sampling: buffer ended spans by trace, decide by policies, forward kept traces.

See ``docs/tail-sampling.md``. The public names:

* :class:`TailSamplingProcessor` - the span processor (wrap the export processor with it);
* :class:`RecordForTailSampler` - the head-sampler wrapper that records every span for it;
* the policy contract (:class:`Policy`, :class:`Decision`, :class:`Outcome`,
  :class:`TraceView`) and the policies of :mod:`otelkit.tail.policies`;
* configuration: :func:`policies_from_string`, :func:`build_policies`,
  :func:`default_policies` (:data:`DEFAULT_POLICIES`);
* :data:`POLICY_ATTRIBUTE` - the span attribute naming the policy that kept a trace.

Everything else (the trace buffer, the decider, forwarding, span records, caches,
metrics) is internal: modules with a leading underscore.
"""

from __future__ import annotations

from otelkit.tail._forward import POLICY_ATTRIBUTE
from otelkit.tail.head import RecordForTailSampler
from otelkit.tail.policies import (
    AlwaysSamplePolicy,
    AndPolicy,
    BooleanAttributePolicy,
    CompositePolicy,
    DropPolicy,
    HeadSampledPolicy,
    LatencyPolicy,
    NotPolicy,
    NumericAttributePolicy,
    ProbabilisticPolicy,
    RateLimitingPolicy,
    SpanCountPolicy,
    StatusCodePolicy,
    StringAttributePolicy,
)
from otelkit.tail.policy import DROPPED, NOT_SAMPLED, SAMPLED, Decision, Outcome, Policy, TraceView
from otelkit.tail.policy_config import (
    DEFAULT_POLICIES,
    build_policies,
    default_policies,
    policies_from_string,
)
from otelkit.tail.processor import TailSamplingProcessor

__all__ = [
    "POLICY_ATTRIBUTE",
    "RecordForTailSampler",
    "TailSamplingProcessor",
    "Policy",
    "Decision",
    "Outcome",
    "TraceView",
    "SAMPLED",
    "NOT_SAMPLED",
    "DROPPED",
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
    "DEFAULT_POLICIES",
    "build_policies",
    "default_policies",
    "policies_from_string",
]
