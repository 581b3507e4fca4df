"""Spans for the fault suite: each with its own trace ID, so arrivals are counted by trace ID."""

from __future__ import annotations

import random

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

_RESOURCE = Resource.create({"service.name": "faults"})
_SCOPE = InstrumentationScope("otelkit.tests.faults", "0.1")


def batch(n: int, seed: int = 1) -> list[ReadableSpan]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ctx = SpanContext(rng.getrandbits(128) | 1, rng.getrandbits(64) | 1, False, TraceFlags(1))
        start = 1_700_000_000_000_000_000 + i
        out.append(ReadableSpan(
            name="GET /orders/{id}", context=ctx, resource=_RESOURCE, instrumentation_scope=_SCOPE,
            attributes={"http.request.method": "GET", "url.path": f"/orders/{i}", "http.response.status_code": 200},
            kind=SpanKind.SERVER, start_time=start, end_time=start + 1_000_000,
        ))
    return out


def ids_of(spans: list[ReadableSpan]) -> set[bytes]:
    return {s.context.trace_id.to_bytes(16, "big") for s in spans if s.context is not None}


def wait_until(cond: object, timeout: float) -> bool:
    """Poll ``cond()`` until true or ``timeout`` seconds passed (a bounded wait, not a timing)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False
