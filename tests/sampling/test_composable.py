"""Spec composable samplers: otelkit's intents, ParentThreshold, Annotating, the composite."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace._sampling_experimental import (
    ComposableSampler,
    SamplingIntent,
    composable_parent_threshold,
    composable_rule_based,
    composite_sampler,
)
from opentelemetry.sdk.trace._sampling_experimental._rule_based import (
    AlwaysMatchPredicate,
    AttributeValuesPredicate,
)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from otelkit.sampling import AdaptiveSampler, ConsistentProbabilitySampler, RulesSampler
from otelkit.sampling.composable import annotating, composite, parent_threshold
from otelkit.sampling.simulate import FakeClock
from otelkit.sampling.threshold import probability_to_threshold, read_ot

TENTH = probability_to_threshold(0.1)  # e666


def _ctx(sampled: bool, state: TraceState, trace_id: int = (7 << 64) | ((1 << 56) - 1)) -> trace.Context:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else 0)
    return trace.set_span_in_context(NonRecordingSpan(SpanContext(trace_id, 9, True, flags, state)))


@pytest.mark.parametrize("sampler", [
    ConsistentProbabilitySampler(0.1),
    RulesSampler("ratio(0.1)", environ={}),
    AdaptiveSampler(0.001, clock=FakeClock(), self_metrics=False, environ={}, pressure=None),
])
def test_otelkit_samplers_give_their_root_threshold_as_an_intent(sampler: ComposableSampler) -> None:
    intent = sampler.sampling_intent(None, "GET /a", None, None, None, None)
    assert 0 <= intent.threshold < 1 << 56 and intent.threshold_reliable
    if not isinstance(sampler, AdaptiveSampler):  # the adaptive one starts keeping all (T = 0)
        assert intent.threshold == TENTH


def test_composite_keeps_iff_r_at_least_t_and_writes_th() -> None:
    sampler = composite(ConsistentProbabilitySampler(0.1))
    keep = sampler.should_sample(None, (1 << 56) - 1, "root")
    drop = sampler.should_sample(None, 1, "root")
    assert keep.decision is Decision.RECORD_AND_SAMPLE and read_ot(keep.trace_state).th == TENTH
    assert drop.decision is Decision.DROP and read_ot(drop.trace_state).th is None


def test_parent_threshold_reads_the_parent_from_the_context_not_the_argument() -> None:
    # the SDK tracer passes no trace_state (python #5578): the parent's th must still count
    parent = _ctx(True, TraceState([("ot", "th:e666;rv:ffffffffffffff"), ("vendor", "x")]), trace_id=5)
    ours = composite(parent_threshold(ConsistentProbabilitySampler(1.0)))
    result = ours.should_sample(parent, 5, "child")
    assert result.decision is Decision.RECORD_AND_SAMPLE  # rv (not the trace id's bits) decides
    assert read_ot(result.trace_state).th == TENTH and result.trace_state.get("vendor") == "x"
    # the SDK's own pair loses the parent's threshold under the same call
    sdk = composite_sampler(composable_parent_threshold(ConsistentProbabilitySampler(1.0)))
    lost = sdk.should_sample(parent, 5, "child")
    assert read_ot(lost.trace_state).th is None


def test_parent_threshold_without_th_follows_the_flag_unreliably() -> None:
    sampler = composite(parent_threshold(ConsistentProbabilitySampler(0.0)))
    sampled = sampler.should_sample(_ctx(True, TraceState()), 5, "child")
    dropped = sampler.should_sample(_ctx(False, TraceState()), 5, "child")
    assert sampled.decision is Decision.RECORD_AND_SAMPLE and read_ot(sampled.trace_state).th is None
    assert dropped.decision is Decision.DROP


def test_annotating_adds_attributes_to_sampled_spans_only() -> None:
    sampler = composite(annotating(ConsistentProbabilitySampler(0.1), {"sampler": "tenth"}))
    assert dict(sampler.should_sample(None, (1 << 56) - 1, "r").attributes) == {"sampler": "tenth"}
    assert not sampler.should_sample(None, 1, "r").attributes


def test_rule_based_from_the_sdk_with_otelkit_samplers_under_a_real_tracer() -> None:
    rules = composable_rule_based([
        (AttributeValuesPredicate("http.route", ["/health"]), ConsistentProbabilitySampler(0.0)),
        (AlwaysMatchPredicate(), ConsistentProbabilitySampler(1.0)),
    ])
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=composite(parent_threshold(rules)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET /health", attributes={"http.route": "/health"}):
        pass
    with tracer.start_as_current_span("GET /a", attributes={"http.route": "/a"}):
        with tracer.start_as_current_span("child"):
            pass
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"GET /a", "child"}
    assert read_ot(spans["child"].context.trace_state).th == 0  # inherited from the root


class _Tagging:
    """A composable sampler whose intent also adds a vendor entry to the tracestate."""

    def sampling_intent(self, parent_ctx, name, span_kind, attributes, links, trace_state=None):  # type: ignore[no-untyped-def]
        return SamplingIntent(0, True, None, lambda ts: ts.add("vendor", "v"))

    def get_description(self) -> str:
        return "Tagging"


def test_composite_applies_the_tracestate_update_to_root_spans() -> None:
    ours = composite(_Tagging()).should_sample(None, 5, "root")
    assert ours.trace_state.get("vendor") == "v" and read_ot(ours.trace_state).th == 0
    sdk = composite_sampler(_Tagging()).should_sample(None, 5, "root")
    assert sdk.trace_state.get("vendor") is None  # the SDK skips it for an empty tracestate
