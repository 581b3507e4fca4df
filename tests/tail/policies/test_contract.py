"""One contract for every tail policy, fed the same traces (issue 12).

Every policy type, built through the configuration path: it never raises on odd or huge
traces, answers a Decision, and a SAMPLED decision's threshold is well-formed and keeps the
trace (``R >= T``). Probability-bearing policies keep a superset at a higher probability.
"""

from __future__ import annotations

import random

import pytest
from opentelemetry.trace import StatusCode, TraceState

from otelkit.sampling.threshold import MAX_THRESHOLD
from otelkit.tail.policy import Decision, Outcome, TraceView
from otelkit.tail.policy_config import POLICY_TYPES, build_policy

from ..conftest import FakeClock, make_span

SUB = [{"name": "e", "type": "status_code", "status_codes": ["ERROR"]},
       {"name": "r", "type": "probabilistic", "sampling_percentage": 30}]
SPECS = {
    "always_sample": {},
    "head_sampled": {},
    "status_code": {"status_codes": ["ERROR", "OK"]},
    "latency": {"threshold_ms": 5, "upper_threshold_ms": 10_000},
    "string_attribute": {"key": "http.route", "values": ["/a.*"], "enabled_regex_matching": True},
    "numeric_attribute": {"key": "n", "min_value": 1, "max_value": 10},
    "boolean_attribute": {"key": "b", "value": True},
    "span_count": {"min_spans": 2, "max_spans": 1000},
    "probabilistic": {"sampling_percentage": 25},
    "rate_limiting": {"spans_per_second": 50},
    "and": {"and_sub_policy": SUB},
    "not": {"not_sub_policy": SUB[0]},
    "drop": {"drop_sub_policy": [SUB[0]]},
    "composite": {"max_total_spans_per_second": 100, "composite_sub_policy": SUB},
}


def test_every_policy_type_is_covered() -> None:
    assert set(SPECS) == set(POLICY_TYPES)


def _traces() -> list[TraceView]:
    rng = random.Random(4)
    out = [TraceView(1, [])]  # no spans at all
    odd_state = TraceState([("ot", "th:zz;rv:xyz")])
    for i in range(60):
        tid = rng.getrandbits(128)
        n = rng.choice([1, 2, 5, 40])
        spans = [
            make_span(tid, k + 1, parent_id=None if k == 0 else 1, remote_parent=i % 7 == 0,
                      status=StatusCode.ERROR if rng.random() < 0.1 else StatusCode.UNSET,
                      start_ms=k, end_ms=k + rng.choice([0.5, 20, 3000]),
                      attributes={"http.route": rng.choice(["/a/1", "/b", None, 3]), "n": rng.choice([0, 5, 2.5, "x"]),
                                  "b": rng.choice([True, False, "true"])},
                      sampled=rng.random() < 0.3,
                      trace_state=rng.choice([None, odd_state, TraceState([("ot", "th:8;rv:ffffffffffffff")])]))
            for k in range(n)
        ]
        out.append(TraceView(tid, spans))
    big = rng.getrandbits(128)
    out.append(TraceView(big, [make_span(big, k + 1, parent_id=1, end_ms=k) for k in range(20_000)]))
    return out


TRACES = _traces()


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_never_raises_and_keeps_only_where_its_threshold_keeps(kind) -> None:
    clock = FakeClock()
    policy = build_policy({"type": kind, "name": kind, **SPECS[kind]}, clock=clock)
    for trace in TRACES:
        clock.advance(0.01)
        decision = policy.evaluate(trace)
        assert isinstance(decision, Decision)
        if decision.outcome is Outcome.SAMPLED and decision.threshold is not None:
            assert 0 <= decision.threshold < MAX_THRESHOLD
            assert trace.randomness >= decision.threshold


@pytest.mark.parametrize("kind", ["probabilistic", "composite"])
def test_a_higher_probability_keeps_a_superset(kind) -> None:
    kept = []
    for pct in (1, 10, 50, 100):
        spec = {"type": "probabilistic", "sampling_percentage": pct}
        if kind == "composite":  # a budget no trace exhausts: only the sub-policy's probability acts
            spec = {"type": "composite", "max_total_spans_per_second": 1e9, "composite_sub_policy": [spec]}
        policy = build_policy(spec, clock=FakeClock())
        kept.append({t.trace_id for t in TRACES if policy.evaluate(t).sampled})
    assert all(lower <= higher for lower, higher in zip(kept, kept[1:], strict=False))
    assert kept[-1] == {t.trace_id for t in TRACES}
