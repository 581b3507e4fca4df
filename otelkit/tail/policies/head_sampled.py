"""``head_sampled``: keep traces the head sampler already sampled, with the head's ``th``.

With :class:`otelkit.tail.RecordForTailSampler` every span reaches the tail; spans the head
sampler kept carry the sampled flag (and, from a consistent head sampler such as
``otelkit_adaptive``, a ``th``). This policy keeps those traces and reports the head's
threshold so their adjusted counts are unchanged; without a head ``th`` it makes no
statement about the threshold.
"""

from __future__ import annotations

from otelkit.sampling.threshold import read_ot
from otelkit.tail.policies._check import check_name
from otelkit.tail.policy import NOT_SAMPLED, Decision, Outcome, TraceView

__all__ = ["HeadSampledPolicy"]


class HeadSampledPolicy:
    """Keep a trace when any of its spans was sampled by the head sampler.

    Args:
        name: label; default ``head_sampled``.
    """

    attribute_keys: frozenset[str] = frozenset()
    """Span attributes this policy reads: none."""

    def __init__(self, name: str | None = None) -> None:
        self.name = check_name(name, "head_sampled")

    def evaluate(self, trace: TraceView) -> Decision:
        for span in trace.spans:
            flags = getattr(span, "trace_flags", None)  # a SpanRecord's: no SpanContext built
            if flags is not None:
                if flags & 1:
                    return Decision(Outcome.SAMPLED, read_ot(span.trace_state).th)  # type: ignore[attr-defined]
                continue
            ctx = span.context
            if ctx is not None and ctx.trace_flags.sampled:
                return Decision(Outcome.SAMPLED, read_ot(ctx.trace_state).th)
        return NOT_SAMPLED
