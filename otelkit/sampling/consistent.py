"""ConsistentProbabilitySampler: the spec's fixed-probability sampler, parent-based.

Unlike the SDK's ``TraceIdRatioBased`` (low 64 bits, ``<`` a bound, no ``th``), this keeps
a root span iff ``R >= T`` with ``R`` the trace ID's low 56 bits and
``T = (1 - p) * 2^56`` (precision 4), so its decisions agree with every other spec-conforming
SDK, and it writes ``ot=th:...`` so the adjusted count travels with the trace.

``OTEL_TRACES_SAMPLER=otelkit_consistent`` with ``OTEL_TRACES_SAMPLER_ARG=0.25``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from otelkit._warn import warn_limited
from otelkit.sampling._decide import ThresholdResults, debug_requested, parent_of, parent_result
from otelkit.sampling.threshold import probability_to_threshold

__all__ = ["ConsistentProbabilitySampler", "consistent_sampler_factory"]

_logger = logging.getLogger("otelkit.sampling")


class ConsistentProbabilitySampler(Sampler):
    """Keep root traces with a fixed ``probability``; follow the parent otherwise.

    Args:
        probability: keep probability of a root trace, 0..1 (default 1.0).
        debug: honour the ``otelkit.debug`` attribute/baggage override (default True).

    Raises:
        ValueError: ``probability`` outside [0, 1].
    """

    def __init__(self, probability: float = 1.0, *, debug: bool = True) -> None:
        self._probability = float(probability)
        self._threshold = probability_to_threshold(self._probability)
        self._debug = debug
        self._results = ThresholdResults()
        self._lock = threading.Lock()
        self._kept = 0
        self._dropped = 0

    @property
    def probability(self) -> float:
        """The configured keep probability of root traces."""
        return self._probability

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
        try:
            ctx, parent = parent_of(parent_context)
            debug = self._debug and debug_requested(ctx, attributes)
            if parent is not None:
                result = parent_result(parent, trace_id, attributes, debug)
            elif debug:
                result = self._results.keep(0, attributes)
            else:
                result = self._results.decide(trace_id, self._threshold, attributes)
        except Exception:  # noqa: BLE001 - a sampler must never break the application
            _logger.debug("ConsistentProbabilitySampler failed", exc_info=True)
            warn_limited(_logger, "consistent-error", "ConsistentProbabilitySampler failed; keeping the span")
            result = SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
        with self._lock:
            if result.decision is Decision.DROP:
                self._dropped += 1
            else:
                self._kept += 1
        return result

    def get_description(self) -> str:
        return f"ConsistentProbabilitySampler{{{self._probability}}}"

    def stats(self) -> dict[str, Any]:
        """``kept``/``dropped`` span counts and the configured ``probability``."""
        with self._lock:
            return {"kept": self._kept, "dropped": self._dropped, "probability": self._probability}


def consistent_sampler_factory(arg: object = None) -> Sampler:
    """Entry point ``otelkit_consistent``: ``arg`` is the probability (string/number) or None.

    An invalid ``arg`` is logged and ignored (probability 1.0), as the spec requires.
    """
    probability = 1.0
    if arg is not None and str(arg).strip():
        try:
            probability = float(str(arg).strip())
            if not 0.0 <= probability <= 1.0:
                raise ValueError(arg)
        except ValueError:
            warn_limited(
                _logger,
                "consistent-arg",
                "OTEL_TRACES_SAMPLER_ARG=%r is invalid for otelkit_consistent: expected a "
                "probability from 0 to 1; using 1.0",
                arg,
            )
            probability = 1.0
    return ConsistentProbabilitySampler(probability)
