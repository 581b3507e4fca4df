"""The OpenTelemetry specification's composable samplers, usable with the SDK's experimental ones.

A composable sampler returns a *sampling intent* (a rejection threshold ``T``, whether it is
reliable for counting, attributes to add, a tracestate update) instead of a decision; a
composite sampler makes the decision (keep iff ``R >= T``) and writes ``th``. The shape is
the SDK's ``opentelemetry.sdk.trace._sampling_experimental.ComposableSampler`` (Development
status in the specification, experimental in the SDK), so the two mix freely:

* otelkit's head samplers (:class:`~otelkit.sampling.AdaptiveSampler`,
  :class:`~otelkit.sampling.RulesSampler`, :class:`~otelkit.sampling.ConsistentProbabilitySampler`)
  have ``sampling_intent`` (their root decision as a threshold);
* :func:`parent_threshold` (ComposableParentThreshold), :func:`annotating`
  (ComposableAnnotating), and the SDK's ``composable_rule_based`` (ComposableRuleBased) wrap them;
* :func:`composite` turns a composable sampler into an SDK ``Sampler``.

Python SDK gaps worked around here (open-telemetry/opentelemetry-python #5578): the tracer
calls ``should_sample`` without ``trace_state``, so the SDK's composite and parent-threshold
samplers never see the parent's ``th``/``rv``; :func:`composite` and :func:`parent_threshold`
read the parent's tracestate from ``parent_context`` when none is passed. The SDK composite
also drops the intent's tracestate update when the incoming tracestate is empty (every root
span); :func:`composite` applies it. ``ParentBased`` does not forward a tracestate to its
delegates: use :func:`parent_threshold` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace._sampling_experimental import ComposableSampler, SamplingIntent
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState, get_current_span
from opentelemetry.util.types import Attributes

from otelkit.sampling.threshold import MAX_THRESHOLD, RANDOMNESS_MASK, read_ot, with_threshold

__all__ = ["ComposableSampler", "SamplingIntent", "INVALID_THRESHOLD", "composite", "parent_threshold",
           "annotating"]

INVALID_THRESHOLD = -1
"""The intent of "do not sample" (the SDK's value)."""


def _parent_state(parent_ctx: Context | None, trace_state: TraceState | None) -> TraceState | None:
    if trace_state is not None:
        return trace_state
    parent = get_current_span(parent_ctx).get_span_context()
    return parent.trace_state if parent.is_valid else None


class _Composite(Sampler):
    def __init__(self, delegate: ComposableSampler) -> None:
        self._delegate = delegate

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
        state = _parent_state(parent_context, trace_state)
        intent = self._delegate.sampling_intent(parent_context, name, kind, attributes, links, state)
        ot = read_ot(state)
        threshold = intent.threshold
        sampled = 0 <= threshold < MAX_THRESHOLD and (
            ot.rv if ot.rv is not None else trace_id & RANDOMNESS_MASK) >= threshold
        updated = intent.update_trace_state(state if state is not None else TraceState())
        # a keep with a reliable threshold writes it; anything else erases th (rv is kept)
        updated = with_threshold(updated, threshold if sampled and intent.threshold_reliable else None)
        if not sampled:
            return SamplingResult(Decision.DROP, None, updated)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, intent.attributes, updated)

    def get_description(self) -> str:
        return f"CompositeSampler{{{self._delegate.get_description()}}}"


def composite(delegate: ComposableSampler) -> Sampler:
    """An SDK ``Sampler`` deciding by ``delegate``'s intent: keep iff ``R >= T`` (``rv`` first).

    A keep with a reliable threshold writes ``ot=th:<T>``; otherwise ``th`` is erased. The
    parent's tracestate is read from ``parent_context`` when the caller passes none (the SDK
    tracer never does), and the intent's tracestate update applies to root spans too.
    """
    return _Composite(delegate)


class _ParentThreshold:
    def __init__(self, root: ComposableSampler) -> None:
        self._root = root

    def sampling_intent(
        self,
        parent_ctx: Context | None,
        name: str,
        span_kind: SpanKind | None,
        attributes: Attributes,
        links: Sequence[Link] | None,
        trace_state: TraceState | None = None,
    ) -> SamplingIntent:
        parent = get_current_span(parent_ctx).get_span_context()
        if not parent.is_valid:
            return self._root.sampling_intent(parent_ctx, name, span_kind, attributes, links, trace_state)
        th = read_ot(trace_state if trace_state is not None else parent.trace_state).th
        if th is not None:
            return SamplingIntent(th, True)
        return SamplingIntent(0 if parent.trace_flags.sampled else INVALID_THRESHOLD, False)

    def get_description(self) -> str:
        return f"ComposableParentThreshold{{root={self._root.get_description()}}}"


def parent_threshold(root: ComposableSampler) -> ComposableSampler:
    """ComposableParentThreshold: a child follows its parent's ``th`` (reliable) or sampled flag
    (threshold 0 or none, unreliable); a root asks ``root``. The parent's tracestate comes
    from the parent context, so it also works under the SDK's own composite sampler."""
    return _ParentThreshold(root)


class _Annotating:
    def __init__(self, delegate: ComposableSampler, attributes: Attributes) -> None:
        self._delegate = delegate
        self._attributes = dict(attributes or {})

    def sampling_intent(
        self,
        parent_ctx: Context | None,
        name: str,
        span_kind: SpanKind | None,
        attributes: Attributes,
        links: Sequence[Link] | None,
        trace_state: TraceState | None = None,
    ) -> SamplingIntent:
        intent = self._delegate.sampling_intent(parent_ctx, name, span_kind, attributes, links, trace_state)
        merged = {**(intent.attributes or {}), **self._attributes}
        return SamplingIntent(intent.threshold, intent.threshold_reliable, merged, intent.update_trace_state)

    def get_description(self) -> str:
        return f"ComposableAnnotating{{{self._delegate.get_description()}}}"


def annotating(delegate: ComposableSampler, attributes: Attributes) -> ComposableSampler:
    """ComposableAnnotating: ``delegate``'s intent plus ``attributes`` on the spans it samples."""
    return _Annotating(delegate, attributes)
