"""One assigned partition: its trace buffer (a tail processor), decisions and committable offset.

:class:`Partition` drives a :class:`~otelkit.tail.TailSamplingProcessor` (no worker thread;
``process_due`` is called by the worker loop), so buffering, limits, policies and the
written ``th`` are exactly the in-process ones. Spans go in as the span records the worker
sliced off the wire (``on_end_record``: the same records and policy path as in-process);
kept spans come out as their bytes with ``th`` and the policy attributes spliced in, and
their route (the processor's downstream here takes bytes, ``holds_encoded``). What the
processor does not expose, this object observes through public seams: a first policy that
returns ``NOT_SAMPLED`` records every trace ID the processor decides, and the downstream
collects the kept spans.

Offsets: every message holds one reference per undecided trace it carried and one per kept
trace not yet acknowledged by the exporter; :meth:`Partition.committable` is the smallest
held offset (or the next offset to read when none is held): everything below it is decided
and, when kept, exported. A trace ID the processor never reports (a late span it followed
from its own decision cache) is released after ``max_wait`` plus a grace period.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from opentelemetry.context import Context
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import TraceState

from otelkit.exporter._encoded import encode_held
from otelkit.exporter._routes import Route
from otelkit.sampling.threshold import read_ot
from otelkit.tail import NOT_SAMPLED, POLICY_ATTRIBUTE, Decision, Policy, TailSamplingProcessor, TraceView
from otelkit.tail._kept import KeptTrace
from otelkit.tail.policy import attribute_keys
from otelkit.tailworker._decode import Held, trace_id_of

__all__ = ["Partition", "Verdict", "Outcome", "Kept"]

Kept = tuple[bytes, Route]
"""A kept span as exported: its ``Span`` bytes (``th``, policy attributes spliced in), its route."""

_GRACE_S = 2.0
_MAX_BATCHES = 64


@dataclass(frozen=True)
class Verdict:
    """The decision on one trace: kept (label, th) or dropped; ``at``: wall-clock seconds."""

    keep: bool
    label: str
    threshold: int | None
    at: float
    replayed: bool = False  # read from the decisions topic: an earlier owner made it


@dataclass
class Outcome:
    """A decided trace (or late spans of one): what to publish and export, which offsets to free."""

    trace_id: int
    verdict: Verdict
    spans: list[Kept]
    offsets: list[int]
    publish: bool = True
    retries: int = field(default=0)


class _Observer:
    """First policy: records each trace the processor judges, has no opinion."""

    name = "tail-worker-observer"
    attribute_keys: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.seen: list[int] = []

    def evaluate(self, trace: TraceView) -> Decision:
        self.seen.append(trace.trace_id)
        return NOT_SAMPLED


class _Collect(SpanProcessor):
    """The processor's downstream: kept spans as bytes, collected until the worker exports them."""

    holds_encoded = True  # the processor hands kept spans over as spliced bytes (on_end_held)

    def __init__(self) -> None:
        self.spans: list[Kept] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end_held(self, data: bytes, route: Route) -> None:
        self.spans.append((data, route))

    def on_end(self, span: ReadableSpan) -> None:  # not called: the processor sees holds_encoded
        self.spans.append(encode_held(span))


def _label_and_th(data: bytes) -> tuple[str, int | None]:
    """The policy label and ``th`` a kept span's bytes carry (read once per kept trace)."""
    pb = PbSpan.FromString(data)
    label = next((kv.value.string_value for kv in pb.attributes if kv.key == POLICY_ATTRIBUTE), "")
    state = TraceState.from_header([pb.trace_state]) if pb.trace_state else TraceState()
    return label, read_ot(state).th


