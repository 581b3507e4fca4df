"""Shared decision plumbing of the otelkit head samplers.

* :class:`ThresholdResults` turns a root decision (a rejection threshold ``T``) into a
  :class:`SamplingResult`: keep iff ``R >= T`` (``R`` = the trace ID's low 56 bits), write
  ``ot=th:...`` into the new span's tracestate and record the adjusted count as the span
  attribute :data:`ADJUSTED_COUNT_ATTRIBUTE`.
* :func:`parent_result` is the parent-based decision for non-root spans: it follows the
  parent's sampled flag, keeps the parent's tracestate (its ``th``, ``rv`` and other vendors'
  entries; a threshold is never lowered) and erases a ``th`` that the randomness contradicts,
  that is malformed, or that an unsampled parent carried.
* :func:`debug_requested` is the debug override: attribute or baggage ``otelkit.debug``.

The SDK tracer does not pass ``trace_state`` to ``should_sample``; the parent's tracestate
is read from ``parent_context`` (the parent span's context).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import baggage as _baggage
from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace.sampling import Decision, SamplingResult
from opentelemetry.trace import SpanContext, TraceState
from opentelemetry.util.types import Attributes

from otelkit.sampling.threshold import (
    MAX_THRESHOLD,
    OT_KEY,
    RANDOMNESS_MASK,
    OtValue,
    adjusted_count,
    encode_th,
    with_threshold,
)

__all__ = [
    "ADJUSTED_COUNT_ATTRIBUTE",
    "DEBUG_KEY",
    "ThresholdResults",
    "debug_requested",
    "parent_result",
    "merge_attributes",
]

ADJUSTED_COUNT_ATTRIBUTE = "otelkit.sampling.adjusted_count"
"""Span attribute (float) holding ``2^56 / (2^56 - T)``: how many spans this kept one stands for."""

DEBUG_KEY = "otelkit.debug"
"""Span-start attribute or baggage entry that forces a keep when ``true``/``1``."""

_TRUE = frozenset({"true", "1", "yes", "on"})
# The API's context keys: reading the context dict directly saves two context lookups per
# decision over get_current_span()/get_baggage() (the sampler's hottest path).
_BAGGAGE_KEY: str = getattr(_baggage, "_BAGGAGE_KEY", "")
_CACHE_LIMIT = 4096
_DROP = SamplingResult(Decision.DROP)


def merge_attributes(attributes: Attributes, count: float) -> dict[str, Any]:
    """The span's start attributes plus :data:`ADJUSTED_COUNT_ATTRIBUTE`."""
    merged: dict[str, Any] = dict(attributes) if attributes else {}
    merged[ADJUSTED_COUNT_ATTRIBUTE] = count
    return merged


class ThresholdResults:
    """Builds root results for a threshold, caching the tracestate per threshold value.

    ``TraceState`` validates its entries on construction (several microseconds), so each
    distinct threshold builds its ``ot=th:...`` state once; the cache is bounded.
    """

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[int, tuple[TraceState, float]] = {}

    def entry(self, threshold: int) -> tuple[TraceState, float]:
        """The root tracestate and adjusted count for ``threshold`` (0 <= T < 2^56)."""
        hit = self._cache.get(threshold)
        if hit is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            hit = (TraceState([(OT_KEY, "th:" + encode_th(threshold))]), adjusted_count(threshold))
            self._cache[threshold] = hit
        return hit

    def keep(self, threshold: int, attributes: Attributes) -> SamplingResult:
        """A RECORD_AND_SAMPLE result carrying ``th`` and the adjusted-count attribute."""
        state, count = self.entry(threshold)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, merge_attributes(attributes, count), state)

    def decide(self, trace_id: int, threshold: int, attributes: Attributes) -> SamplingResult:
        """Keep iff the trace ID's low 56 bits are ``>= threshold``."""
        if threshold < MAX_THRESHOLD and (trace_id & RANDOMNESS_MASK) >= threshold:
            return self.keep(threshold, attributes)
        return _DROP


_ot_cache: dict[str, OtValue] = {}


def _parse_ot(raw: str) -> OtValue:
    hit = _ot_cache.get(raw)
    if hit is None:
        if len(_ot_cache) >= _CACHE_LIMIT:
            _ot_cache.clear()
        hit = OtValue.parse(raw)
        _ot_cache[raw] = hit
    return hit


def _without_th(state: TraceState, raw: str) -> TraceState:
    """``state`` with any ``th`` (well-formed or not) removed from its ``ot`` entry."""
    return with_threshold(state, None) if "th:" in raw else state


def parent_result(
    parent: SpanContext, trace_id: int, attributes: Attributes, force_keep: bool = False
) -> SamplingResult:
    """Parent-based decision for a span whose parent context is valid.

    The adjusted-count attribute of a kept span is always derived from the ``th`` the span
    carries (:func:`~otelkit.sampling.threshold.count_of`): no ``th`` (the parent's sampler
    wrote none, or it was erased) is an *unknown probability*, counted as 1.

    Args:
        parent: the parent span's context (its tracestate is the incoming one).
        trace_id: the new span's trace ID (the parent's).
        attributes: the new span's start attributes.
        force_keep: the debug override; keeps a span whose parent was dropped (its ``th``
            is erased: the keep is not a consistent decision, so it counts as 1).
    """
    state = parent.trace_state
    raw = state.get(OT_KEY) if state else None
    if not parent.trace_flags.sampled:
        # A negative decision carries no th (spec): an unsampled parent's th is removed.
        erased = _without_th(state, raw) if raw is not None else state
        if force_keep:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, merge_attributes(attributes, 1.0), erased)
        return SamplingResult(Decision.DROP, None, erased)
    if raw is None:
        return SamplingResult(Decision.RECORD_AND_SAMPLE, merge_attributes(attributes, 1.0), state)
    ot = _parse_ot(raw)
    if ot.th is None:
        # No th, or a malformed one (ignored, and not passed on verbatim): unknown probability.
        return SamplingResult(Decision.RECORD_AND_SAMPLE, merge_attributes(attributes, 1.0), _without_th(state, raw))
    rand = ot.rv if ot.rv is not None else trace_id & RANDOMNESS_MASK
    if rand < ot.th:
        # Sampled although R < T: the threshold is not trustworthy; erase it (spec).
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE, merge_attributes(attributes, 1.0), with_threshold(state, None)
        )
    return SamplingResult(
        Decision.RECORD_AND_SAMPLE, merge_attributes(attributes, adjusted_count(ot.th)), state
    )


def debug_requested(ctx: Context | None, attributes: Attributes) -> bool:
    """True when attribute or baggage ``otelkit.debug`` is ``true``/``1``/``yes``/``on``."""
    if attributes:
        value = attributes.get(DEBUG_KEY)
        if value is not None and (value is True or str(value).lower() in _TRUE):
            return True
    if ctx is None:
        ctx = get_current()
    entries: Mapping[str, object] | None = (  # an annotation, not cast(): no call per decision
        ctx.get(_BAGGAGE_KEY) if _BAGGAGE_KEY else _baggage.get_all(ctx)  # type: ignore[assignment]
    )
    if not entries:
        return False
    flag = entries.get(DEBUG_KEY)
    return flag is not None and str(flag).lower() in _TRUE
