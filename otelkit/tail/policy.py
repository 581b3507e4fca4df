"""The tail-sampling policy contract: a trace view in, a decision out.

A policy is any object with a ``name`` and one method, ``evaluate(trace) -> Decision``.
The processor evaluates every configured policy on a finished trace (off the hot path,
in its worker thread, one policy call at a time) and combines their decisions:

* any :attr:`Outcome.DROPPED` drops the trace (the ``drop`` policy wins over everything);
* else the first :attr:`Outcome.SAMPLED` (in configuration order) keeps it and names it;
* else the trace is dropped ("no policy matched").

A decision may carry a rejection ``threshold`` (OpenTelemetry probability sampling):
``0`` means "kept with certainty" (adjusted count 1), a larger value ``T`` means the trace
was kept because its randomness ``R >= T`` (adjusted count ``2^56 / (2^56 - T)``), and
``None`` means "no statement": the span's existing ``th`` is left as it is.

The spans a policy sees (:attr:`TraceView.spans`) are :class:`SpanSummary` objects: the
processor holds each ended span as its encoded bytes plus a summary
(:class:`otelkit.tail._record.SpanRecord`) with the names a ``ReadableSpan`` has. A policy
may declare the span attributes it reads as ``attribute_keys`` (a ``frozenset`` of keys);
when every configured policy declares them, the summary holds only those keys. A policy
without ``attribute_keys`` (or with ``None``) sees every attribute, decoded when read.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from otelkit.sampling.threshold import randomness, read_ot

__all__ = ["Outcome", "Decision", "Policy", "SpanSummary", "TraceView", "SAMPLED", "NOT_SAMPLED", "DROPPED",
           "attribute_keys"]


class Outcome(enum.Enum):
    """What one policy says about one trace."""

    SAMPLED = "sampled"
    NOT_SAMPLED = "not_sampled"
    DROPPED = "dropped"


@dataclass(frozen=True)
class Decision:
    """A policy's verdict.

    Attributes:
        outcome: sampled, not sampled (no opinion) or dropped (veto).
        threshold: rejection threshold behind a SAMPLED outcome: 0 = certain, ``T`` = kept
            because ``R >= T``, None = unknown (leave the span's ``th`` as it is).
        via: for nesting policies (composite), the name of the sub-policy that decided.
    """

    outcome: Outcome
    threshold: int | None = 0
    via: str | None = None

    @property
    def sampled(self) -> bool:
        return self.outcome is Outcome.SAMPLED


SAMPLED = Decision(Outcome.SAMPLED, 0)
NOT_SAMPLED = Decision(Outcome.NOT_SAMPLED, None)
DROPPED = Decision(Outcome.DROPPED, None)


class Policy(Protocol):
    """One tail-sampling rule. ``name`` labels kept spans and the per-policy counts."""

    name: str

    def evaluate(self, trace: TraceView) -> Decision:
        """Judge a finished (or force-decided) trace. Called from one thread at a time."""
        ...


class SpanSummary(Protocol):
    """What a policy reads of one ended span (``ReadableSpan`` and ``SpanRecord`` both are)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> SpanKind: ...
    @property
    def status(self) -> Status: ...
    @property
    def start_time(self) -> int | None: ...
    @property
    def end_time(self) -> int | None: ...
    @property
    def context(self) -> SpanContext | None: ...
    @property
    def parent(self) -> SpanContext | None: ...
    @property
    def attributes(self) -> Mapping[str, Any] | None: ...
    @property
    def resource(self) -> Any: ...


def attribute_keys(policies: Iterable[object]) -> frozenset[str] | None:
    """The span attribute keys ``policies`` read, or None when one declares nothing (it may
    read any attribute)."""
    keys: set[str] = set()
    for policy in policies:
        declared = getattr(policy, "attribute_keys", None)
        if declared is None:
            return None
        keys.update(declared)
    return frozenset(keys)


class TraceView:
    """Read-only view of the buffered spans of one trace, with cached derived values.

    Args:
        trace_id: the 128-bit trace ID.
        spans: the trace's ended spans in arrival order (never empty for real traces).
    """

    __slots__ = ("trace_id", "spans", "__dict__")

    def __init__(self, trace_id: int, spans: Sequence[SpanSummary]) -> None:
        self.trace_id = trace_id
        self.spans = spans

    @property
    def span_count(self) -> int:
        return len(self.spans)

    @cached_property
    def start_ns(self) -> int:
        """Earliest span start (ns since epoch); 0 for an empty trace."""
        return min((s.start_time or 0 for s in self.spans), default=0)

    @cached_property
    def end_ns(self) -> int:
        """Latest span end (ns since epoch); 0 for an empty trace."""
        return max((s.end_time or 0 for s in self.spans), default=0)

    @property
    def duration_ms(self) -> float:
        """The trace's span extent: latest end minus earliest start, in milliseconds."""
        return max(0, self.end_ns - self.start_ns) / 1e6

    @cached_property
    def randomness(self) -> int:
        """``R`` for consistent sampling: ``rv`` from any span's ``ot`` tracestate, else
        the trace ID's low 56 bits."""
        for span in self.spans:
            ctx = span.context
            if ctx is not None and ctx.trace_state:
                ot = read_ot(ctx.trace_state)
                if ot.rv is not None:
                    return randomness(self.trace_id, ot)
        return randomness(self.trace_id)

    @cached_property
    def has_error(self) -> bool:
        return any(s.status.status_code is StatusCode.ERROR for s in self.spans)