class Partition:
    """Buffer, decisions and offsets of one spans-topic partition (one thread uses it)."""

    def __init__(
        self,
        policies: Sequence[Policy],
        *,
        ttl_s: float,
        cache_size: int,
        environ: Mapping[str, str] | None = None,
        decision_wait_ms: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._observer = _Observer()
        self._collect = _Collect()
        self._clock, self._wall = clock, wall
        self.processor = TailSamplingProcessor(
            self._collect,
            [self._observer, *policies],
            decision_wait_ms=decision_wait_ms,
            overflow="decide",  # one thread: an overflowing trace is decided early, never evicted
            clock=clock,
            start_worker=False,
            self_metrics=False,
            environ=environ,
        )
        limits = self.processor.limits
        self._max_wait_s, self._max_spans, self._max_bytes = limits.max_wait_s, limits.max_spans, limits.max_bytes
        self._buffered = self.processor.buffered
        self.keys = attribute_keys([self._observer, *policies])  # what span summaries copy
        self._ttl_s, self._cache_size = ttl_s, cache_size
        self._verdicts: OrderedDict[int, Verdict] = OrderedDict()
        self._pending: dict[int, tuple[float, list[int]]] = {}  # undecided trace -> (first seen, offsets)
        self._held: dict[int, int] = {}  # offset -> references
        self._next: int | None = None
        self.late_kept = self.late_dropped = self.replayed = self.duplicates = 0

    # -- decisions known before deciding ---------------------------------------------
    def remember(self, trace_id: int, verdict: Verdict) -> bool:
        """Follow ``verdict`` (replayed from the decisions topic) unless expired; True if kept."""
        if verdict.at + self._ttl_s < self._wall():
            return False
        self._put(trace_id, replace(verdict, replayed=True))
        self.replayed += 1
        return True

    def _put(self, trace_id: int, verdict: Verdict) -> None:
        self._verdicts[trace_id] = verdict
        self._verdicts.move_to_end(trace_id)
        while len(self._verdicts) > self._cache_size:
            self._verdicts.popitem(last=False)

    def _verdict(self, trace_id: int) -> Verdict | None:
        verdict = self._verdicts.get(trace_id)
        if verdict is not None and verdict.at + self._ttl_s < self._wall():
            del self._verdicts[trace_id]
            return None
        return verdict

    # -- input -------------------------------------------------------------------------
    def add(self, offset: int, traces: Mapping[int, list[Held]] | None) -> list[Outcome]:
        """Take a message's span records (None: a bad message, skipped); returns late kept spans to export."""
        self._next = offset + 1
        late: list[Outcome] = []
        for trace_id, spans in (traces or {}).items():
            verdict = self._verdict(trace_id)
            if verdict is not None:
                if verdict.keep:
                    self.late_kept += len(spans)
                    if verdict.replayed:  # most likely re-read after a move: the earlier owner exported them
                        self.duplicates += len(spans)
                    self._hold(offset)
                    kept = KeptTrace(verdict.label, verdict.threshold)
                    out = [(kept.output(record)[0], record.route) for record, _ in spans]
                    late.append(Outcome(trace_id, verdict, out, [offset], False))
                else:
                    self.late_dropped += len(spans)
                continue
            entry = self._pending.get(trace_id)
            if entry is None:
                self._pending[trace_id] = (self._clock(), [offset])
            else:
                entry[1].append(offset)
            self._hold(offset)
            take = self.processor.on_end_record
            for record, size in spans:
                take(record, size)
        return late

    def _hold(self, offset: int) -> None:
        self._held[offset] = self._held.get(offset, 0) + 1

    def release(self, offsets: list[int]) -> None:
        """Drop one reference per listed offset (a trace decided and, if kept, exported)."""
        for offset in offsets:
            left = self._held.get(offset, 0) - 1
            if left > 0:
                self._held[offset] = left
            else:
                self._held.pop(offset, None)

    # -- deciding ----------------------------------------------------------------------
    def decide(self, now: float | None = None) -> list[Outcome]:
        """Decide the due traces; dropped ones are released at once, kept ones returned."""
        self._observer.seen.clear()
        for _ in range(_MAX_BATCHES):  # defensive: the sweep below must only see unreported traces
            if not self.processor.process_due(now):
                break
        collected, self._collect.spans = self._collect.spans, []  # also late spans from add()
        kept: dict[int, list[Kept]] = {}
        for span in collected:
            kept.setdefault(trace_id_of(span[0]), []).append(span)
        at = self._wall()
        out: list[Outcome] = []
        for trace_id in self._observer.seen:
            spans = kept.pop(trace_id, None)
            if spans:
                label, th = _label_and_th(spans[0][0])
                verdict = Verdict(True, label, th, at)
            else:
                verdict = Verdict(False, "", None, at)
            self._put(trace_id, verdict)
            entry = self._pending.pop(trace_id, None)
            offsets = entry[1] if entry is not None else []
            out.append(Outcome(trace_id, verdict, spans or [], offsets))
        for trace_id, spans in kept.items():  # late spans the processor followed itself
            verdict = self._verdicts.get(trace_id) or Verdict(True, "", None, at)
            entry = self._pending.pop(trace_id, None)
            out.append(Outcome(trace_id, verdict, spans, entry[1] if entry else [], False))
        self._sweep(self._clock() if now is None else now)
        return out

    def _sweep(self, now: float) -> None:
        """Release traces the processor followed from its caches without reporting them."""
        limit = now - self._max_wait_s - _GRACE_S
        stale = [tid for tid, (seen, _) in self._pending.items() if seen < limit]
        for trace_id in stale:
            self.release(self._pending.pop(trace_id)[1])

    # -- offsets -------------------------------------------------------------------------
    def committable(self) -> int | None:
        """The offset to commit: below it every span is decided and, if kept, exported."""
        if self._held:
            return min(self._held)
        return self._next

    @property
    def position(self) -> int | None:
        """The next offset to read (None before the first message)."""
        return self._next

    def fill(self) -> float:
        """How full the trace buffer is: the larger of spans/``max_spans`` and bytes/``max_bytes``."""
        spans, size = self._buffered()
        return max(spans / self._max_spans, size / self._max_bytes)

    def stats(self) -> dict[str, int]:
        """Gauges and counters; ``decided_early`` (traces the buffer decided before their
        wait to stay within its limits) and ``overflow_spans`` / ``evicted_spans`` (dropped,
        by reason) stay 0 while backpressure keeps the buffer below its limits."""
        snap = self.processor.stats()
        dropped = snap["spans_dropped_by_policy"]
        return {
            "buffered_spans": int(snap["buffered_spans"]),
            "buffered_bytes": int(snap["buffered_bytes"]),
            "decided_early": int(snap["decided_early"]),
            "overflow_spans": int(dropped.get("overflow", 0)),
            "evicted_spans": int(dropped.get("evicted", 0)),
            "pending_traces": len(self._pending),
            "held_messages": len(self._held),
            "late_kept_spans": self.late_kept,
            "late_dropped_spans": self.late_dropped,
            "replayed_decisions": self.replayed,
            "duplicate_spans": self.duplicates,
        }
