"""The head-sampler side of tail sampling: record every span so the tail can judge it.

:class:`RecordForTailSampler` wraps any head sampler. Where the delegate says DROP it
answers RECORD_ONLY (same attributes and tracestate), so the span is recorded and reaches
the :class:`~otelkit.tail.TailSamplingProcessor` without the sampled flag; where the
delegate samples, its result (flag, ``th``) is returned unchanged. The delegate still
counts its own decisions (an adaptive sampler's budget is unaffected).

Two consequences to know:

* propagated context carries the *head* decision: downstream services see
  ``sampled=0`` for head-dropped traces the tail may later keep, so in-process tail
  sampling covers this process's part of a trace;
* every span is now recorded, so span creation costs what an always-on sampler costs.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

__all__ = ["RecordForTailSampler"]


class RecordForTailSampler(Sampler):
    """Turn the delegate's DROP into RECORD_ONLY; keep its sampled decisions as they are.

    Args:
        delegate: the head sampler (e.g. ``otelkit_adaptive`` or ``ParentBased(...)``).
    """

    def __init__(self, delegate: Sampler) -> None:
        if not isinstance(delegate, Sampler):
            raise ValueError(f"delegate {delegate!r} is invalid: expected an opentelemetry Sampler")
        self.delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        result = self.delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is Decision.DROP:
            return SamplingResult(Decision.RECORD_ONLY, result.attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        return f"RecordForTail{{{self.delegate.get_description()}}}"

    def stats(self) -> dict[str, object]:
        """The delegate's ``stats()`` when it has one (so pipeline stats stay visible)."""
        inner = getattr(self.delegate, "stats", None)
        return dict(inner()) if callable(inner) else {}
