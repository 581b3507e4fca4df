"""Hostile propagation headers through real servers: requests succeed, logs stay quiet.

1,000 requests with malformed ``baggage``, ``tracestate`` and ``traceparent`` go through a
real uvicorn (ASGI middleware) and a real aiohttp server; every WARNING record logged in
the process meanwhile is counted. Before otelkit limited the SDK propagators' logging, the
same traffic logged tens of thousands of lines (100 per ``a,a,...`` baggage), some quoting
a 10 KB header.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiohttp import web

from otelkit import _warn
from otelkit.middleware.aiohttp import aiohttp_tracing_middleware
from otelkit.middleware.asgi import ASGITracingMiddleware
from otelkit.testing import free_port

REQUESTS = 1000
MAX_LINES = 10

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
THIRTY_THREE = ",".join(f"k{i}=v" for i in range(33))

HOSTILE: list[list[tuple[str, bytes]]] = [
    [("traceparent", TP.encode()), ("baggage", ("a," * 100).encode())],
    [("traceparent", TP.encode()), ("baggage", b"k=" + b"\xe9" * 5000)],  # Latin-1, 10 KB once UTF-8
    [("traceparent", TP.encode()), ("baggage", "k=é".encode() + b"\xff\xfe")],  # not UTF-8
    [("traceparent", TP.encode()), ("tracestate", THIRTY_THREE.encode())],
    [("traceparent", TP.encode()), ("tracestate", b"@bad=1,FOO=2")],
    [("traceparent", TP.encode()), ("tracestate", b"foo=1,foo=2"), ("baggage", b"=novalue,=,;;")],
    [("TraceParent", b"00-" + b"z" * 32 + b"-b7ad6b7169203331-01"), ("BAGGAGE", b"x" * 5000)],
]


@pytest.fixture(autouse=True)
def _one_interval() -> None:
    """All of the run falls in one warning interval, however long the loaded box takes."""
    _warn.configure({"OTELKIT_WARN_INTERVAL_S": "600"})


def _send_all(port: int) -> list[int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses = []
    try:
        for i in range(REQUESTS):
            conn.putrequest("GET", "/items/1")
            for name, value in HOSTILE[i % len(HOSTILE)]:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    return statuses


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def _asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_uvicorn_1000_hostile_requests_log_at_most_10_lines(
    telemetry: Any, serve_asgi: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    app = ASGITracingMiddleware(_asgi_app, tracer_provider=telemetry.tracer_provider,
                                meter_provider=telemetry.meter_provider, environ={})
    with serve_asgi(app) as port:
        statuses = _send_all(port)
    assert statuses == [200] * REQUESTS
    lines = _warnings(caplog)
    assert 1 <= len(lines) <= MAX_LINES, [r.getMessage()[:120] for r in lines]
    assert max(len(r.getMessage()) for r in lines) < 400  # short prefixes, never the 10 KB header
    spans = telemetry.wait_for(REQUESTS)
    assert sum(s.parent is not None and s.parent.trace_id == int(TP[3:35], 16) for s in spans) == \
        REQUESTS - REQUESTS // len(HOSTILE)  # every request with a valid traceparent continued it


@contextmanager
def _aiohttp_server(app: web.Application) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    port = free_port()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, name=f"aiohttp-{port}", daemon=True)
    thread.start()
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


async def _item(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def test_aiohttp_1000_hostile_requests_log_at_most_10_lines(telemetry: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    mw = aiohttp_tracing_middleware(tracer_provider=telemetry.tracer_provider,
                                    meter_provider=telemetry.meter_provider, environ={})
    app = web.Application(middlewares=[mw])
    app.router.add_get("/items/{id}", _item)
    with _aiohttp_server(app) as port:
        statuses = _send_all(port)
    assert statuses == [200] * REQUESTS
    lines = _warnings(caplog)
    assert 1 <= len(lines) <= MAX_LINES, [r.getMessage()[:120] for r in lines]
    assert max(len(r.getMessage()) for r in lines) < 400
    spans = telemetry.wait_for(REQUESTS)
    assert sum(s.parent is not None and s.parent.trace_id == int(TP[3:35], 16) for s in spans) == \
        REQUESTS - REQUESTS // len(HOSTILE)
