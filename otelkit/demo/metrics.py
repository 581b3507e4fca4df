"""Turn the servers' ``/_otelkit/stats``, the receiver's stats and the load counts into numbers.

Every component lands independently, so every key is optional: a missing key becomes
``None`` and is shown as ``-``. Key names follow the stats contract (``sampler``,
``processor0`` - the tail processor when enabled, else the batch processor - and
``exporter0``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Counts", "extract", "combine", "Totals", "totals", "TraceAccount", "trace_account", "LOSS_REASONS"]

LOSS_REASONS = ("evicted", "shutdown", "error")
"""Tail drop reasons that are losses (buffer overflow, after shutdown, failures), not sampling."""


def _num(d: Mapping[str, Any] | None, key: str) -> float | None:
    if not isinstance(d, Mapping):
        return None
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _dict(d: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    if not isinstance(d, Mapping):
        return None
    value = d.get(key)
    return value if isinstance(value, Mapping) else None


@dataclass
class Counts:
    """Counters from one server's stats (``None`` = not reported)."""

    spans_created: float | None = None
    spans_sampled: float | None = None
    roots_sampled: float | None = None
    cpu_seconds: float | None = None
    head_kept: float | None = None
    head_dropped: float | None = None
    probability: float | None = None
    probability_min: float | None = None
    tail_traces_kept: float | None = None
    tail_traces_dropped: float | None = None
    tail_spans_kept: float | None = None
    tail_spans_dropped: float | None = None
    tail_buffered_spans: float | None = None
    batch_exported: float | None = None
    batch_failed: float | None = None
    dropped_queue_full: float | None = None
    dropped_shutdown: float | None = None
    queue_size: float | None = None
    export_ewma_ms: float | None = None
    exp_exported: float | None = None
    exp_failed: float | None = None
    exp_rejected: float | None = None
    raw_bytes: float | None = None
    wire_bytes: float | None = None
    exp_requests: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    kept_by_policy: dict[str, float] = field(default_factory=dict)
    dropped_by_policy: dict[str, float] = field(default_factory=dict)
    spans_spooled: float | None = None
    """Spans the exporter wrote to its disk spool (``None``: no spool configured)."""
    spool_replayed: float | None = None
    spool_bytes: float | None = None
    probability_by_key: dict[str, float] = field(default_factory=dict)
    """The adaptive sampler's probability of its busiest keys (empty when not reported)."""
    messages_published: float | None = None
    """Live-room messages the service published to Kafka (``None``: no Kafka; it then hands
    them over in-process)."""
    messages_consumed: float | None = None
    """Live-room messages its Kafka consumer processed and stored."""
    consumer_polls: float | None = None
    """The live-room consumer's non-empty fetches (each starts a ``poll`` trace of its own)."""


_MAX_FIELDS = ("probability", "p50_ms", "p99_ms", "export_ewma_ms")
_MIN_FIELDS = ("probability_min",)
_DICT_FIELDS = ("kept_by_policy", "dropped_by_policy", "probability_by_key")


def extract(stats: Mapping[str, Any]) -> Counts:
    """Counts from one ``/_otelkit/stats`` snapshot."""
    sampler = _dict(stats, "sampler")
    proc = _dict(stats, "processor0")
    tail = proc if proc is not None and "traces_kept" in proc else None
    batch = _dict(tail, "downstream") if tail is not None else proc
    exp = _dict(stats, "exporter0")
    policies = _dict(tail, "kept_by_policy") or {}
    by_key = _dict(sampler, "probability_by_key") or {}
    spool = exp is not None and "spool_bytes" in exp
    drops = _dict(tail, "dropped_by_policy") or {}
    kafka = stats.get("transport") == "kafka"
    return Counts(
        spans_created=_num(stats, "spans_created"),
        spans_sampled=_num(stats, "spans_sampled"),
        roots_sampled=_num(stats, "roots_sampled"),
        cpu_seconds=_num(stats, "cpu_seconds"),
        head_kept=_num(sampler, "kept"),
        head_dropped=_num(sampler, "dropped"),
        probability=_num(sampler, "probability"),
        probability_min=_num(sampler, "probability"),
        tail_traces_kept=_num(tail, "traces_kept"),
        tail_traces_dropped=_num(tail, "traces_dropped"),
        tail_spans_kept=_num(tail, "spans_kept"),
        tail_spans_dropped=_num(tail, "spans_dropped"),
        tail_buffered_spans=_num(tail, "buffered_spans"),
        batch_exported=_num(batch, "spans_exported"),
        batch_failed=_num(batch, "spans_failed"),
        dropped_queue_full=_num(batch, "dropped_queue_full"),
        dropped_shutdown=_num(batch, "dropped_shutdown"),
        queue_size=_num(batch, "queue_size"),
        export_ewma_ms=_num(batch, "export_latency_ms_ewma"),
        exp_exported=_num(exp, "spans_exported"),
        exp_failed=_num(exp, "spans_failed"),
        exp_rejected=_num(exp, "spans_rejected"),
        raw_bytes=_num(exp, "raw_bytes"),
        wire_bytes=_num(exp, "wire_bytes"),
        exp_requests=_num(exp, "requests"),
        p50_ms=_num(exp, "export_latency_p50_ms"),
        p99_ms=_num(exp, "export_latency_p99_ms"),
        kept_by_policy={str(k): float(v) for k, v in policies.items() if isinstance(v, (int, float))},
        dropped_by_policy={str(k): float(v) for k, v in drops.items() if isinstance(v, (int, float))},
        spans_spooled=_num(exp, "spans_spooled") if spool else None,
        spool_replayed=_num(exp, "spool_replayed_spans") if spool else None,
        spool_bytes=_num(exp, "spool_bytes") if spool else None,
        probability_by_key={str(k): float(v) for k, v in by_key.items() if isinstance(v, (int, float))},
        messages_published=_num(stats, "published") if kafka else None,
        messages_consumed=_num(stats, "consumed") if kafka else None,
        consumer_polls=_num(stats, "polls"),
    )


