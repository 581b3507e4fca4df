"""Per-request overhead of otelkit's ASGI middleware vs contrib's ``OpenTelemetryMiddleware``.

Same Starlette app, same ``TracerProvider`` set-up on both sides (``ParentBased(ALWAYS_ON)``,
a ``SimpleSpanProcessor`` in front of a no-op exporter, an SDK ``MeterProvider`` with an
in-memory reader that is never collected). The app without middleware is the baseline
(``extra_info["side"] = "baseline"``); the overhead of a side is its median minus the
baseline's, and the interesting number is otelkit overhead / stock overhead.

* ``asgi: in-process x200`` -- 200 hand-built ASGI calls per round (no sockets).
  ``stock`` is contrib with its defaults (it adds a ``send`` span per message);
  ``lean-contrib`` passes ``exclude_spans=["receive", "send"]``, contrib's leanest mode.
* ``asgi: in-process interleaved`` -- the same calls with the four variants alternating
  round by round; per-request medians and overhead ratios in ``extra_info``.
* ``asgi: extract 20 headers`` -- ``propagate.extract`` from a 20-header scope with
  contrib's ``asgi_getter`` vs otelkit's (fresh scope each call, so no cached index).
* ``asgi: uvicorn interleaved`` -- a short bounded load over real uvicorn: three servers
  (baseline, contrib, otelkit), each in a child process stopped by PID, 12 rounds x 50
  sequential keep-alive httpx requests alternating sides (back-to-back runs per side were
  dominated by load drift on the shared box); per-request medians in ``extra_info``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from opentelemetry import propagate
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware, asgi_getter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from otelkit.middleware.asgi import ASGITracingMiddleware
from otelkit.propagation.asgi import asgi_getter as otelkit_getter
from otelkit.testing import ManagedProcess, free_port, scrubbed_env, wait_for_port

CALLS = 200
INTERLEAVED_ROUNDS = 12
INTERLEAVED_REQUESTS = 50
TP = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
HEADERS = [
    (b"host", b"api.example.test"), (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) bench/1.0"),
    (b"accept", b"application/json"), (b"accept-encoding", b"gzip, deflate, br"),
    (b"accept-language", b"en-US,en;q=0.9"), (b"connection", b"keep-alive"),
    (b"cache-control", b"no-cache"), (b"x-request-id", b"5f1c1a9e-0c39-4a8e-9c43-8c7e1c7b2f11"),
    (b"x-forwarded-for", b"127.0.0.7"), (b"x-forwarded-proto", b"https"),
    (b"cookie", b"session=abc123; theme=dark"), (b"authorization", b"Bearer xyz"),
    (b"sec-fetch-mode", b"cors"), (b"sec-fetch-site", b"same-origin"), (b"origin", b"https://example.test"),
    (b"referer", b"https://example.test/page"), (b"pragma", b"no-cache"),
    (b"traceparent", TP), (b"tracestate", b"vendor=abc,other=def"), (b"baggage", b"user=ann,tenant=t1"),
]


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def user(request: Request) -> Response:
    return PlainTextResponse("ok")


def _starlette() -> Starlette:
    return Starlette(routes=[Route("/users/{user_id}", user)])


def _app(side: str) -> tuple[Any, TracerProvider]:
    tp = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    tp.add_span_processor(SimpleSpanProcessor(NoopExporter()))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    app = _starlette()
    if side == "otelkit":
        return ASGITracingMiddleware(app, tracer_provider=tp, meter_provider=mp, environ={}), tp
    if side == "stock":
        return OpenTelemetryMiddleware(app, tracer_provider=tp, meter_provider=mp), tp
    if side == "lean-contrib":
        return OpenTelemetryMiddleware(app, tracer_provider=tp, meter_provider=mp, exclude_spans=["receive", "send"]), tp
    return app, tp


def _scope() -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/users/42", "raw_path": b"/users/42", "root_path": "", "query_string": b"a=1",
        "headers": list(HEADERS), "client": ("127.0.0.7", 5000), "server": ("127.0.0.1", 8000),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


@pytest.mark.parametrize("variant", ["baseline", "stock", "lean-contrib", "otelkit"])
@pytest.mark.benchmark(group="asgi: in-process x200")
def test_inprocess(benchmark: Any, variant: str) -> None:
    app, tp = _app(variant)
    loop = asyncio.new_event_loop()

    async def many() -> None:
        for _ in range(CALLS):
            await app(_scope(), _receive, _send)

    benchmark.extra_info["side"] = variant
    try:
        benchmark.pedantic(lambda: loop.run_until_complete(many()), rounds=15, iterations=1, warmup_rounds=2)
    finally:
        loop.close()
        tp.shutdown()


@pytest.mark.benchmark(group="asgi: in-process interleaved")
def test_inprocess_interleaved(benchmark: Any) -> None:
    """The four variants alternate round by round, so load drift on a shared box hits all alike.

    Reports per-request medians (µs) and overhead ratios against the no-middleware baseline.
    """
    variants = ("baseline", "stock", "lean-contrib", "otelkit")
    apps = {v: _app(v) for v in variants}
    loop = asyncio.new_event_loop()
    times: dict[str, list[float]] = {v: [] for v in variants}

    async def many(app: Any) -> None:
        for _ in range(CALLS):
            await app(_scope(), _receive, _send)

    def run() -> None:
        for r in range(INTERLEAVED_ROUNDS * 2):
            for v in variants[r % 4:] + variants[:r % 4]:
                t0 = time.perf_counter()
                loop.run_until_complete(many(apps[v][0]))
                times[v].append((time.perf_counter() - t0) / CALLS)

    try:
        loop.run_until_complete(many(apps["otelkit"][0]))  # warm-up
        benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        loop.close()
        for _, tp in apps.values():
            tp.shutdown()
    _report(benchmark, times)


def _report(benchmark: Any, times: dict[str, list[float]]) -> None:
    med = {v: statistics.median(t) * 1e6 for v, t in times.items()}
    benchmark.extra_info.update({f"{v}_us_per_request": round(m, 1) for v, m in med.items()})
    for other in ("stock", "lean-contrib"):
        if other in med and med[other] > med["baseline"]:
            benchmark.extra_info[f"otelkit_over_{other}_overhead"] = round(
                (med["otelkit"] - med["baseline"]) / (med[other] - med["baseline"]), 3)


@pytest.mark.benchmark(group="asgi: extract 20 headers")
def test_extract(benchmark: Any, side: str) -> None:
    getter = otelkit_getter if side == "otelkit" else asgi_getter
    benchmark.extra_info["side"] = side

    def run() -> None:
        propagate.extract({"type": "http", "headers": HEADERS}, getter=getter)

    benchmark(run)


def serve_forever(variant: str, port: int) -> None:
    """Entry point of the server subprocess (its own GIL, like a real deployment)."""
    app, _ = _app(variant)
    uvicorn.run(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")


@contextmanager
def _uvicorn(variant: str) -> Iterator[int]:
    port = free_port()
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join([os.path.dirname(here), here, os.environ.get("PYTHONPATH", "")])
    code = f"import bench_asgi; bench_asgi.serve_forever({variant!r}, {port})"
    with ManagedProcess([sys.executable, "-c", code], scrubbed_env({"PYTHONPATH": path}), f"uvicorn-{variant}") as proc:
        wait_for_port(port, 20, proc.proc)
        yield port


def _client(port: int) -> httpx.Client:
    headers = [(k.decode(), v.decode()) for k, v in HEADERS if k not in (b"host", b"connection")]
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers)


def _load(client: httpx.Client, n: int) -> None:
    for _ in range(n):
        client.get("/users/42").raise_for_status()


@pytest.mark.benchmark(group="asgi: uvicorn interleaved")
def test_uvicorn_interleaved(benchmark: Any) -> None:
    """All three servers up at once; rounds alternate sides so load drift hits them alike.

    Reports per-request medians (µs) per side and otelkit overhead / stock overhead.
    """
    variants = ("baseline", "stock", "otelkit")
    times: dict[str, list[float]] = {v: [] for v in variants}
    with ExitStack() as stack:
        clients = {v: stack.enter_context(_client(stack.enter_context(_uvicorn(v)))) for v in variants}
        for v in variants:
            _load(clients[v], 20)  # warm-up

        def run() -> None:
            for r in range(INTERLEAVED_ROUNDS):
                order = variants[r % 3:] + variants[:r % 3]
                for v in order:
                    t0 = time.perf_counter()
                    _load(clients[v], INTERLEAVED_REQUESTS)
                    times[v].append((time.perf_counter() - t0) / INTERLEAVED_REQUESTS)

        benchmark.pedantic(run, rounds=1, iterations=1)
    _report(benchmark, times)
