from __future__ import annotations

import logging
import random
from collections import defaultdict

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otelkit.sampling.threshold import read_ot
from otelkit.tail import (
    POLICY_ATTRIBUTE,
    DropPolicy,
    HeadSampledPolicy,
    LatencyPolicy,
    ProbabilisticPolicy,
    StatusCodePolicy,
    StringAttributePolicy,
    TailSamplingProcessor,
)
from otelkit.tail.policy_config import default_policies

ERRORS = StatusCodePolicy(["ERROR"], name="errors")


def make(clock, policies=None, **kw):
    """A processor driven by ``clock`` without a worker, exporting through the stock
    SimpleSpanProcessor (which exports only spans with the sampled flag)."""
    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(
        SimpleSpanProcessor(exporter),
        policies if policies is not None else [ERRORS],
        clock=clock,
        start_worker=False,
        self_metrics=False,
        **kw,
    )
    return proc, exporter


def exported_ids(exporter):
    return [s.context.span_id for s in exporter.get_finished_spans()]


def test_decides_decision_wait_after_the_local_root_ends(clock, span) -> None:
    proc, exporter = make(clock)
    proc.on_end(span(span_id=2, parent_id=1, status=StatusCode.ERROR))
    proc.on_end(span(span_id=1))  # local root
    clock.advance(0.999)
    assert proc.process_due() == 0
    proc.on_end(span(span_id=3, parent_id=1))  # straggler within the wait
    clock.advance(0.001)
    assert proc.process_due() == 1
    assert sorted(exported_ids(exporter)) == [1, 2, 3]
    out = exporter.get_finished_spans()[0]
    assert out.context.trace_flags.sampled
    assert out.attributes[POLICY_ATTRIBUTE] == "errors"
    assert read_ot(out.context.trace_state).th == 0


def test_remote_parent_counts_as_local_root(clock, span) -> None:
    proc, exporter = make(clock, decision_wait_ms=100)
    proc.on_end(span(span_id=5, parent_id=4, remote_parent=True, status=StatusCode.ERROR))
    clock.advance(0.1)
    assert proc.process_due() == 1
    assert exported_ids(exporter) == [5]


def test_trace_without_local_root_waits_for_max_wait(clock, span) -> None:
    proc, exporter = make(clock, max_wait_ms=30000)
    proc.on_end(span(span_id=2, parent_id=1, status=StatusCode.ERROR))
    clock.advance(29.9)
    assert proc.process_due() == 0
    clock.advance(0.1)
    assert proc.process_due() == 1
    assert exported_ids(exporter) == [2]


@pytest.mark.parametrize(("status", "late_kept", "late_dropped"), [(StatusCode.ERROR, 1, 0), (StatusCode.UNSET, 0, 1)])
def test_late_span_follows_the_decision(clock, span, status, late_kept, late_dropped) -> None:
    proc, exporter = make(clock)
    proc.on_end(span(span_id=1, status=status))
    clock.advance(1)
    proc.process_due()
    clock.advance(5)
    proc.on_end(span(span_id=9, parent_id=1))  # ends 5 s after the decision
    stats = proc.stats()
    assert (stats["late_spans_kept"], stats["late_spans_dropped"]) == (late_kept, late_dropped)
    assert stats["late_span_age"] == {"<=10s": 1}
    assert (9 in exported_ids(exporter)) == bool(late_kept)
    assert proc.stats()["buffered_spans"] == 0  # no new buffer was started


def test_forgotten_decision_starts_a_new_trace(clock, span) -> None:
    proc, _ = make(clock, decision_cache_size=1)
    for tid in (1, 2):
        proc.on_end(span(trace_id=tid))
    clock.advance(1)
    proc.process_due()
    proc.on_end(span(trace_id=1, span_id=7, parent_id=1))  # trace 1 left the 1-entry cache
    proc.on_end(span(trace_id=2, span_id=7, parent_id=1))
    assert proc.stats()["buffered_traces"] == 1
    assert proc.stats()["late_spans_dropped"] == 1


