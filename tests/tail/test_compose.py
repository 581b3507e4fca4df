"""Head and tail compose by default, and every kept span's count agrees with its ``th``
(issue 13; issue 17: head, tail, rate-limited and composite decisions alike)."""

from __future__ import annotations

import random

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, TraceState

from otelkit.sampling import ADJUSTED_COUNT_ATTRIBUTE, ConsistentProbabilitySampler
from otelkit.sampling.threshold import RANDOMNESS_MASK, count_of, probability_to_threshold
from otelkit.tail import RecordForTailSampler, TailSamplingProcessor
from otelkit.tail.policy_config import build_policies, policies_from_string

HEAD_P = 0.25


def _run(clock, policies=None, traces: int = 3000, seed: int = 5):
    exporter = InMemorySpanExporter()
    tail = TailSamplingProcessor(SimpleSpanProcessor(exporter), policies, clock=clock, start_worker=False,
                                 self_metrics=False, environ={})
    provider = TracerProvider(sampler=RecordForTailSampler(ConsistentProbabilitySampler(HEAD_P)))
    provider.add_span_processor(tail)
    tracer = provider.get_tracer("compose")
    rng = random.Random(seed)
    kinds: dict[int, str] = {}
    for _ in range(traces):
        roll = rng.random()
        kind = "error" if roll < 0.03 else "slow" if roll < 0.06 else "normal"
        root = tracer.start_span("GET /x", start_time=1_000)
        with trace.use_span(root):
            child = tracer.start_span("db", start_time=2_000)
            if kind == "error":
                child.set_status(StatusCode.ERROR)
            child.end(end_time=3_000)
        root.end(end_time=2_000_000_000 if kind == "slow" else 5_000_000)
        kinds[root.get_span_context().trace_id] = kind
    clock.advance(2)
    tail.process_due()
    provider.shutdown()
    return kinds, exporter.get_finished_spans(), tail.stats()


def test_default_policies_keep_what_the_head_kept_plus_errors_and_slow(clock) -> None:
    kinds, spans, stats = _run(clock)
    head_t = probability_to_threshold(HEAD_P)
    kept = {s.context.trace_id for s in spans}
    expected = {t for t, k in kinds.items() if k != "normal" or (t & RANDOMNESS_MASK) >= head_t}
    assert kept == expected  # the head's target holds; errors and slow traces on top
    assert set(stats["kept_by_policy"]) == {"errors", "slow", "head_sampled"}
    # the sum of the attribute over kept roots estimates every request
    roots = [s for s in spans if s.parent is None]
    total = sum(s.attributes[ADJUSTED_COUNT_ATTRIBUTE] for s in roots)
    assert total == pytest.approx(len(kinds), rel=0.08)


@pytest.mark.parametrize(
    "policies",
    [
        None,  # the default set: head th or th:0
        "errors=status_code(status_codes=ERROR);rest=probabilistic(sampling_percentage=10)",
        "errors=status_code(status_codes=ERROR);rl=rate_limiting(traces_per_second=200)",
        "head_sampled;rest=probabilistic(sampling_percentage=40)",
        [{"type": "composite", "max_total_spans_per_second": 300, "composite_sub_policy": [
            {"name": "errors", "type": "status_code", "status_codes": ["ERROR"]},
            {"name": "head", "type": "head_sampled"},
            {"name": "rest", "type": "probabilistic", "sampling_percentage": 30}]}],
    ],
)
def test_attribute_and_th_agree_on_every_kept_span(clock, policies) -> None:
    if isinstance(policies, list):
        built = build_policies(policies, clock=clock)
    else:
        built = policies_from_string(policies, clock=clock) if policies else None
    _, spans, _ = _run(clock, built, traces=1000)
    assert spans
    for span in spans:
        assert span.attributes[ADJUSTED_COUNT_ATTRIBUTE] == count_of(span.context.trace_state)


def test_a_head_sampled_trace_without_th_counts_as_unknown_probability(clock, span) -> None:
    exporter = InMemorySpanExporter()
    tail = TailSamplingProcessor(SimpleSpanProcessor(exporter), None, clock=clock, start_worker=False,
                                 self_metrics=False, environ={})
    tail.on_end(span(trace_id=1, sampled=True))  # a parent sampler that writes no th
    tail.on_end(span(trace_id=2, sampled=True, trace_state=TraceState([("ot", "th:8")])))
    clock.advance(1)
    tail.process_due()
    assert tail.stats()["traces_kept_unknown_probability"] == 1
    counts = {s.context.trace_id: s.attributes[ADJUSTED_COUNT_ATTRIBUTE] for s in exporter.get_finished_spans()}
    assert counts == {1: 1.0, 2: 2.0}


