"""The trace buffer on its own: limits, routing of late spans, and its invariants under a
random mix of arrivals, decisions and overflows (no processor, no thread, no clock)."""

from __future__ import annotations

import random

import pytest

from otelkit.tail._buffer import _TraceBuffer
from otelkit.tail._limits import Limits


def limits(**kw) -> Limits:
    base = {"decision_wait_s": 1.0, "max_wait_s": 30.0, "max_spans": 50, "max_bytes": 10**9,
            "max_spans_per_trace": 20, "overflow": "decide", "decision_cache_size": 1000}
    base.update(kw)
    return Limits(**base)


def check_invariants(buf: _TraceBuffer, held: dict) -> None:
    """Accounting matches the contents; both pools within their limits; one place per trace."""
    with buf.lock:
        assert buf._spans == sum(len(e.spans) for e in buf._traces.values())
        assert buf._bytes == sum(e.bytes for e in buf._traces.values())
        assert buf._spans <= buf.limits.max_spans and buf._bytes <= buf.limits.max_bytes
        assert all(len(e.spans) <= buf.limits.max_spans_per_trace for e in buf._traces.values())
        pool = buf._pool
        early = {tid: e for tid, e in pool._early}
        flight = list(early.values()) + list(held.values()) + list(pool._stragglers.values())
        assert pool.spans == sum(len(e.spans) for e in flight)
        assert pool.bytes == sum(e.bytes for e in flight)
        assert pool.spans <= buf.limits.max_spans or len(early) + len(held) == 1
        assert not set(buf._traces) & set(pool._stragglers)
        assert set(early) | set(held) == set(pool._stragglers)
        memory = buf._memory
        assert not set(memory._kept) & set(memory._dropped)  # one decision per remembered trace
        assert max(memory.remembered()) <= memory.size


def test_late_spans_follow_the_settled_decision(span) -> None:
    buf = _TraceBuffer(limits(), lambda: None)
    buf.add(1, span(trace_id=1), 10, True, 0.0)
    buf.add(2, span(trace_id=2), 10, True, 0.0)
    batch = buf.take_due(1.0)
    assert [tid for tid, _ in batch] == [1, 2]
    assert buf.add(1, span(trace_id=1, span_id=5), 10, False, 1.0) is None  # joins the decision
    forward = buf.settle([(1, batch[0][1], True, "p", 7), (2, batch[1][1], False, "no_match", None)], 1.0)
    assert [len(spans) for spans, _, _ in forward] == [2]  # the straggler went with its trace
    assert buf.add(1, span(trace_id=1, span_id=6), 10, False, 3.0) == ("p", 7)
    assert buf.add(2, span(trace_id=2, span_id=6), 10, False, 3.0) is None
    snap = buf.snapshot()
    assert (snap["late_spans_kept"], snap["late_spans_dropped"], snap["late_span_age"]) == (1, 1, {"<=10s": 2})
    assert (snap["awaiting_decision_spans"], snap["buffered_spans"]) == (0, 0)


def test_an_early_decision_wakes_the_decider(span) -> None:
    woken = []
    buf = _TraceBuffer(limits(max_spans_per_trace=2), lambda: woken.append(1))
    for i in range(3):
        buf.add(1, span(trace_id=1, span_id=i + 2), 10, False, 0.0)
    assert woken == [1]
    assert buf.next_due() == float("-inf")
    assert [tid for tid, _ in buf.take_due(0.0)] == [1]


def test_closed_buffer_counts_new_traces_as_shutdown_drops(span) -> None:
    buf = _TraceBuffer(limits(), lambda: None)
    buf.close()
    assert buf.add(1, span(), 10, True, 0.0) is None
    assert buf.snapshot()["spans_dropped_by_policy"] == {"shutdown": 1}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("overflow", ["decide", "evict"])
def test_invariants_hold_under_random_traffic(span, seed, overflow) -> None:
    rng = random.Random(seed)
    buf = _TraceBuffer(limits(max_spans=40, max_bytes=4000, max_spans_per_trace=12, overflow=overflow,
                              decision_cache_size=25), lambda: None)
    held: dict = {}
    now = 0.0
    added = forwarded = 0
    for step in range(3000):
        roll = rng.random()
        if roll < 0.8:
            tid = rng.randint(1, 60)
            late = buf.add(tid, span(trace_id=tid, span_id=step + 2), rng.randint(10, 300), rng.random() < 0.2, now)
            added += 1
            forwarded += late is not None
        elif roll < 0.9:
            for tid, entry in buf.take_due(now, everything=rng.random() < 0.05, roots_only=rng.random() < 0.1):
                held[tid] = entry
        elif held:
            chosen = rng.sample(sorted(held), rng.randint(1, len(held)))
            out = buf.settle([(t, held.pop(t), rng.random() < 0.5, "p", None) for t in chosen], now)
            forwarded += sum(len(spans) for spans, _, _ in out)
        now += rng.random() * 0.5
        check_invariants(buf, held)
    snap = buf.snapshot()
    in_flight = snap["awaiting_decision_spans"]
    # every span: buffered, in decision, forwarded (settled kept or late kept) or counted dropped
    assert added == snap["buffered_spans"] + in_flight + forwarded + snap["spans_dropped"]
    assert snap["spans_kept"] == forwarded


def test_a_held_trace_costs_the_gc_two_tracked_objects(span) -> None:
    """Its entry and its span list, nothing per root in the due queue: every GC-tracked
    object a held trace keeps is walked by each full collection."""
    import gc

    buf = _TraceBuffer(limits(max_spans=10_000), lambda: None)
    records = [(t, span(trace_id=t, span_id=s)) for t in range(1, 201) for s in range(1, 4)]
    gc.collect()
    before = len(gc.get_objects())
    for i, (tid, rec) in enumerate(records):
        buf.add(tid, rec, 10, i % 3 == 0, 0.0)
    assert len(gc.get_objects()) - before <= 2 * 200 + 10  # + the loop's own (3 per trace before)
    assert [tid for tid, _ in buf.take_due(1.0)] == list(range(1, 201))