def test_drop_policy_vetoes_every_keep(clock, span) -> None:
    health = DropPolicy([StringAttributePolicy("http.route", ["/health"])], name="no-health")
    proc, exporter = make(clock, [ERRORS, health])
    proc.on_end(span(trace_id=1, status=StatusCode.ERROR, attributes={"http.route": "/health"}))
    proc.on_end(span(trace_id=2, status=StatusCode.ERROR, attributes={"http.route": "/users"}))
    clock.advance(1)
    proc.process_due()
    assert [s.context.trace_id for s in exporter.get_finished_spans()] == [2]
    assert proc.stats()["dropped_by_policy"] == {"no-health": 1}


T10 = 0xE666 << 40


@pytest.mark.parametrize(
    ("status", "head_th", "policy", "th"),
    [
        (StatusCode.ERROR, None, "errors", 0),  # certain keep wins over the 10% one
        (StatusCode.UNSET, None, "probabilistic", T10),  # only the 10% policy kept it: th e666
        (StatusCode.UNSET, "th:c", "head", 0xC << 52),  # head's th kept for head-sampled traces
    ],
)
def test_kept_spans_carry_the_combined_threshold(clock, span, status, head_th, policy, th) -> None:
    from opentelemetry.trace import TraceState

    policies = [ERRORS, HeadSampledPolicy(name="head"), ProbabilisticPolicy(10)]
    proc, exporter = make(clock, policies)
    state = TraceState([("ot", head_th)]) if head_th else None
    proc.on_end(span(trace_id=(1 << 56) - 1, status=status, sampled=head_th is not None, trace_state=state))
    clock.advance(1)
    proc.process_due()
    [out] = exporter.get_finished_spans()
    assert out.attributes[POLICY_ATTRIBUTE] == policy
    assert read_ot(out.context.trace_state).th == th


def test_trace_corpus_with_late_spans(clock, span) -> None:
    """Interleaved traces, stragglers and late spans: every trace is exported whole or not
    at all (no span of a dropped trace, logfire #2273), errors and slow traces all kept."""
    rng = random.Random(11)
    proc, exporter = make(clock, [*default_policies(clock), ProbabilisticPolicy(10)])
    truth: dict[int, dict[str, object]] = {}
    events: list[tuple[float, int, object]] = []
    for n in range(1500):
        tid = rng.getrandbits(128) or 1
        start = n * 0.01
        error, slow = rng.random() < 0.05, rng.random() < 0.05
        kids = rng.randint(0, 4)
        duration_ms = 1500.0 if slow else 50.0
        truth[tid] = {"spans": kids + 1, "must_keep": error or slow}
        events.append((start + 0.05, tid, span(trace_id=tid, span_id=1, start_ms=0, end_ms=duration_ms)))
        for k in range(kids):
            # some children end before the root, some within the wait, some after the decision
            end = start + rng.choice([0.01, 0.5, 3.0])
            status = StatusCode.ERROR if error and k == 0 else StatusCode.UNSET
            if status is StatusCode.ERROR:
                end = start + 0.01  # the error must be seen before the decision
            events.append((end, tid, span(trace_id=tid, span_id=k + 2, parent_id=1, status=status)))
        if error and kids == 0:
            events[-1] = (start + 0.05, tid, span(trace_id=tid, span_id=1, status=StatusCode.ERROR, end_ms=duration_ms))
    events.sort(key=lambda e: e[0])
    for at, _, sp in events:
        if at > clock.now - 1000.0:
            clock.now = 1000.0 + at
        proc.on_end(sp)
        proc.process_due()
    clock.advance(60)
    proc.process_due()
    by_trace: dict[int, int] = defaultdict(int)
    for s in exporter.get_finished_spans():
        by_trace[s.context.trace_id] += 1
    assert all(by_trace[tid] == t["spans"] for tid, t in truth.items() if tid in by_trace)  # whole or nothing
    assert all(tid in by_trace for tid, t in truth.items() if t["must_keep"])
    stats = proc.stats()
    assert stats["late_spans_kept"] > 0 and stats["late_spans_dropped"] > 0
    assert stats["spans_kept"] == len(exporter.get_finished_spans())
    assert stats["spans_kept"] + stats["spans_dropped"] == len(events)
    kept_rest = stats["kept_by_policy"].get("probabilistic", 0)
    assert 0 < kept_rest < 0.2 * len(truth)


