"""What a kept span becomes: sampled flag set, ``th`` written, policy attribute added.

The processor holds spans as bytes and splices these changes in (:mod:`otelkit.tail._kept`,
:mod:`otelkit.tail._splice`); :func:`exportable` is the same change on a ``ReadableSpan``,
the reference its output is tested against (byte for byte, after encoding).

The SDK's batch and simple processors export only spans whose context has the sampled
flag. Spans the head sampler only recorded (RECORD_ONLY) would be ignored, so the tail
processor forwards a copy of every kept span with:

* the sampled flag set (other flags kept);
* ``th`` in the ``ot`` tracestate set to the final threshold (:func:`final_threshold`:
  ``th:0`` for a certain keep, the policy's ``T`` for a probabilistic or rate-limited
  keep, never below a head sampler's ``th`` the tail could not see around), or left
  untouched when the decision makes no statement (``rv`` and other vendors' entries kept);
* the attribute ``otelkit.sampling.adjusted_count`` derived from that final tracestate by
  :func:`otelkit.sampling.threshold.count_of` (so attribute and ``th`` always agree);
* the attribute :data:`POLICY_ATTRIBUTE` (``otelkit.tail.policy``) naming the policy that
  kept the trace (``<composite>/<sub-policy>`` for a composite).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags, TraceState

from otelkit.sampling._decide import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.sampling.threshold import count_of, read_ot, with_threshold
from otelkit.tail.policy import SpanSummary

__all__ = ["POLICY_ATTRIBUTE", "Rewrite", "exportable", "final_threshold", "head_threshold"]

POLICY_ATTRIBUTE = "otelkit.tail.policy"
"""Span attribute naming the tail-sampling policy that kept the span's trace."""


class _KeptSpan(ReadableSpan):
    """A ReadableSpan copy that keeps the original's dropped-attribute count."""

    def __init__(self, dropped_attributes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kept_dropped_attributes = dropped_attributes

    @property
    def dropped_attributes(self) -> int:
        return self._kept_dropped_attributes


def head_threshold(spans: Sequence[SpanSummary]) -> int | None:
    """The ``th`` of the first head-sampled span of a trace (None: none sampled or no ``th``)."""
    for span in spans:
        flags = getattr(span, "trace_flags", None)  # a SpanRecord's: no SpanContext built
        if flags is not None:
            if flags & 1:
                return read_ot(span.trace_state).th  # type: ignore[attr-defined]
            continue
        ctx = span.context
        if ctx is not None and ctx.trace_flags.sampled:
            return read_ot(ctx.trace_state).th
    return None


def final_threshold(tail: int | None, spans: Sequence[SpanSummary], sees_all: bool) -> int | None:
    """The threshold kept spans carry for a tail decision ``tail`` on ``spans``.

    Behind :class:`~otelkit.tail.RecordForTailSampler` (``sees_all``) the tail judged every
    trace, so its threshold stands (an error kept with certainty is ``th:0`` even when the
    head had sampled it at 10%). Otherwise only head-sampled traces reach the tail: a trace
    is kept iff the head kept it *and* the tail did, both on the same randomness, so the
    threshold is the larger one (a stage never lowers ``th``).
    """
    if sees_all or tail is None:
        return tail
    head = head_threshold(spans)
    return tail if head is None else max(head, tail)


class Rewrite:
    """The tracestate and count the kept spans of one trace get, memoised by original state
    (a trace's spans share one tracestate object, so it is parsed and rebuilt once)."""

    __slots__ = ("threshold", "_memo")

    def __init__(self, threshold: int | None) -> None:
        self.threshold = threshold
        self._memo: dict[int, tuple[TraceState, TraceState, float]] = {}

    def apply(self, state: TraceState) -> tuple[TraceState, float]:
        hit = self._memo.get(id(state))
        if hit is None or hit[0] is not state:
            new = state if self.threshold is None else with_threshold(state, self.threshold)
            hit = (state, new, count_of(new))
            self._memo[id(state)] = hit
        return hit[1], hit[2]


def exportable(span: ReadableSpan, policy: str, threshold: int | None, rewrite: Rewrite | None = None) -> ReadableSpan:
    """A sampled copy of ``span`` labelled with ``policy`` and carrying ``threshold``
    (``rewrite``: the trace's shared :class:`Rewrite` for ``threshold``)."""
    ctx = span.context
    if ctx is None:
        return span
    state, count = (rewrite or Rewrite(threshold)).apply(ctx.trace_state)
    context = SpanContext(
        ctx.trace_id,
        ctx.span_id,
        ctx.is_remote,
        TraceFlags(ctx.trace_flags | TraceFlags.SAMPLED),
        state,
    )
    attributes = dict(span._attributes or {})
    attributes[POLICY_ATTRIBUTE] = policy
    attributes[ADJUSTED_COUNT_ATTRIBUTE] = count
    return _KeptSpan(
        span.dropped_attributes,
        name=span.name,
        context=context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=span._events,
        links=span._links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
