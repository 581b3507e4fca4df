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
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otelkit.sampling.threshold import randomness, read_ot

__all__ = ["Outcome", "Decision", "Policy", "TraceView", "SAMPLED", "NOT_SAMPLED", "DROPPED"]


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


class TraceView:
    """Read-only view of the buffered spans of one trace, with cached derived values.

    Args:
        trace_id: the 128-bit trace ID.
        spans: the trace's ended spans in arrival order (never empty for real traces).
    """

    __slots__ = ("trace_id", "spans", "__dict__")

    def __init__(self, trace_id: int, spans: Sequence[ReadableSpan]) -> None:
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