def test_broken_policy_is_skipped_and_warned(clock, span, caplog) -> None:
    class Broken:
        name = "broken"

        def evaluate(self, trace):
            raise RuntimeError("boom")

    proc, exporter = make(clock, [Broken(), ERRORS])
    with caplog.at_level(logging.WARNING, logger="otelkit.tail"):
        proc.on_end(span(status=StatusCode.ERROR))
        clock.advance(1)
        proc.process_due()
    assert len(exporter.get_finished_spans()) == 1
    assert "broken" in caplog.text


def test_shutdown_decides_pending_traces_and_counts_later_spans(clock, span) -> None:
    proc, exporter = make(clock)
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1, status=StatusCode.ERROR))
    proc.shutdown()
    assert exported_ids(exporter) == [2]
    proc.on_end(span(trace_id=3))
    assert proc.stats()["spans_dropped_by_policy"]["shutdown"] == 1


def test_force_flush_decides_every_trace_whose_root_ended(clock, span) -> None:
    proc, exporter = make(clock)
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1, status=StatusCode.ERROR))
    proc.on_end(span(trace_id=1, span_id=1))  # the local root ended: no need to wait
    assert proc.force_flush()
    assert sorted(exported_ids(exporter)) == [1, 2]


def test_force_flush_leaves_a_trace_in_progress_buffered(clock, span) -> None:
    """Issue 12 item 10: judged at force_flush, a trace whose error span has not ended yet
    would be dropped and the error span, ending later, dropped as late."""
    proc, exporter = make(clock)
    proc.on_end(span(trace_id=1, span_id=3, parent_id=1))  # the root (1) and child 2 still run
    assert proc.force_flush()
    assert exported_ids(exporter) == []
    assert proc.stats()["buffered_spans"] == 1
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1, status=StatusCode.ERROR))
    proc.on_end(span(trace_id=1, span_id=1))
    clock.advance(1)
    proc.process_due()
    assert sorted(exported_ids(exporter)) == [1, 2, 3]


def test_worker_thread_decides_without_help(clock, span) -> None:
    import threading

    arrived = threading.Event()

    class Signal(SimpleSpanProcessor):
        def on_end(self, s):
            super().on_end(s)
            arrived.set()

    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(Signal(exporter), [ERRORS], decision_wait_ms=10, clock=clock, self_metrics=False)
    try:
        proc.on_end(span(status=StatusCode.ERROR))
        clock.advance(0.01)  # due now on the fake clock; the worker finds it on its next round
        proc._decider.wake_event.set()
        assert arrived.wait(10)
        assert len(exporter.get_finished_spans()) == 1
    finally:
        proc.shutdown()


def test_stats_include_downstream_stats(clock) -> None:
    class Downstream(SimpleSpanProcessor):
        def stats(self):
            return {"queued": 3}

    proc = TailSamplingProcessor(Downstream(InMemorySpanExporter()), [ERRORS], clock=clock, start_worker=False,
                                 self_metrics=False)
    stats = proc.stats()
    assert stats["downstream"] == {"queued": 3}
    for key in ("traces_kept", "traces_dropped", "spans_kept", "spans_dropped", "kept_by_policy", "buffered_traces",
                "buffered_spans", "buffered_bytes", "late_spans_kept", "late_spans_dropped", "evicted_traces",
                "decided_early"):
        assert key in stats


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"decision_wait_ms": -1}, "decision_wait_ms"),
        ({"max_wait_ms": 0}, "max_wait_ms"),
        ({"max_spans": 0}, "max_spans"),
        ({"max_bytes": "1MiB"}, "max_bytes"),
        ({"max_spans_per_trace": 0}, "max_spans_per_trace"),
        ({"decision_cache_size": -1}, "decision_cache_size"),
        ({"overflow": "panic"}, 'unknown overflow mode "panic", supported: decide, evict'),
        ({"policies": []}, "policies is empty"),
    ],
)
def test_invalid_arguments(clock, kwargs, match) -> None:
    policies = kwargs.pop("policies", [ERRORS])
    with pytest.raises(ValueError, match=match):
        TailSamplingProcessor(SimpleSpanProcessor(InMemorySpanExporter()), policies, start_worker=False, **kwargs)


