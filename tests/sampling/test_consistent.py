from __future__ import annotations

import logging
import random

import pytest
from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace._sampling_experimental import composable_traceid_ratio_based, composite_sampler
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from otelkit.pipeline import build_sampler
from otelkit.sampling._decide import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.sampling.consistent import ConsistentProbabilitySampler, consistent_sampler_factory
from otelkit.sampling.threshold import MAX_THRESHOLD, probability_to_threshold, threshold_to_probability

HIGH = 0xABCDEF << 56
RANDOM_ALL = MAX_THRESHOLD - 1  # low 56 bits all ones: kept at any probability > 0


def _parent(sampled: bool, state: TraceState | None, trace_id: int = HIGH | 5) -> Context:
    ctx = SpanContext(trace_id, 0x1234, is_remote=True,
                      trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else 0), trace_state=state)
    return trace.set_span_in_context(NonRecordingSpan(ctx))


@pytest.mark.parametrize(("n", "th"), [(1, "0"), (2, "8"), (4, "c"), (10, "e666"), (100, "fd70a"),
                                       (1000, "ffbe77"), (10000, "fff9724")])
def test_writes_spec_th_and_adjusted_count(n: int, th: str) -> None:
    sampler = ConsistentProbabilitySampler(1 / n)
    threshold = probability_to_threshold(1 / n)
    kept = sampler.should_sample(None, HIGH | threshold, "root")
    assert kept.decision is Decision.RECORD_AND_SAMPLE
    assert kept.trace_state.get("ot") == f"th:{th}"
    assert kept.attributes[ADJUSTED_COUNT_ATTRIBUTE] == pytest.approx(n, rel=1e-3)
    if threshold:
        assert sampler.should_sample(None, HIGH | (threshold - 1), "root").decision is Decision.DROP


def test_decisions_match_the_sdk_spec_sampler() -> None:
    rng = random.Random(7)
    for p in (0.5, 0.1, 0.01, 1 / 3):
        mine = ConsistentProbabilitySampler(p)
        # the SDK keeps 14 hex digits; give it our precision-4 probability (exact in binary)
        spec = composite_sampler(composable_traceid_ratio_based(threshold_to_probability(probability_to_threshold(p))))
        for _ in range(2000):
            tid = rng.getrandbits(128)
            a, b = mine.should_sample(None, tid, "x"), spec.should_sample(None, tid, "x")
            assert a.decision == b.decision
            assert (a.trace_state or {}).get("ot") == (b.trace_state or {}).get("ot")


def test_subset_property() -> None:
    rng = random.Random(3)
    samplers = [ConsistentProbabilitySampler(p) for p in (0.9, 0.5, 0.2, 0.05, 0.01)]
    for _ in range(5000):
        tid = rng.getrandbits(128)
        kept = [s.should_sample(None, tid, "x").decision.is_sampled() for s in samplers]
        # once a lower probability keeps a trace, every higher one did too
        assert kept == sorted(kept, reverse=True)


def test_sampled_parent_keeps_threshold_and_other_vendors() -> None:
    state = TraceState([("vendor", "v1"), ("ot", "th:c;rv:ffffffffffffff;x:y")])
    res = ConsistentProbabilitySampler(0.01).should_sample(_parent(True, state), HIGH | 5, "child")
    assert res.decision is Decision.RECORD_AND_SAMPLE
    assert res.trace_state is state  # threshold never lowered, nothing rewritten
    assert res.attributes[ADJUSTED_COUNT_ATTRIBUTE] == 4.0


def test_unsampled_parent_is_dropped_with_tracestate_kept() -> None:
    state = TraceState([("vendor", "v1")])
    res = ConsistentProbabilitySampler(1.0).should_sample(_parent(False, state), HIGH | 5, "child")
    assert res.decision is Decision.DROP
    assert res.trace_state is state


