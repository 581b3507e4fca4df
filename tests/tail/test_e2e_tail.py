"""End to end: an app with errors and slow requests among normal ones, tail sampling on,
exporting through the stock OTLP/HTTP exporter to a real Rotel that forwards to ``sink``."""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import otelkit
from otelkit.tail import POLICY_ATTRIBUTE, RecordForTailSampler, TailSamplingProcessor

pytestmark = pytest.mark.peers

REQUESTS = 800


def test_errors_and_slow_traces_arrive_whole_and_the_rest_at_ten_percent(rotel, sink) -> None:
    env = {
        "OTELKIT_TAIL_ENABLED": "true",
        "OTELKIT_TAIL_DECISION_WAIT_MS": "50",
        "OTELKIT_PROCESSOR": "stock",
        "OTELKIT_SELF_METRICS": "false",
        "OTEL_TRACES_SAMPLER": "always_off",  # head drops everything: the tail alone decides
        "OTELKIT_TAIL_POLICIES": "errors=status_code(status_codes=ERROR);slow=latency(threshold_ms=1000);"
                                 "probabilistic(sampling_percentage=10)",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    pipeline = otelkit.configure(
        service_name="shop", exporters=[OTLPSpanExporter(endpoint=rotel.http_endpoint)], set_global=False, environ=env
    )
    assert isinstance(pipeline.sampler, RecordForTailSampler)
    [tail] = pipeline.processors
    assert isinstance(tail, TailSamplingProcessor)
    tracer = pipeline.tracer("shop")
    rng = random.Random(2024)
    kinds: dict[str, str] = {}
    for _ in range(REQUESTS):
        roll = rng.random()
        kind = "error" if roll < 0.05 else "slow" if roll < 0.10 else "normal"
        start = time.time_ns()
        root = tracer.start_span("GET /checkout", kind=SpanKind.SERVER, start_time=start)
        ctx = trace.set_span_in_context(root)
        db = tracer.start_span("SELECT orders", context=ctx, start_time=start + 1000)
        if kind == "error":
            db.set_status(StatusCode.ERROR, "deadlock")
        db.end(end_time=start + 2_000_000)
        cache = tracer.start_span("cache get", context=ctx, start_time=start + 3000)
        cache.end(end_time=start + 3_000_000)
        # slow requests last 1.5 s (explicit timestamps keep the test fast)
        root.end(end_time=start + (1_500_000_000 if kind == "slow" else 5_000_000))
        kinds[format(root.get_span_context().trace_id, "032x")] = kind
    assert pipeline.force_flush()  # decides every trace whose root ended, without waiting
    stats = tail.stats()
    assert stats["traces_kept"] + stats["traces_dropped"] == REQUESTS
    assert sink.wait_for_spans(stats["spans_kept"], timeout=20)
    pipeline.shutdown()

    spans_by_trace: dict[str, list] = defaultdict(list)
    for received in sink.spans():
        spans_by_trace[received.span.trace_id.hex()].append(received)
    assert all(len(s) == 3 for s in spans_by_trace.values())  # every kept trace arrives whole
    for tid, kind in kinds.items():
        if kind != "normal":
            assert tid in spans_by_trace, f"{kind} trace {tid} missing"
    normal = [t for t, k in kinds.items() if k == "normal"]
    kept_normal = sum(1 for t in normal if t in spans_by_trace)
    n, p = len(normal), 0.1
    assert abs(kept_normal - n * p) <= 4 * math.sqrt(n * p * (1 - p))
    # kept spans say which policy kept them and carry the matching th
    for tid, received in spans_by_trace.items():
        policy = received[0].attributes[POLICY_ATTRIBUTE]
        expected = {"error": "errors", "slow": "slow", "normal": "probabilistic"}[kinds[tid]]
        assert policy == expected
        assert received[0].span.trace_state == ("ot=th:e666" if policy == "probabilistic" else "ot=th:0")

