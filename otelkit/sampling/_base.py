"""The frame every otelkit head sampler shares: parent-based children, counts, never raising.

:class:`BaseHeadSampler` implements ``should_sample``: a span with a valid parent follows it
(:func:`~otelkit.sampling._decide.parent_result`, with the debug override when enabled), a
root span is decided by the subclass's :meth:`BaseHeadSampler._root`, every decision is
counted as kept or dropped, and an exception anywhere in the decision keeps the span (with a
rate-limited warning) instead of reaching the application. A forked child starts with a
fresh lock (one held by another thread at fork time would otherwise deadlock the child's
first decision) and zeroed counts; subclasses extend :meth:`BaseHeadSampler._after_fork`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind, TraceState
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.util.types import Attributes

from otelkit._fork import after_fork
from otelkit._warn import warn_limited
from otelkit.sampling._debug import DebugOverride
from otelkit.sampling._decide import parent_result

__all__ = ["BaseHeadSampler"]

_logger = logging.getLogger("otelkit.sampling")


class BaseHeadSampler(Sampler):
    """Parent-based decision for child spans, counted, never raising; roots by ``_root``.

    Subclasses set ``_debug`` (the ``otelkit.debug`` :class:`DebugOverride`, also used for child spans) and
    ``_error_key`` (the rate-limit key of the failure warning), call ``super().__init__()``
    and implement :meth:`_root`. A subclass that counts its root decisions itself (under a
    lock it takes anyway) sets ``_root_counted = True``.
    """

    _debug: DebugOverride
    _error_key = "sampler-error"
    _root_counted = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept = 0
        self._dropped = 0
        after_fork(self._after_fork)

    def _after_fork(self) -> None:
        """In a forked child: a fresh lock and zero counts (this process's own decisions)."""
        self._lock = threading.Lock()
        self._kept = self._dropped = 0

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
            # The parent span's context, read straight from the context (as in the SDK's
            # ParentBased, minus two API calls): None for a root span.
            ctx = parent_context if parent_context is not None else get_current()
            span: Span | None = ctx.get(_SPAN_KEY)  # type: ignore[assignment]
            parent = span.get_span_context() if span is not None else None
            if parent is None or not parent.is_valid:
                result = self._root(ctx, trace_id, name, kind, attributes)
                if self._root_counted:
                    return result
            else:
                # The debug override only matters for an unsampled parent: skip its lookups otherwise.
                force = not parent.trace_flags.sampled and self._debug.requested(ctx, attributes)
                result = parent_result(parent, trace_id, attributes, force)
        except Exception:  # noqa: BLE001 - a sampler must never break the application
            name = type(self).__name__
            _logger.debug("%s failed", name, exc_info=True)
            warn_limited(_logger, self._error_key, "%s failed; keeping the span", name)
            result = SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
        with self._lock:
            if result.decision is Decision.DROP:
                self._dropped += 1
            else:
                self._kept += 1
        return result

    def _root(
        self, ctx: Context, trace_id: int, name: str, kind: SpanKind | None, attributes: Attributes
    ) -> SamplingResult:
        """The decision for a root span (``ctx`` is the parent context, possibly with baggage)."""
        raise NotImplementedError

    def _count(self, result: SamplingResult) -> SamplingResult:
        """Count ``result`` as kept or dropped and return it."""
        with self._lock:
            if result.decision is Decision.DROP:
                self._dropped += 1
            else:
                self._kept += 1
        return result
