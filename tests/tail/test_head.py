from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    SamplingResult,
    StaticSampler,
)
from opentelemetry.trace import TraceState

from otelkit.tail import RecordForTailSampler


@pytest.mark.parametrize(
    ("delegate", "decision"),
    [(ALWAYS_OFF, Decision.RECORD_ONLY), (ALWAYS_ON, Decision.RECORD_AND_SAMPLE),
     (StaticSampler(Decision.RECORD_ONLY), Decision.RECORD_ONLY)],
)
def test_drop_becomes_record_only(delegate, decision) -> None:
    result = RecordForTailSampler(delegate).should_sample(None, 0xABC, "op", trace_state=TraceState([("a", "b")]))
    assert result.decision is decision


def test_spans_are_recorded_but_not_sampled() -> None:
    provider = TracerProvider(sampler=RecordForTailSampler(ParentBased(ALWAYS_OFF)))
    span = provider.get_tracer("t").start_span("op")
    assert span.is_recording()
    assert not span.get_span_context().trace_flags.sampled
    span.end()


def test_description_and_stats_pass_through() -> None:
    class Counting(ALWAYS_OFF.__class__):
        def stats(self):
            return {"decisions": 4}

    sampler = RecordForTailSampler(Counting(Decision.DROP))
    assert sampler.get_description().startswith("RecordForTail{")
    assert sampler.stats() == {"decisions": 4}


def test_non_sampler_is_rejected() -> None:
    with pytest.raises(ValueError, match="delegate"):
        RecordForTailSampler("always_on")  # type: ignore[arg-type]


def test_a_raising_delegate_records_the_span_for_the_tail() -> None:
    class Broken(StaticSampler):
        def should_sample(self, *args, **kwargs):
            raise RuntimeError("boom")

    state = TraceState([("a", "b")])
    result = RecordForTailSampler(Broken(Decision.DROP)).should_sample(
        None, 0xABC, "op", attributes={"k": "v"}, trace_state=state
    )
    assert result.decision is Decision.RECORD_ONLY
    assert dict(result.attributes) == {"k": "v"}
    assert result.trace_state is state


def test_drop_keeps_the_delegates_attributes_and_tracestate() -> None:
    state = TraceState([("a", "b")])

    class Dropping(StaticSampler):
        def should_sample(self, *args, **kwargs):
            return SamplingResult(Decision.DROP, {"x": 1}, state)

    result = RecordForTailSampler(Dropping(Decision.DROP)).should_sample(None, 1, "op")
    assert (result.decision, dict(result.attributes), result.trace_state) == (Decision.RECORD_ONLY, {"x": 1}, state)


def test_a_span_recorded_only_for_the_tail_keeps_its_start_attributes() -> None:
    # The SDK gives a span only the attributes its sampler returns; stock samplers return none
    # with DROP, so recording for the tail must pass the span's own start attributes on (an
    # error trace the tail keeps would otherwise arrive without its route and method).
    provider = TracerProvider(sampler=RecordForTailSampler(ParentBased(ALWAYS_OFF)))
    span = provider.get_tracer("t").start_span("GET /orders", attributes={"http.route": "/orders", "n": 3})
    assert dict(span.attributes or {}) == {"http.route": "/orders", "n": 3}
    span.end()


def test_the_delegates_attributes_win_over_the_start_attributes_on_a_drop() -> None:
    class Dropping(StaticSampler):
        def should_sample(self, *args, **kwargs):
            return SamplingResult(Decision.DROP, {"x": 2})

    result = RecordForTailSampler(Dropping(Decision.DROP)).should_sample(None, 1, "op", attributes={"x": 1, "y": 1})
    assert dict(result.attributes) == {"x": 2, "y": 1}


def test_records_for_tail_reads_the_trace_s_own_provider(span) -> None:
    from otelkit.tail.head import records_for_tail

    recording = TracerProvider(sampler=RecordForTailSampler(ALWAYS_ON)).get_tracer("r").start_span("a")
    plain = TracerProvider(sampler=ALWAYS_ON).get_tracer("p").start_span("b")
    assert records_for_tail([recording]) is True
    assert records_for_tail([plain]) is False
    assert records_for_tail([span(sampled=True)]) is None  # a hand-built span does not say
    assert records_for_tail([span(sampled=True), span(sampled=False)]) is True  # only a recording head passes it


def _contexts():
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    state = TraceState([("ot", "th:e666"), ("v", "1")])
    out = [None]
    for remote in (False, True):
        for flags in (0, 1, 3):
            for ts in (None, state):
                ctx = SpanContext(0xABC, 0xDEF, remote, TraceFlags(flags), ts)
                out.append(trace.set_span_in_context(NonRecordingSpan(ctx)))
    out.append(trace.set_span_in_context(NonRecordingSpan(SpanContext(0, 0, False))))  # invalid parent
    return out


@pytest.mark.parametrize("parent", _contexts())
@pytest.mark.parametrize("attributes", [None, {}, {"a": 1, "b": "x"}])
@pytest.mark.parametrize("root", [ALWAYS_OFF, ALWAYS_ON])
def test_the_parentbased_shortcut_answers_as_the_delegate(parent, attributes, root) -> None:
    """A child of a local unsampled span behind the SDK's ParentBased is answered without
    calling it: same decision, attributes and tracestate (object) as through the delegate."""
    fast = RecordForTailSampler(ParentBased(root))
    slow = RecordForTailSampler(ParentBased(root))
    slow._unsampled_child_drops = False
    assert fast._unsampled_child_drops
    a = fast.should_sample(parent, 0xABC, "op", attributes=attributes)
    b = slow.should_sample(parent, 0xABC, "op", attributes=attributes)
    assert (a.decision, dict(a.attributes)) == (b.decision, dict(b.attributes))
    assert a.trace_state is b.trace_state


def test_the_shortcut_is_off_when_parentbased_is_not_the_sdks() -> None:
    class Counting(ParentBased):
        def should_sample(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return super().should_sample(*args, **kwargs)

    assert not RecordForTailSampler(Counting(ALWAYS_OFF))._unsampled_child_drops
    assert not RecordForTailSampler(ParentBased(ALWAYS_OFF, local_parent_not_sampled=ALWAYS_ON))._unsampled_child_drops
    assert not RecordForTailSampler(ALWAYS_OFF)._unsampled_child_drops
