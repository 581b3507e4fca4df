"""``probabilistic``: spec-consistent probability sampling on the trace's randomness.

Keeps a trace iff ``R >= T`` where ``T`` is the OpenTelemetry rejection threshold for the
configured percentage (rounded to 4 hex digits, :mod:`otelkit.sampling.threshold`) and
``R`` is ``rv`` from the ``ot`` tracestate when present, else the trace ID's low 56 bits.
The decision carries ``T``, which the processor writes as ``th`` on the kept spans, so
the adjusted count of a kept trace is ``2^56 / (2^56 - T)`` (10 for 10%). Decisions
agree with any spec-conforming probability sampler at the same percentage, and a trace
kept at p is kept at every p' >= p.
"""

from __future__ import annotations

from otelkit.sampling.threshold import MAX_THRESHOLD, probability_to_threshold
from otelkit.tail.policies._check import check_name, check_number
from otelkit.tail.policy import NOT_SAMPLED, Decision, Outcome, TraceView

__all__ = ["ProbabilisticPolicy"]


class ProbabilisticPolicy:
    """Keep ``sampling_percentage`` % of traces, consistently by trace randomness.

    Args:
        sampling_percentage: 0..100.
        name: label; default ``probabilistic``.
    """

    attribute_keys: frozenset[str] = frozenset()
    """Span attributes this policy reads: none."""

    def __init__(self, sampling_percentage: float, name: str | None = None) -> None:
        self.name = check_name(name, "probabilistic")
        pct = check_number("sampling_percentage", sampling_percentage, lo=0, hi=100)
        assert pct is not None
        self.sampling_percentage = pct
        self.threshold = probability_to_threshold(pct / 100.0)
        self._decision = Decision(Outcome.SAMPLED, self.threshold)

    def evaluate(self, trace: TraceView) -> Decision:
        if self.threshold < MAX_THRESHOLD and trace.randomness >= self.threshold:
            return self._decision
        return NOT_SAMPLED