def combine(parts: Iterable[Counts]) -> Counts:
    """Sum counters over several servers (latencies and probability: the maximum; also the
    smallest probability, so the display can show the range)."""
    out = Counts()
    for part in parts:
        for f in fields(Counts):
            if f.name in _DICT_FIELDS:
                mine, theirs = getattr(out, f.name), getattr(part, f.name)
                for k, v in theirs.items():
                    mine[k] = max(mine.get(k, 0.0), v) if f.name == "probability_by_key" else mine.get(k, 0.0) + v
                continue
            a, b = getattr(out, f.name), getattr(part, f.name)
            if b is None:
                continue
            if a is None:
                setattr(out, f.name, b)
            elif f.name in _MAX_FIELDS:
                setattr(out, f.name, max(a, b))
            elif f.name in _MIN_FIELDS:
                setattr(out, f.name, min(a, b))
            else:
                setattr(out, f.name, a + b)
    return out


@dataclass
class Totals:
    """What the display and the summary show, derived from counts and the receiver."""

    exported: float | None
    expected: float | None
    dropped: dict[str, float]
    raw_bytes: float | None
    wire_bytes: float | None
    requests: float | None = None
    """Export requests (batches) that carried the exported spans."""
    traces: float | None = None
    """Distinct traces exported (only known from the receiver)."""
    by_service: dict[str, float] = field(default_factory=dict)
    """Spans the receiver got per ``service.name`` (empty without a receiver)."""

    @property
    def dropped_total(self) -> float | None:
        return sum(self.dropped.values()) if self.dropped else (0.0 if self.exported is not None else None)

    @property
    def ratio(self) -> float | None:
        if self.raw_bytes and self.wire_bytes:
            return self.raw_bytes / self.wire_bytes
        return None


def totals(counts: Counts, receiver: Mapping[str, Any] | None, *, final: bool = False) -> Totals:
    """Exported spans and export requests (the receiver's counts when there is one), drops by reason, bytes.

    ``expected`` is what should reach the receiver: the tail processor's kept spans when
    it reports them, else the spans the head sampler sampled. With ``final`` (after the
    servers flushed), spans expected but neither received nor counted by a drop reason
    are reported as ``lost``.
    """
    received = _num(receiver, "spans")
    # spans spooled count as accepted by the batcher; the exporter counts them exported once replayed
    exported = received if received is not None else (
        counts.exp_exported + (counts.spool_replayed or 0.0) if counts.exp_exported is not None else counts.batch_exported
    )
    expected = counts.tail_spans_kept if counts.tail_spans_kept is not None else counts.spans_sampled
    dropped: dict[str, float] = {}
    for reason, value in (
        ("queue full", counts.dropped_queue_full),
        ("shutdown", counts.dropped_shutdown),
        ("export failed", counts.exp_failed if counts.exp_failed is not None else counts.batch_failed),
        ("rejected", counts.exp_rejected),
    ):
        if value:
            dropped[reason] = value
    if final and expected is not None and exported is not None:
        # spans waiting in the disk spool are not lost: they are sent when the receiver answers
        in_spool = max(0.0, (counts.spans_spooled or 0.0) - (counts.spool_replayed or 0.0))
        lost = expected - exported - sum(dropped.values()) - in_spool
        if lost > 0:
            dropped["lost"] = lost
    raw = counts.raw_bytes if counts.raw_bytes is not None else _num(receiver, "raw_bytes")
    wire = counts.wire_bytes if counts.wire_bytes is not None else _num(receiver, "wire_bytes")
    requests = _num(receiver, "requests") if received is not None else counts.exp_requests
    services = _dict(receiver, "services") or {}
    by_service = {str(k): float(v) for k, v in services.items() if isinstance(v, (int, float))}
    return Totals(exported, expected, dropped, raw, wire, requests, _num(receiver, "traces"), by_service)


@dataclass(frozen=True)
class TraceAccount:
    """Where every trace went, in traces (span counts per request differ between pipelines).

    ``started`` comes from the load generator (one trace per request or message), so it
    means the same on both sides. ``sampled_out`` is counted by the tail sampler when it
    runs; without it neither the stock SDK nor the head sampler counts traces, so it is
    derived as started - kept (``derived``). ``unaccounted`` = started - exported - lost -
    sampled out: 0 when the numbers close.
    """

    started: float | None
    kept: float | None
    sampled_out: float | None
    exported: float | None
    lost: float | None
    derived: bool

    @property
    def unaccounted(self) -> float | None:
        parts = (self.started, self.exported, self.lost, self.sampled_out)
        if any(p is None for p in parts):
            return None
        started, exported, lost, out = (float(p or 0) for p in parts)
        return started - exported - lost - out


def trace_account(counts: Counts, totals_: Totals, started: float | None) -> TraceAccount:
    """The trace account of one run (see :class:`TraceAccount`)."""
    exported = totals_.traces
    if counts.tail_traces_kept is not None:
        loss = sum(counts.dropped_by_policy.get(r, 0.0) for r in LOSS_REASONS)
        kept: float | None = counts.tail_traces_kept
        out: float | None = (counts.tail_traces_dropped or 0.0) - loss
        derived = False
    else:
        loss = 0.0
        kept = counts.roots_sampled
        out = started - kept if started is not None and kept is not None else None
        derived = True
    lost: float | None = None
    if kept is not None and exported is not None:
        lost = max(0.0, kept - exported) + loss
    return TraceAccount(started, kept, out, exported, lost, derived)
