"""Buffer limits hold for every span the tail holds, in decision or not (issue 12, items 3, 4)."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otelkit.tail import AlwaysSamplePolicy, StatusCodePolicy, TailSamplingProcessor


def _make(clock, policies=None, **kw):
    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(SimpleSpanProcessor(exporter), policies or [AlwaysSamplePolicy()], clock=clock,
                                 start_worker=False, self_metrics=False, **kw)
    return proc, exporter


def test_spans_of_a_trace_in_decision_count_against_the_limits(clock, span) -> None:
    """A trace queued for an early decision keeps receiving spans while the worker is busy
    (forwarding to a slow downstream): they are held within the limits or counted dropped,
    never held outside every limit (issue 12 item 3: 198,998 held with max_spans=2000)."""
    proc, exporter = _make(clock, max_spans=20, overflow="decide")
    total = 0
    for i in range(21):  # overflows: the whole trace is queued for an early decision
        proc.on_end(span(trace_id=1, span_id=i + 2, parent_id=1))
        total += 1
    for i in range(5000):  # the worker has not got to it yet
        proc.on_end(span(trace_id=1, span_id=100 + i, parent_id=1))
        total += 1
    stats = proc.stats()
    held = stats["buffered_spans"] + stats["awaiting_decision_spans"]
    assert held <= 2 * 20 + 1
    assert stats["spans_dropped"] + held == total  # every span accounted for
    assert stats["spans_dropped_by_policy"] == {"overflow": total - held}
    proc.process_due()
    assert len(exporter.get_finished_spans()) == held
    stats = proc.stats()
    assert (stats["awaiting_decision_spans"], stats["awaiting_decision_bytes"]) == (0, 0)
    assert stats["spans_kept"] + stats["spans_dropped"] == total


def test_traces_in_decision_stay_within_max_spans(clock, span) -> None:
    proc, _ = _make(clock, max_spans=10, overflow="decide")
    for tid in range(1, 200):  # one-span traces: each overflow queues the oldest early
        proc.on_end(span(trace_id=tid, span_id=2, parent_id=1))
        for k in range(3):  # and spans keep arriving for every trace, queued or not
            proc.on_end(span(trace_id=max(1, tid - k), span_id=10 + k, parent_id=1))
        stats = proc.stats()
        assert stats["buffered_spans"] <= 10
        assert stats["awaiting_decision_spans"] <= 10


def test_overflow_drops_only_the_oversize_trace_when_that_is_enough(clock, span) -> None:
    """Issue 12 item 4: the oversize trace's own spans are subtracted before older traces
    are chosen, so a trace that breaks no limit is not evicted."""
    proc, _ = _make(clock, max_spans=10, max_spans_per_trace=5, overflow="evict")
    for i in range(5):
        proc.on_end(span(trace_id=1, span_id=i + 2, parent_id=1))
    for i in range(6):  # the 6th span breaks the per-trace limit (and the total one)
        proc.on_end(span(trace_id=2, span_id=i + 2, parent_id=1))
    stats = proc.stats()
    assert stats["evicted_traces"] == 1
    assert (stats["buffered_traces"], stats["buffered_spans"]) == (1, 5)


def test_decide_mode_queues_only_the_oversize_trace(clock, span) -> None:
    proc, exporter = _make(clock, [StatusCodePolicy(["ERROR"])], max_spans=10, max_spans_per_trace=5,
                          overflow="decide")
    for i in range(5):
        proc.on_end(span(trace_id=1, span_id=i + 2, parent_id=1, status=StatusCode.ERROR))
    for i in range(6):
        proc.on_end(span(trace_id=2, span_id=i + 2, parent_id=1))
    assert proc.stats()["decided_early"] == 1
    assert proc.stats()["buffered_traces"] == 1