def test_inconsistent_parent_threshold_is_erased() -> None:
    # rv takes precedence over the trace ID: rv 0 < th 8 means the th cannot be trusted
    state = TraceState([("vendor", "v1"), ("ot", "th:8;rv:00000000000000")])
    res = ConsistentProbabilitySampler(1.0).should_sample(_parent(True, state, HIGH | RANDOM_ALL), HIGH, "c")
    assert res.decision is Decision.RECORD_AND_SAMPLE
    assert res.trace_state.get("ot") == "rv:00000000000000"
    assert res.trace_state.get("vendor") == "v1"
    assert res.attributes[ADJUSTED_COUNT_ATTRIBUTE] == 1.0  # no th left: unknown probability


def test_sampled_parent_without_threshold_counts_as_unknown_probability() -> None:
    res = ConsistentProbabilitySampler(0.0).should_sample(_parent(True, None), HIGH, "child", attributes={"a": 1})
    assert res.decision is Decision.RECORD_AND_SAMPLE
    assert dict(res.attributes) == {"a": 1, ADJUSTED_COUNT_ATTRIBUTE: 1.0}


def test_debug_baggage_keeps_a_root_and_a_child_of_a_dropped_parent() -> None:
    sampler = ConsistentProbabilitySampler(0.0)
    ctx = baggage.set_baggage("otelkit.debug", "true")
    root = sampler.should_sample(ctx, HIGH, "root")
    assert root.decision.is_sampled() and root.trace_state.get("ot") == "th:0"
    child_ctx = baggage.set_baggage("otelkit.debug", "1", _parent(False, TraceState([("ot", "th:8")])))
    child = sampler.should_sample(child_ctx, HIGH, "child")
    assert child.decision.is_sampled() and child.trace_state.get("ot") is None
    assert sampler.should_sample(None, HIGH, "root", attributes={"otelkit.debug": True}).decision.is_sampled()
    assert not ConsistentProbabilitySampler(0.0, debug=False).should_sample(ctx, HIGH, "r").decision.is_sampled()


def test_through_a_real_tracer_children_carry_the_root_threshold() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ConsistentProbabilitySampler(0.5))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    for _ in range(200):
        with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
            pass
    spans = exporter.get_finished_spans()
    assert 40 < len(spans) // 2 < 160
    for span in spans:
        assert span.context.trace_state.get("ot") == "th:8"
        assert span.attributes[ADJUSTED_COUNT_ATTRIBUTE] == 2.0
    assert len({s.context.trace_id for s in spans}) * 2 == len(spans)
    provider.shutdown()


def test_stats_count_every_decision() -> None:
    sampler = ConsistentProbabilitySampler(0.5)
    sampler.should_sample(None, HIGH | RANDOM_ALL, "keep")
    sampler.should_sample(None, HIGH, "drop")
    assert sampler.stats() == {"kept": 1, "dropped": 1, "probability": 0.5}


@pytest.mark.parametrize(("arg", "probability", "warns"), [
    (None, 1.0, False), ("0.25", 0.25, False), (" 0.5 ", 0.5, False), ("", 1.0, False),
    ("abc", 1.0, True), ("1.5", 1.0, True),
])
def test_factory_argument(arg: str | None, probability: float, warns: bool,
                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit.sampling"):
        sampler = consistent_sampler_factory(arg)
    assert isinstance(sampler, ConsistentProbabilitySampler)
    assert sampler.probability == probability
    assert ("OTEL_TRACES_SAMPLER_ARG" in caplog.text) == warns


def test_constructor_rejects_bad_probability() -> None:
    with pytest.raises(ValueError, match="outside"):
        ConsistentProbabilitySampler(2.0)


def test_entry_point_from_env() -> None:
    sampler = build_sampler({"OTEL_TRACES_SAMPLER": "otelkit_consistent", "OTEL_TRACES_SAMPLER_ARG": "0.1"})
    assert isinstance(sampler, ConsistentProbabilitySampler)
    assert sampler.probability == 0.1
