"""Exportable copies of kept spans: sampled flag set, ``th`` written, policy attribute added.

The SDK's batch and simple processors export only spans whose context has the sampled
flag. Spans the head sampler only recorded (RECORD_ONLY) would be ignored, so the tail
processor forwards a copy of every kept span with:

* the sampled flag set (other flags kept);
* ``th`` in the ``ot`` tracestate set to the decision's threshold (``th:0`` for a certain
  keep, the policy's ``T`` for a probabilistic or rate-limited keep), or left untouched
  when the decision makes no statement (``rv`` and other vendors' entries always kept);
* the attribute :data:`POLICY_ATTRIBUTE` (``otelkit.tail.policy``) naming the policy that
  kept the trace (``<composite>/<sub-policy>`` for a composite).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags

from otelkit.sampling.threshold import with_threshold

__all__ = ["POLICY_ATTRIBUTE", "exportable"]

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


def exportable(span: ReadableSpan, policy: str, threshold: int | None) -> ReadableSpan:
    """A sampled copy of ``span`` labelled with ``policy`` and carrying ``threshold``."""
    ctx = span.context
    if ctx is None:
        return span
    state = ctx.trace_state if threshold is None else with_threshold(ctx.trace_state, threshold)
    context = SpanContext(
        ctx.trace_id,
        ctx.span_id,
        ctx.is_remote,
        TraceFlags(ctx.trace_flags | TraceFlags.SAMPLED),
        state,
    )
    attributes = dict(span._attributes or {})
    attributes[POLICY_ATTRIBUTE] = policy
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
