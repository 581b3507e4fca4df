"""Shared span builders for the exporter tests."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

RESOURCE = Resource.create(
    {
        "service.name": "checkout",
        "service.version": "1.4.2",
        "deployment.environment": "prod",
        "host.name": "web-17",
        "process.pid": 4242,
        "telemetry.sdk.language": "python",
    }
)
SCOPE = InstrumentationScope("otelkit.tests", "0.1")


def realistic_batch(n: int = 512, seed: int = 7) -> list[ReadableSpan]:
    """Spans like stock-baseline section 4: 8 attrs (5 str, 2 int, 1 bool), 1 event with
    2 attrs, 70% with a remote parent, one resource and scope."""
    rng = random.Random(seed)
    spans = []
    for i in range(n):
        trace_id = rng.getrandbits(128) | 1
        ctx = SpanContext(trace_id, rng.getrandbits(64) | 1, False, TraceFlags(1))
        parent = (
            SpanContext(trace_id, rng.getrandbits(64) | 1, True, TraceFlags(1)) if rng.random() < 0.7 else None
        )
        start = 1_700_000_000_000_000_000 + i * 1_000_000
        attrs = {
            "http.request.method": rng.choice(["GET", "POST", "PUT"]),
            "url.path": f"/api/v1/orders/{rng.randrange(100000)}",
            "url.scheme": "https",
            "server.address": "shop.example.com",
            "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) otelkit-bench/1.0",
            "http.response.status_code": rng.choice([200, 200, 200, 404, 500]),
            "server.port": 443,
            "otelkit.cache_hit": rng.random() < 0.5,
        }
        event = Event("request.received", {"bytes": rng.randrange(10000), "queue": "default"}, start + 1000)
        spans.append(
            ReadableSpan(
                name=f"{attrs['http.request.method']} /api/v1/orders/{{id}}",
                context=ctx,
                parent=parent,
                resource=RESOURCE,
                attributes=attrs,
                events=(event,),
                kind=SpanKind.SERVER,
                instrumentation_scope=SCOPE,
                start_time=start,
                end_time=start + rng.randrange(100_000, 50_000_000),
            )
        )
    return spans


@pytest.fixture
def make_batch() -> Callable[..., list[ReadableSpan]]:
    return realistic_batch
