"""The shared frame of the head samplers: every sampler keeps and counts on failure."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otelkit.sampling import AdaptiveSampler, ConsistentProbabilitySampler, RulesSampler
from otelkit.sampling._base import BaseHeadSampler

SAMPLERS = [
    lambda: AdaptiveSampler(10, rules="", environ={}, self_metrics=False),
    lambda: RulesSampler("ratio(0.5)", environ={}),
    lambda: ConsistentProbabilitySampler(0.5),
]


class _BrokenSpan(NonRecordingSpan):
    def get_span_context(self) -> SpanContext:
        raise RuntimeError("boom")


@pytest.mark.parametrize("make", SAMPLERS)
def test_a_failing_root_decision_keeps_and_counts(make: Any) -> None:
    sampler = make()
    assert isinstance(sampler, BaseHeadSampler)
    result = sampler.should_sample(None, "not-an-id", "op", attributes={"a": 1})  # type: ignore[arg-type]
    assert result.decision is Decision.RECORD_AND_SAMPLE
    assert dict(result.attributes or {}) == {"a": 1}
    assert (sampler.stats()["kept"], sampler.stats()["dropped"]) == (1, 0)


@pytest.mark.parametrize("make", SAMPLERS)
def test_a_failing_parent_lookup_keeps_and_counts(make: Any) -> None:
    sampler = make()
    ctx = trace.set_span_in_context(_BrokenSpan(SpanContext(1, 2, False, TraceFlags(0))))
    result = sampler.should_sample(ctx, 1, "op")
    assert result.decision is Decision.RECORD_AND_SAMPLE
    assert sampler.stats()["kept"] == 1


@pytest.mark.parametrize("make", SAMPLERS)
def test_child_of_a_dropped_parent_is_dropped_and_counted(make: Any) -> None:
    sampler = make()
    ctx = trace.set_span_in_context(NonRecordingSpan(SpanContext(1, 2, True, TraceFlags(0))))
    assert sampler.should_sample(ctx, 1, "op").decision is Decision.DROP
    assert (sampler.stats()["kept"], sampler.stats()["dropped"]) == (0, 1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
@pytest.mark.parametrize("make", SAMPLERS)
def test_a_forked_child_never_inherits_a_held_lock_or_the_parents_counts(make: Any) -> None:
    sampler = make()
    sampler.should_sample(None, 1 << 60, "op")
    sampler._lock.acquire()  # as if another thread were counting at fork time
    try:
        pid = os.fork()
        if pid == 0:  # child: a decision must not deadlock, counts start over
            signal.alarm(10)
            before = sampler.stats()
            sampler.should_sample(None, 1 << 60, "op")
            after = sampler.stats()
            os._exit(0 if before["kept"] + before["dropped"] == 0 and after["kept"] + after["dropped"] == 1 else 1)
    finally:
        sampler._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sampler.stats()["kept"] + sampler.stats()["dropped"] == 1  # the parent is untouched
