"""Head-sampling decision cost: otelkit samplers vs the SDK's ParentBased(TraceIdRatioBased).

Each round makes 2000 ``should_sample`` calls over 500 keys (``http.route`` x method), with
random trace IDs, the way the SDK tracer calls the sampler. The adaptive sampler is warmed
up so all 500 keys are tracked, and carries 10 rules that do not match (so every rule is
evaluated before the adaptive decision: the worst case).

Besides the medians, the otelkit side records ``interleaved_ratio``: otelkit/stock measured
in alternating rounds, which is robust to the load drift of a shared box.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.semconv.attributes.http_attributes import HTTP_REQUEST_METHOD, HTTP_ROUTE
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.sampling.consistent import ConsistentProbabilitySampler
from otelkit.sampling.rules import RulesSampler

CALLS = 2000
KEYS = 500
RULES = ";".join([
    "keep:http.route=/api/payment*",
    "drop:http.route=/health",
    "drop:http.route=/metrics",
    "ratio(0.5):kind=client",
    "ratio(0.2):kind=producer",
    "keep:name=checkout*",
    "keep:tenant=vip",
    "drop:user_agent.original=kube-probe*",
    "ratio(0.01):http.route=/static*",
    "keep:http.response.status_code=500",
])

_rng = random.Random(42)
ROOTS = [
    (_rng.getrandbits(128), "GET", {HTTP_ROUTE: f"/r/{i % KEYS}", HTTP_REQUEST_METHOD: "GET"})
    for i in range(CALLS)
]
# A consistent sampled parent (R >= th) with another vendor's entry; children share its trace ID.
_PARENT_TRACE = (_rng.getrandbits(72) << 56) | ((1 << 56) - 1)
_parent = SpanContext(_PARENT_TRACE, 77, True, TraceFlags(TraceFlags.SAMPLED),
                      TraceState([("ot", "th:e666"), ("vendor", "x")]))
CHILD_CTX = trace.set_span_in_context(NonRecordingSpan(_parent))
CHILDREN = [(_PARENT_TRACE, name, attrs) for _, name, attrs in ROOTS]


def _stock() -> Sampler:
    return ParentBased(TraceIdRatioBased(0.1))


def _adaptive() -> AdaptiveSampler:
    sampler = AdaptiveSampler(100.0, rules=RULES, self_metrics=False, environ={})
    for tid, name, attrs in ROOTS:  # every key tracked before measuring
        sampler.should_sample(None, tid, name, SpanKind.SERVER, attrs)
    return sampler


def _run(sampler: Sampler, ctx: Context | None) -> None:
    should_sample = sampler.should_sample
    server = SpanKind.SERVER
    for tid, name, attrs in ROOTS if ctx is None else CHILDREN:
        should_sample(ctx, tid, name, server, attrs)


def _interleaved_ratio(sampler: Sampler, ctx: Context | None, pairs: int = 41) -> tuple[float, float, float]:
    """Median, 10th and 90th percentile over alternating stock/otelkit rounds of otelkit time / stock time.

    The box is shared and its load drifts within a session; alternating the two sides round by
    round compares them under the same load, which the separate pytest-benchmark runs cannot.
    """
    stock = _stock()
    ratios = []
    for _ in range(pairs):
        t0 = time.perf_counter()
        _run(stock, ctx)
        t1 = time.perf_counter()
        _run(sampler, ctx)
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    ratios.sort()
    return statistics.median(ratios), ratios[len(ratios) // 10], ratios[-1 - len(ratios) // 10]


def _bench(benchmark: Any, side: str, sampler: Sampler, ctx: Context | None = None) -> None:
    benchmark.extra_info["side"] = side
    benchmark.extra_info["calls_per_round"] = CALLS
    benchmark.pedantic(_run, args=(sampler, ctx), rounds=100, iterations=1, warmup_rounds=5)
    if side == "otelkit":
        median, low, high = _interleaved_ratio(sampler, ctx)
        benchmark.extra_info["interleaved_ratio"] = round(median, 3)
        benchmark.extra_info["interleaved_p10_p90"] = [round(low, 3), round(high, 3)]


@pytest.mark.benchmark(group="sampling: root decision x2000, 500 keys + 10 rules (adaptive)")
def test_root_adaptive(benchmark: Any, side: str) -> None:
    _bench(benchmark, side, _stock() if side == "stock" else _adaptive())


@pytest.mark.benchmark(group="sampling: child decision x2000, sampled parent with th (adaptive)")
def test_child_adaptive(benchmark: Any, side: str) -> None:
    _bench(benchmark, side, _stock() if side == "stock" else _adaptive(), CHILD_CTX)


@pytest.mark.benchmark(group="sampling: root decision x2000, 10 rules (rules sampler)")
def test_root_rules(benchmark: Any, side: str) -> None:
    _bench(benchmark, side, _stock() if side == "stock" else RulesSampler(RULES, default_ratio=0.1, environ={}))


@pytest.mark.benchmark(group="sampling: root decision x2000 (consistent probability)")
def test_root_consistent(benchmark: Any, side: str) -> None:
    _bench(benchmark, side, _stock() if side == "stock" else ConsistentProbabilitySampler(0.1))
