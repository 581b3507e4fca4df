"""The ``otelkit.debug`` baggage through a real uvicorn: outsiders cannot force sampling.

400 requests at 40 requests/s (a fake clock) against an adaptive head sampler targeting 1
trace/s. The trace IDs come from a seeded generator, so two runs see the same IDs and the
same clock: a run whose requests carry ``baggage: otelkit.debug=true`` without the token must
keep exactly the traces a run without the baggage keeps. Before, all 400 were kept.
"""

from __future__ import annotations

import http.client
import random
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator

from otelkit.middleware.asgi import ASGITracingMiddleware
from otelkit.sampling._debug import DebugOverride
from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.sampling.rules import RuleSet

REQUESTS = 400
STEP_S = 0.025  # 40 requests/s for 10 s


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SeededIds(IdGenerator):
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def run(serve_asgi: Any, baggage: str | None, override: DebugOverride | None = None,
        clock: Clock | None = None) -> tuple[set[int], dict[str, Any]]:
    """The trace IDs kept out of REQUESTS requests, and the sampler's stats."""
    clock = clock or Clock()
    rules = RuleSet([], override if override is not None else DebugOverride.from_env(None, {}))
    sampler = AdaptiveSampler(1.0, clock=clock, rules=rules, self_metrics=False, environ={})
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, id_generator=SeededIds(7))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = ASGITracingMiddleware(_app, tracer_provider=provider, environ={})
    with serve_asgi(app) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(REQUESTS):
            clock.now += STEP_S
            conn.request("GET", "/api/orders", headers={"baggage": baggage} if baggage else {})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        conn.close()
    provider.shutdown()
    return {s.context.trace_id for s in exporter.get_finished_spans()}, sampler.stats()


def test_400_requests_with_debug_baggage_and_no_token_are_sampled_at_the_normal_rate(serve_asgi: Any) -> None:
    plain, _ = run(serve_asgi, None)
    debug, stats = run(serve_asgi, "otelkit.debug=true")
    assert debug == plain  # the very same decisions: the baggage changed nothing
    assert 5 <= len(debug) <= REQUESTS // 5  # ~1 trace/s plus the estimator's start-up, not 400
    assert stats["forced"] == 0 and stats["kept"] == len(debug)


def test_a_wrong_token_forces_nothing(serve_asgi: Any) -> None:
    plain, _ = run(serve_asgi, None)
    debug, stats = run(serve_asgi, "otelkit.debug=guess", DebugOverride(True, "s3cret", 10.0))
    assert debug == plain and stats["forced"] == 0


def test_the_shared_token_forces_keeps_under_the_rate_limit(serve_asgi: Any) -> None:
    clock = Clock()
    kept, stats = run(serve_asgi, "otelkit.debug=s3cret", DebugOverride(True, "s3cret", 2.0, clock), clock)
    # 2 at once, then one every 0.5 s of the 10 s: 21 or 22 forced; the rest sampled normally
    assert 21 <= stats["forced"] <= 22 and stats["forced"] + stats["forced_refused"] == REQUESTS
    assert len(kept) == stats["kept"] >= stats["forced"]
