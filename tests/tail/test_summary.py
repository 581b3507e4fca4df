"""What the span summaries hold: the attribute keys the configured policies declare."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otelkit.tail import TailSamplingProcessor
from otelkit.tail.policies import (
    AlwaysSamplePolicy,
    AndPolicy,
    BooleanAttributePolicy,
    CompositePolicy,
    DropPolicy,
    HeadSampledPolicy,
    LatencyPolicy,
    NotPolicy,
    NumericAttributePolicy,
    ProbabilisticPolicy,
    RateLimitingPolicy,
    SpanCountPolicy,
    StatusCodePolicy,
    StringAttributePolicy,
)
from otelkit.tail.policy import NOT_SAMPLED, SAMPLED, Decision, TraceView, attribute_keys
from tests.tail.conftest import make_span


class Undeclared:
    """A custom policy that says nothing about what it reads: keeps traces with ``vip``."""

    name = "vip"

    def evaluate(self, trace: TraceView) -> Decision:
        return SAMPLED if any((s.attributes or {}).get("vip") for s in trace.spans) else NOT_SAMPLED


@pytest.mark.parametrize("policies, keys", [
    ([StatusCodePolicy(["ERROR"]), LatencyPolicy(1000), HeadSampledPolicy()], frozenset()),
    ([AlwaysSamplePolicy(), ProbabilisticPolicy(10), RateLimitingPolicy(spans_per_second=5), SpanCountPolicy(2)],
     frozenset()),
    ([StringAttributePolicy("http.route", ["/a"]), NumericAttributePolicy("code", 500)], frozenset({"http.route", "code"})),
    ([AndPolicy([BooleanAttributePolicy("ok", True), LatencyPolicy(5)])], frozenset({"ok"})),
    ([NotPolicy(StringAttributePolicy("k", ["v"])), DropPolicy([BooleanAttributePolicy("hc", True)])],
     frozenset({"k", "hc"})),
    ([CompositePolicy([StringAttributePolicy("a", ["x"]), StatusCodePolicy(["ERROR"])], 100)], frozenset({"a"})),
    ([StatusCodePolicy(["ERROR"]), Undeclared()], None),
    ([AndPolicy([Undeclared(), LatencyPolicy(5)])], None),
])
def test_declared_keys_of_the_built_in_policies(policies: list[Any], keys: frozenset[str] | None) -> None:
    assert attribute_keys(policies) == keys


def _held(proc: TailSamplingProcessor) -> list[Any]:
    return [rec for entry in proc._buffer._traces.values() for rec in entry.spans]


def test_summaries_hold_only_the_declared_keys(clock: Any) -> None:
    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(SimpleSpanProcessor(exporter), [StringAttributePolicy("tier", ["gold"])],
                                 clock=clock, start_worker=False, self_metrics=False)
    big = "p" * 100_000
    proc.on_end(make_span(1, 1, attributes={"tier": "gold", "payload": big}))
    proc.on_end(make_span(2, 1, attributes={"tier": "free", "payload": big}))
    held = _held(proc)
    assert [dict(r._attributes) for r in held] == [{"tier": "gold"}, {"tier": "free"}]
    # the payload is held once, in the bytes: the buffer charges about that
    assert 200_000 < proc.stats()["buffered_bytes"] < 200_000 + 2 * 2000
    clock.advance(5)
    proc.process_due()
    (kept,) = exporter.get_finished_spans()
    assert kept.attributes["payload"] == big  # type: ignore[index]  # exported whole


def test_an_undeclared_policy_reads_every_attribute_decoded_from_the_bytes(clock: Any) -> None:
    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(SimpleSpanProcessor(exporter), [Undeclared()], clock=clock, start_worker=False,
                                 self_metrics=False)
    proc.on_end(make_span(1, 1, attributes={"vip": True, "n": 1}))
    proc.on_end(make_span(2, 1, attributes={"n": 2}))
    assert all(r._attributes is None for r in _held(proc))  # nothing copied: decoded when read
    assert dict(_held(proc)[0].attributes) == {"vip": True, "n": 1}
    clock.advance(5)
    proc.process_due()
    assert [s.context.trace_id for s in exporter.get_finished_spans()] == [1]  # type: ignore[union-attr]


def test_policies_see_the_summary_fields(clock: Any) -> None:
    seen: list[tuple[Any, ...]] = []

    class Looks:
        name = "looks"
        attribute_keys = frozenset({"k"})

        def evaluate(self, trace: TraceView) -> Decision:
            for s in trace.spans:
                seen.append((s.name, s.kind.name, s.status.status_code.name, s.start_time, s.end_time,
                             s.context.span_id, s.parent.span_id if s.parent else None,  # type: ignore[union-attr]
                             dict(s.attributes or {}), s.resource.attributes["service.name"],
                             getattr(s, "events_count", None)))
            return NOT_SAMPLED

    proc = TailSamplingProcessor(SimpleSpanProcessor(InMemorySpanExporter()), [Looks()], clock=clock,
                                 start_worker=False, self_metrics=False)
    proc.on_end(make_span(5, 2, parent_id=1, name="child", attributes={"k": 1, "x": 2}, start_ms=1, end_ms=2,
                          events=3))
    proc.on_end(make_span(5, 1, name="root", status=StatusCode.ERROR, start_ms=0, end_ms=4))
    clock.advance(5)
    proc.process_due()
    assert seen == [
        ("child", "INTERNAL", "UNSET", 1_000_000, 2_000_000, 2, 1, {"k": 1}, "svc", 3),
        ("root", "INTERNAL", "ERROR", 0, 4_000_000, 1, None, {}, "svc", 0),
    ]
