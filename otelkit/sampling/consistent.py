"""ConsistentProbabilitySampler: the spec's fixed-probability sampler, parent-based.

Unlike the SDK's ``TraceIdRatioBased`` (low 64 bits, ``<`` a bound, no ``th``), this keeps
a root span iff ``R >= T`` with ``R`` the trace ID's low 56 bits and
``T = (1 - p) * 2^56`` (precision 4), so its decisions agree with every other spec-conforming
SDK, and it writes ``ot=th:...`` so the adjusted count travels with the trace.

``OTEL_TRACES_SAMPLER=otelkit_consistent`` with ``OTEL_TRACES_SAMPLER_ARG=0.25``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace._sampling_experimental import SamplingIntent
from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from otelkit._warn import warn_limited
from otelkit.sampling._base import BaseHeadSampler
from otelkit.sampling._debug import DebugOverride
from otelkit.sampling._decide import ThresholdResults
from otelkit.sampling.threshold import probability_to_threshold

__all__ = ["ConsistentProbabilitySampler", "consistent_sampler_factory"]

_logger = logging.getLogger("otelkit.sampling")


class ConsistentProbabilitySampler(BaseHeadSampler):
    """Keep root traces with a fixed ``probability``; follow the parent otherwise.

    Args:
        probability: keep probability of a root trace, 0..1 (default 1.0).
        debug: honour the ``otelkit.debug`` override (default True; baggage only with
            ``OTELKIT_SAMPLER_DEBUG_TOKEN``), or a :class:`DebugOverride`.
        environ: mapping read instead of ``os.environ`` (the override's token and rate).

    Raises:
        ValueError: ``probability`` outside [0, 1].
    """

    _error_key = "consistent-error"

    def __init__(
        self, probability: float = 1.0, *, debug: bool | DebugOverride = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._probability = float(probability)
        self._threshold = probability_to_threshold(self._probability)
        self._debug = debug if isinstance(debug, DebugOverride) else DebugOverride.from_env(debug, environ)
        self._results = ThresholdResults()

    @property
    def probability(self) -> float:
        """The configured keep probability of root traces."""
        return self._probability

    def _root(
        self, ctx: Context, trace_id: int, name: str, kind: SpanKind | None, attributes: Attributes
    ) -> SamplingResult:
        if self._debug.requested(ctx, attributes):
            return self._results.keep(0, attributes)
        return self._results.decide(trace_id, self._threshold, attributes)

    def sampling_intent(
        self,
        parent_ctx: Context | None,
        name: str,
        span_kind: SpanKind | None,
        attributes: Attributes,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingIntent:
        """The specification's composable shape (:mod:`otelkit.sampling.composable`): this
        root span's threshold; the composite sampler decides."""
        if self._debug.requested(parent_ctx, attributes):
            return SamplingIntent(0)
        return SamplingIntent(self._threshold)

    def get_description(self) -> str:
        return f"ConsistentProbabilitySampler{{{self._probability}}}"

    def stats(self) -> dict[str, Any]:
        """``kept``/``dropped`` span counts, the configured ``probability``, ``forced``/``forced_refused``."""
        with self._lock:
            out = {"kept": self._kept, "dropped": self._dropped, "probability": self._probability}
        return {**out, **self._debug.stats()}


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
