"""Run one RSS case of ``test_rss_caps.py`` in a fresh process; print its figures as JSON.

Usage: ``python -m tests.tail._rss_case CASE CAP_BYTES SPANS``. Traces never end a local root
(their parent is a local span that never ends), so the buffer fills up to its cap and the
overflow policy (``decide``) takes over. Every payload string is distinct, so nothing is
shared between spans: what the buffer holds is what RSS shows.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otelkit.tail import RecordForTailSampler, TailSamplingProcessor
from otelkit.tail.policies import HeadSampledPolicy, LatencyPolicy, StatusCodePolicy
from otelkit.tail.policy import NOT_SAMPLED, Decision, TraceView

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Discard(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        pass


class SlowPolicy:
    """20 ms per trace (a policy calling out to something slow)."""

    name = "slow"
    attribute_keys: frozenset[str] = frozenset()

    def evaluate(self, trace_view: TraceView) -> Decision:
        time.sleep(0.02)
        return NOT_SAMPLED


def payload(i: int, n: int) -> str:
    return f"{i:08d}" + "x" * (n - 8)  # a new string object each time


def main(case: str, cap: int, total: int) -> dict[str, Any]:
    policies: list[Any] = [StatusCodePolicy(["ERROR"]), LatencyPolicy(1000), HeadSampledPolicy()]
    if case == "slow":
        policies = [SlowPolicy()]
    proc = TailSamplingProcessor(Discard(), policies, max_bytes=cap, max_spans=1_000_000, overflow="decide",
                                 max_wait_ms=600_000, self_metrics=False)
    provider = TracerProvider(sampler=RecordForTailSampler(ALWAYS_OFF))
    provider.add_span_processor(proc)
    tracer = provider.get_tracer("rss")
    rng = random.Random(7)

    def one(i: int, ctx: Any, warm: bool = False) -> None:
        with tracer.start_as_current_span("work", context=ctx) as span:
            if warm:
                span.set_attribute("body", payload(i, 100))
            elif case == "event":
                span.add_event("payload", {"body": payload(i, 100_000)})
            elif case == "tuple":
                span.set_attribute("parts", tuple(payload(i * 10 + k, 10_000) for k in range(10)))
            elif case == "mb":
                span.set_attribute("blob", payload(i, 1_000_000))
            else:  # slow
                span.set_attribute("body", payload(i, 4_000))

    ctx: Any = None
    for i in range(50):  # warm-up (small spans): imports, caches, the worker thread
        if i % 4 == 0:
            parent = SpanContext(rng.getrandbits(128), rng.getrandbits(64) or 1, False, TraceFlags(0))
            ctx = trace.set_span_in_context(NonRecordingSpan(parent))
        one(i, ctx, warm=True)
    gc.collect()
    base = peak = rss()
    for i in range(total):
        if i % 4 == 0:
            parent = SpanContext(rng.getrandbits(128), rng.getrandbits(64) or 1, False, TraceFlags(0))
            ctx = trace.set_span_in_context(NonRecordingSpan(parent))
        one(i, ctx)
        if i % 10 == 0:
            peak = max(peak, rss())
    peak = max(peak, rss())
    stats = proc.stats()
    held = stats.get("buffered_bytes", 0) + stats.get("awaiting_decision_bytes", 0)
    return {"growth": peak - base, "held": held, "cap": cap, "stats_buffered": stats.get("buffered_bytes"),
            "awaiting": stats.get("awaiting_decision_bytes"), "dropped": stats.get("spans_dropped")}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))), flush=True)
    os._exit(0)  # no shutdown: it would decide every held trace (20 ms each in the slow case)