def test_env_settings_and_explicit_arguments_win() -> None:
    env = {"OTELKIT_TAIL_DECISION_WAIT_MS": "250", "OTELKIT_TAIL_MAX_SPANS": "77", "OTELKIT_TAIL_OVERFLOW": "evict",
           "OTELKIT_TAIL_MAX_BYTES": "1MiB"}
    proc = TailSamplingProcessor(SimpleSpanProcessor(InMemorySpanExporter()), [ERRORS], start_worker=False,
                                 self_metrics=False, environ=env, max_spans=5)
    assert proc.limits.decision_wait_s == 0.25
    assert proc.limits.max_spans == 5
    assert proc.limits.overflow == "evict"
    assert proc.limits.max_bytes == 1024 * 1024


def test_default_policies_come_from_env(clock, span) -> None:
    proc = TailSamplingProcessor(SimpleSpanProcessor(InMemorySpanExporter()), None, start_worker=False,
                                 self_metrics=False, environ={"OTELKIT_TAIL_POLICIES": "latency(threshold_ms=5)"})
    assert [p.name for p in proc.policies] == ["latency"]
    assert isinstance(proc.policies[0], LatencyPolicy)


def test_after_fork_the_child_starts_empty(clock, span) -> None:
    proc, exporter = make(clock)
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1, status=StatusCode.ERROR))
    proc.on_end(span(trace_id=7, span_id=7))
    clock.advance(1)
    proc.process_due()  # the parent decided trace 7: counted in the parent only
    proc._after_fork()  # what os.register_at_fork runs in the child
    assert proc.stats()["buffered_spans"] == 0
    assert (proc.stats()["traces_dropped"], proc.stats()["spans_dropped"]) == (0, 0)
    proc.on_end(span(trace_id=1, span_id=3, status=StatusCode.ERROR))
    clock.advance(1)
    proc.process_due()
    assert exported_ids(exporter) == [3]  # the parent's buffered span is never exported by the child


def test_span_arriving_while_trace_is_decided_early_joins_it(clock, span) -> None:
    proc, exporter = make(clock, max_spans_per_trace=1, overflow="decide")
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1, status=StatusCode.ERROR))
    proc.on_end(span(trace_id=1, span_id=3, parent_id=1))  # overflows: queued for an early decision
    proc.on_end(span(trace_id=1, span_id=4, parent_id=1))  # arrives before the worker decided
    assert proc.stats()["buffered_traces"] == 0
    proc.process_due()
    assert sorted(exported_ids(exporter)) == [2, 3, 4]


def test_a_raising_downstream_is_counted_and_never_reaches_the_caller(clock, span) -> None:
    class Flaky(SimpleSpanProcessor):
        def on_end(self, s):
            if s.context.trace_id == 1:
                raise RuntimeError("downstream broke")
            super().on_end(s)

    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(Flaky(exporter), [ERRORS], clock=clock, start_worker=False, self_metrics=False)
    proc.on_end(span(trace_id=1, span_id=1, status=StatusCode.ERROR))
    proc.on_end(span(trace_id=2, span_id=2, status=StatusCode.ERROR))
    assert proc.force_flush()  # no exception into the caller
    assert exported_ids(exporter) == [2]  # the other trace still went through
    proc.on_end(span(trace_id=1, span_id=3))  # a late span of the kept trace fails downstream too
    stats = proc.stats()
    assert stats["spans_forward_failed"] == 2
    assert stats["spans_kept"] == 3


