"""Head samplers with spec-consistent thresholds (``th``) so counts stay correct.

* :class:`AdaptiveSampler` (``otelkit_adaptive``): a target of root traces/s, fair across keys;
* :class:`RulesSampler` (``otelkit_rules``): keep / drop / fixed ratio by name, kind, attribute;
* :class:`ConsistentProbabilitySampler` (``otelkit_consistent``): the spec's fixed probability.

Kept spans carry ``ot=th:...`` in their tracestate and the adjusted count in the span
attribute :data:`ADJUSTED_COUNT_ATTRIBUTE` (``otelkit.sampling.adjusted_count``).
"""

from __future__ import annotations

from otelkit.sampling._decide import ADJUSTED_COUNT_ATTRIBUTE, DEBUG_KEY
from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.sampling.consistent import ConsistentProbabilitySampler
from otelkit.sampling.rules import RuleSet, RulesSampler, parse_rules

__all__ = [
    "ADJUSTED_COUNT_ATTRIBUTE",
    "DEBUG_KEY",
    "AdaptiveSampler",
    "ConsistentProbabilitySampler",
    "RuleSet",
    "RulesSampler",
    "parse_rules",
]
