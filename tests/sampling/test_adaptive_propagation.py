"""Three services over real HTTP on 127.0.0.1: A -> B -> C, each with its own AdaptiveSampler.

A makes the root decision; B and C see a remote parent and must follow it, so every kept
trace is complete in all three services and carries the same ``th``.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv.attributes.http_attributes import HTTP_REQUEST_METHOD, HTTP_ROUTE
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otelkit.sampling._decide import ADJUSTED_COUNT_ATTRIBUTE
from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.sampling.simulate import FakeClock

PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


@dataclass
class Service:
    name: str
    provider: TracerProvider
    exporter: InMemorySpanExporter
    server: ThreadingHTTPServer
    clock: FakeClock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/work"

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def _start(name: str, downstream: Service | None) -> Service:
    clock = FakeClock()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=AdaptiveSampler(20.0, clock=clock, self_metrics=False,
                                                      environ={"OTELKIT_SAMPLER_DEBUG_TOKEN": "s3cret-debug"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(name)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            carrier = {k.lower(): v for k, v in self.headers.items()}
            ctx = PROPAGATOR.extract(carrier)
            attrs = {HTTP_ROUTE: "/work", HTTP_REQUEST_METHOD: "GET"}
            with tracer.start_as_current_span(f"{name} GET /work", context=ctx, kind=SpanKind.SERVER,
                                              attributes=attrs):
                if downstream is not None:
                    headers: dict[str, str] = {}
                    PROPAGATOR.inject(headers)
                    with urllib.request.urlopen(urllib.request.Request(downstream.url, headers=headers),
                                                timeout=10) as resp:
                        resp.read()
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet server
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Service(name, provider, exporter, server, clock)


@pytest.fixture
def services() -> Iterator[list[Service]]:
    c = _start("C", None)
    b = _start("B", c)
    a = _start("A", b)
    try:
        yield [a, b, c]
    finally:
        for svc in (a, b, c):
            svc.server.shutdown()
            svc.server.server_close()
            svc.provider.shutdown()


def test_every_kept_trace_is_complete_across_three_services(services: list[Service]) -> None:
    a, b, c = services
    requests = 150
    for i in range(requests):
        for svc in services:
            svc.clock.now += 0.02  # 50 requests/s against A's target of 20/s
        headers = {"baggage": "otelkit.debug=s3cret-debug"} if i == requests - 1 else {}
        with urllib.request.urlopen(urllib.request.Request(a.url, headers=headers), timeout=10) as resp:
            assert resp.status == 200

    by_service = [{s.context.trace_id: s for s in svc.spans()} for svc in services]
    kept = set(by_service[0])
    assert 10 < len(kept) < requests  # A sampled: some traces were dropped
    assert set(by_service[1]) == kept and set(by_service[2]) == kept  # complete, no orphans
    for trace_id in kept:
        spans = [svc_spans[trace_id] for svc_spans in by_service]
        th = {s.context.trace_state.get("ot") for s in spans}
        assert len(th) == 1 and th.pop().startswith("th:")
        counts = {s.attributes[ADJUSTED_COUNT_ATTRIBUTE] for s in spans}
        assert len(counts) == 1
        assert spans[1].parent.span_id == spans[0].context.span_id  # B's parent is A's span
        assert spans[2].parent.span_id == spans[1].context.span_id
    # the debug request was kept whatever the probability (th:0, count 1)
    last = max(by_service[0].values(), key=lambda s: s.start_time or 0)
    assert last.context.trace_state.get("ot") == "th:0"