def test_a_trace_that_cannot_be_judged_is_dropped_counted_and_settled(clock, span, monkeypatch) -> None:
    import otelkit.tail._decider as decider

    real = decider.evaluate

    def evaluate(policies, view):
        if view.trace_id == 1:
            raise RuntimeError("cannot judge")
        return real(policies, view)

    monkeypatch.setattr(decider, "evaluate", evaluate)
    proc, exporter = make(clock)
    proc.on_end(span(trace_id=1, span_id=1, status=StatusCode.ERROR))
    proc.on_end(span(trace_id=2, span_id=2, status=StatusCode.ERROR))
    clock.advance(1)
    assert proc.process_due() == 2
    assert exported_ids(exporter) == [2]
    assert proc.stats()["awaiting_decision_traces"] == 0  # nothing left in flight
    proc.on_end(span(trace_id=1, span_id=3))  # late: follows the drop
    stats = proc.stats()
    assert stats["spans_dropped_by_policy"] == {"error": 1, "late": 1}
    assert stats["late_spans_dropped"] == 1


def test_a_span_the_processor_fails_on_is_counted_as_dropped(clock, span, monkeypatch) -> None:
    import otelkit.tail.processor as processor

    def broken_record(s, keys):
        raise ValueError("odd span")

    monkeypatch.setattr(processor, "record_of", broken_record)
    proc, exporter = make(clock)
    proc.on_end(span())  # must not raise
    stats = proc.stats()
    assert (stats["spans_dropped"], stats["spans_dropped_by_policy"]) == (1, {"error": 1})
    assert stats["buffered_spans"] == 0


def test_a_span_ending_during_shutdown_is_counted_not_stranded(clock, span) -> None:
    procs = []

    class EndsAnotherTrace:  # a span of a new trace ends while the final decisions run
        name = "meanwhile"

        def evaluate(self, trace):
            procs[0].on_end(span(trace_id=99, span_id=9))
            return ERRORS.evaluate(trace)

    proc, exporter = make(clock, [EndsAnotherTrace()])
    procs.append(proc)
    proc.on_end(span(trace_id=1, span_id=1, status=StatusCode.ERROR))
    proc.shutdown()
    stats = proc.stats()
    assert exported_ids(exporter) == [1]
    assert stats["buffered_spans"] == 0
    assert stats["spans_dropped_by_policy"] == {"shutdown": 1}


def test_the_worker_wakes_at_once_for_a_trace_queued_early(clock, span) -> None:
    proc, _ = make(clock, max_spans_per_trace=1, overflow="decide")
    assert proc._next_wakeup() == 0.5  # nothing buffered: the idle poll
    proc.on_end(span(trace_id=1, span_id=2, parent_id=1))
    proc.on_end(span(trace_id=1, span_id=3, parent_id=1))  # overflows: queued early, not buffered
    assert proc._next_wakeup() == 0.001
    proc.process_due()
    assert proc._next_wakeup() == 0.5


@pytest.mark.parametrize(("wait_ms", "tick"), [(1000, 0.1), (5000, 0.1), (200, 0.02), (5, 0.001)])
def test_the_worker_decides_traces_coming_due_once_per_tick(clock, span, wait_ms, tick) -> None:
    """Traces coming due within a tick share one wakeup (not one each): the worker waits at
    least decision_wait/10 (1-100 ms), so a trace is decided at most that late."""
    proc, _ = make(clock, decision_wait_ms=wait_ms)
    proc.on_end(span(trace_id=1, span_id=1))  # a local root: due decision_wait from now
    assert proc._next_wakeup() == pytest.approx(min(0.5, wait_ms / 1000))
    clock.advance(wait_ms / 1000 - 0.0002)  # due in 0.2 ms: wait a whole tick
    assert proc._next_wakeup() == pytest.approx(tick)
    clock.advance(0.0003)  # due (e.g. left for the next batch): at once
    assert proc._next_wakeup() == 0.001
    assert proc.process_due() == 1
    assert proc._next_wakeup() == 0.5
