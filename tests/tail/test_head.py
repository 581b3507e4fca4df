from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Decision, ParentBased, StaticSampler
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