def test_without_record_for_tail_the_head_th_is_never_lowered(clock) -> None:
    """Issue 12 item 10: behind a plain head sampler only head-sampled traces reach the tail;
    an error trace the head kept at 10% stands for 10 error traces, so its th stays e666
    (the tail wrote th:0, count 1). Detected: the spans' provider has a plain sampler."""
    exporter = InMemorySpanExporter()
    tail = TailSamplingProcessor(SimpleSpanProcessor(exporter), None, clock=clock, start_worker=False,
                                 self_metrics=False, environ={})
    provider = TracerProvider(sampler=ConsistentProbabilitySampler(0.1))
    provider.add_span_processor(tail)
    tracer = provider.get_tracer("plain-head")
    for _ in range(300):
        with tracer.start_as_current_span("GET /x") as root:
            root.set_status(StatusCode.ERROR)
    clock.advance(2)
    tail.process_due()
    spans = exporter.get_finished_spans()
    assert 10 <= len(spans) <= 60  # what the head kept, every one an error
    for span in spans:
        assert span.context.trace_state.get("ot") == "th:e666"
        assert span.attributes[ADJUSTED_COUNT_ATTRIBUTE] == pytest.approx(10, rel=1e-3)
    # each kept error trace stands for 10 (the head's count; how many the head keeps is binomial,
    # bounded above at about 4 sigma)
    assert sum(s.attributes[ADJUSTED_COUNT_ATTRIBUTE] for s in spans) == pytest.approx(10 * len(spans), rel=1e-3)
    # a late span of such a trace follows the same (composed) threshold
    late_tid = spans[0].context.trace_id
    with tracer.start_as_current_span("late", context=trace.set_span_in_context(
            trace.NonRecordingSpan(spans[0].context))):
        pass
    late = [s for s in exporter.get_finished_spans() if s.name == "late"]
    assert [s.context.trace_id for s in late] == [late_tid]
    assert late[0].context.trace_state.get("ot") == "th:e666"


def test_a_record_for_tail_sampler_of_another_provider_does_not_make_this_tail_claim_certainty(clock) -> None:
    """Issue: "a RecordForTailSampler exists" was a process-wide flag, so a tail behind a
    plain head sampler wrote th:0 (count 1) on error traces the head kept at 10% as soon as
    any other provider in the process used a RecordForTailSampler. Each trace's own provider
    (the sampler its spans were made by) decides now."""
    recording = TracerProvider(sampler=RecordForTailSampler(ConsistentProbabilitySampler(0.1)))
    recording_exporter = InMemorySpanExporter()
    recording_tail = TailSamplingProcessor(SimpleSpanProcessor(recording_exporter), None, clock=clock,
                                           start_worker=False, self_metrics=False, environ={})
    recording.add_span_processor(recording_tail)
    exporter = InMemorySpanExporter()
    tail = TailSamplingProcessor(SimpleSpanProcessor(exporter), None, clock=clock, start_worker=False,
                                 self_metrics=False, environ={})
    plain = TracerProvider(sampler=ConsistentProbabilitySampler(0.1))
    plain.add_span_processor(tail)
    for provider in (recording, plain):
        tracer = provider.get_tracer("two-providers")
        for _ in range(300):
            with tracer.start_as_current_span("GET /x") as root:
                root.set_status(StatusCode.ERROR)
    clock.advance(2)
    recording_tail.process_due()
    tail.process_due()
    spans = exporter.get_finished_spans()
    assert 10 <= len(spans) <= 60  # only what the plain head kept reached this tail
    for span in spans:
        assert span.context.trace_state.get("ot") == "th:e666"
        assert span.attributes[ADJUSTED_COUNT_ATTRIBUTE] == count_of(span.context.trace_state)
    # behind the RecordForTailSampler every error trace was seen and kept with certainty
    kept = recording_exporter.get_finished_spans()
    assert len(kept) == 300
    assert {s.context.trace_state.get("ot") for s in kept} == {"th:0"}
    assert sum(s.attributes[ADJUSTED_COUNT_ATTRIBUTE] for s in kept) == 300
