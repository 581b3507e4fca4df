from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.semconv.attributes import (
    client_attributes,
    error_attributes,
    http_attributes,
    server_attributes,
    url_attributes,
    user_agent_attributes,
)
from opentelemetry.semconv.metrics import http_metrics
from opentelemetry.trace import SpanKind, StatusCode

from otelkit.middleware.aiohttp import aiohttp_client_trace_config, aiohttp_tracing_middleware
from otelkit.testing import free_port

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
TP = f"00-{TRACE_ID:032x}-b7ad6b7169203331-01"


class Boom(Exception):
    pass


async def user(request: web.Request) -> web.Response:
    return web.Response(text=request.match_info["user_id"])


async def fail(request: web.Request) -> web.Response:
    return web.Response(status=502)


async def gone(request: web.Request) -> web.Response:
    raise web.HTTPServiceUnavailable()


async def crash(request: web.Request) -> web.Response:
    raise Boom("handler broke")


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_app(middleware: Any) -> web.Application:
    app = web.Application(middlewares=[middleware])
    app.router.add_get("/users/{user_id}", user)
    app.router.add_get("/fail", fail)
    app.router.add_get("/gone", gone)
    app.router.add_get("/crash", crash)
    app.router.add_get("/health", health)
    return app


async def _serve_and(app: web.Application, body: Callable[[str], Awaitable[Any]]) -> Any:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        return await body(f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


def server_mw(telemetry: Any, **kw: Any) -> Any:
    kw.setdefault("environ", {})
    return aiohttp_tracing_middleware(tracer_provider=telemetry.tracer_provider,
                                      meter_provider=telemetry.meter_provider, **kw)


def get(telemetry: Any, path: str, headers: Any = None, **kw: Any) -> tuple[int, Any]:
    mw = server_mw(telemetry, **kw)

    async def body(base: str) -> int:
        async with aiohttp.ClientSession() as session, session.get(base + path, headers=headers) as r:
            return r.status

    return asyncio.run(_serve_and(build_app(mw), body)), mw


def test_server_span_named_by_method_and_route(telemetry: Any) -> None:
    status, _ = get(telemetry, "/users/7")
    span = telemetry.span("GET /users/{user_id}")
    assert status == 200 and span.kind is SpanKind.SERVER
    assert span.attributes[http_attributes.HTTP_ROUTE] == "/users/{user_id}"


def test_sampler_sees_route_at_span_start() -> None:
    """aiohttp resolves ``match_info`` before middlewares run: the head sampler keys on the route."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    seen: list[tuple[str, dict[str, Any]]] = []

    class Recording:
        def should_sample(self, ctx: Any, trace_id: int, name: str, kind: Any = None, attributes: Any = None,
                          links: Any = None) -> Any:
            seen.append((name, dict(attributes or {})))
            return ALWAYS_ON.should_sample(ctx, trace_id, name, kind, attributes, links)

        def get_description(self) -> str:
            return "Recording"

    mw = aiohttp_tracing_middleware(tracer_provider=TracerProvider(sampler=Recording()), environ={})

    async def body(base: str) -> int:
        async with aiohttp.ClientSession() as session, session.get(base + "/users/7") as r:
            return r.status

    assert asyncio.run(_serve_and(build_app(mw), body)) == 200
    ((name, attrs),) = seen
    assert name == "GET /users/{user_id}"
    assert attrs[http_attributes.HTTP_ROUTE] == "/users/{user_id}"
    assert attrs[http_attributes.HTTP_REQUEST_METHOD] == "GET"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (http_attributes.HTTP_REQUEST_METHOD, "GET"),
        (http_attributes.HTTP_RESPONSE_STATUS_CODE, 200),
        (url_attributes.URL_SCHEME, "http"),
        (url_attributes.URL_PATH, "/users/7"),
        (url_attributes.URL_QUERY, "q=1"),
        (server_attributes.SERVER_ADDRESS, "127.0.0.1"),
        (client_attributes.CLIENT_ADDRESS, "127.0.0.1"),
        ("network.protocol.version", "1.1"),
    ],
)
def test_server_span_attributes(telemetry: Any, key: str, value: Any) -> None:
    get(telemetry, "/users/7?q=1")
    assert telemetry.spans()[0].attributes[key] == value


def test_user_agent_is_recorded(telemetry: Any) -> None:
    get(telemetry, "/users/7", headers={"User-Agent": "ua/1"})
    assert telemetry.spans()[0].attributes[user_agent_attributes.USER_AGENT_ORIGINAL] == "ua/1"


def test_traceparent_header_is_the_parent(telemetry: Any) -> None:
    get(telemetry, "/users/7", headers={"traceparent": TP})
    assert telemetry.spans()[0].context.trace_id == TRACE_ID


@pytest.mark.parametrize("bad", ["00-garbage-01", "00-ÿþ-00", f"{TP},{TP}"])
def test_bad_traceparent_returns_200_and_new_trace(telemetry: Any, bad: str) -> None:
    status, _ = get(telemetry, "/users/7", headers={"traceparent": bad})
    span = telemetry.spans()[0]
    assert status == 200 and span.parent is None and span.context.trace_id != TRACE_ID


def test_duplicate_traceparent_headers_start_new_trace(telemetry: Any) -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    get(telemetry, "/users/7", headers=[("traceparent", TP), ("traceparent", other)])
    assert telemetry.spans()[0].parent is None


@pytest.mark.parametrize(("path", "status", "error_type"), [("/fail", 502, "502"), ("/gone", 503, "503")])
def test_5xx_responses_mark_error(telemetry: Any, path: str, status: int, error_type: str) -> None:
    got, _ = get(telemetry, path)
    span = telemetry.spans()[0]
    assert got == status and span.status.status_code is StatusCode.ERROR
    assert span.attributes[error_attributes.ERROR_TYPE] == error_type


def test_404_from_router_is_not_an_error(telemetry: Any) -> None:
    status, _ = get(telemetry, "/nope")
    span = telemetry.span("GET")
    assert status == 404 and span.status.status_code is StatusCode.UNSET


def test_handler_exception_is_recorded_and_500_returned(telemetry: Any) -> None:
    status, mw = get(telemetry, "/crash")
    span = telemetry.spans()[0]
    assert status == 500 and span.attributes[error_attributes.ERROR_TYPE] == "Boom"
    assert span.events[0].name == "exception" and mw.stats()["server_errors"] == 1


def test_excluded_path_makes_no_span(telemetry: Any) -> None:
    status, mw = get(telemetry, "/health", excluded_paths=["/health"])
    assert status == 200 and telemetry.spans() == [] and mw.stats()["excluded"] == 1


def test_excluded_path_exception_propagates_once(telemetry: Any) -> None:
    calls = []

    async def body(base: str) -> int:
        async with aiohttp.ClientSession() as session, session.get(base + "/crash") as r:
            return r.status

    async def counting_crash(request: web.Request) -> web.Response:
        calls.append(1)
        raise Boom("excluded handler broke")

    app = web.Application(middlewares=[server_mw(telemetry, excluded_paths=["/crash"])])
    app.router.add_get("/crash", counting_crash)
    assert asyncio.run(_serve_and(app, body)) == 500
    assert calls == [1] and telemetry.spans() == []


def test_aiohttp_regex_env_excludes(telemetry: Any) -> None:
    get(telemetry, "/health", environ={"OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS": "health"})
    assert telemetry.spans() == []


def test_duration_histogram_is_recorded(telemetry: Any) -> None:
    get(telemetry, "/users/1")
    metrics = telemetry.reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
    (metric,) = [m for m in metrics if m.name == http_metrics.HTTP_SERVER_REQUEST_DURATION]
    assert metric.data.data_points[0].attributes[http_attributes.HTTP_ROUTE] == "/users/{user_id}"


def test_telemetry_failure_never_breaks_the_request(telemetry: Any, caplog: pytest.LogCaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from otelkit.middleware import aiohttp as mod

    def boom(request: Any) -> Any:
        raise RuntimeError("attributes exploded")

    monkeypatch.setattr(mod, "_request_attributes", boom)
    with caplog.at_level(logging.WARNING, "otelkit"):
        status, mw = get(telemetry, "/users/1")
    assert status == 200 and mw.stats()["telemetry_failures"] == 1 and "attributes exploded" in caplog.text


# --- client ------------------------------------------------------------------------------------


def test_client_and_server_spans_share_one_trace(telemetry: Any) -> None:
    config = aiohttp_client_trace_config(tracer_provider=telemetry.tracer_provider)

    async def body(base: str) -> int:
        async with aiohttp.ClientSession(trace_configs=[config]) as session, session.get(base + "/users/3") as r:
            return r.status

    assert asyncio.run(_serve_and(build_app(server_mw(telemetry)), body)) == 200
    client = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT][0]
    server = telemetry.span("GET /users/{user_id}")
    assert client.name == "GET" and server.context.trace_id == client.context.trace_id
    assert server.parent.span_id == client.context.span_id
    assert client.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 200
    assert client.attributes[url_attributes.URL_FULL].endswith("/users/3")


def test_client_duration_histogram_is_recorded(telemetry: Any) -> None:
    config = aiohttp_client_trace_config(tracer_provider=telemetry.tracer_provider,
                                         meter_provider=telemetry.meter_provider)

    async def body(base: str) -> int:
        async with aiohttp.ClientSession(trace_configs=[config]) as session, session.get(base + "/fail") as r:
            return r.status

    asyncio.run(_serve_and(build_app(server_mw(telemetry)), body))
    scopes = telemetry.reader.get_metrics_data().resource_metrics[0].scope_metrics
    (metric,) = [m for sm in scopes for m in sm.metrics if m.name == http_metrics.HTTP_CLIENT_REQUEST_DURATION]
    point = metric.data.data_points[0]
    assert metric.unit == "s" and point.count == 1
    assert point.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 502
    assert point.attributes[error_attributes.ERROR_TYPE] == "502"


def test_client_span_marks_5xx_error(telemetry: Any) -> None:
    config = aiohttp_client_trace_config(tracer_provider=telemetry.tracer_provider)

    async def body(base: str) -> int:
        async with aiohttp.ClientSession(trace_configs=[config]) as session, session.get(base + "/fail") as r:
            return r.status

    asyncio.run(_serve_and(build_app(server_mw(telemetry)), body))
    client = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT][0]
    assert client.status.status_code is StatusCode.ERROR and client.attributes[error_attributes.ERROR_TYPE] == "502"


def test_client_connection_error_is_recorded(telemetry: Any) -> None:
    config = aiohttp_client_trace_config(tracer_provider=telemetry.tracer_provider)

    async def body() -> None:
        async with aiohttp.ClientSession(trace_configs=[config]) as session:
            await session.get(f"http://127.0.0.1:{free_port()}/")

    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(body())
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR and "Error" in span.attributes[error_attributes.ERROR_TYPE]


def test_client_credentials_are_not_recorded(telemetry: Any) -> None:
    config = aiohttp_client_trace_config(tracer_provider=telemetry.tracer_provider)

    async def body(base: str) -> None:
        async with aiohttp.ClientSession(trace_configs=[config]) as session:
            url = base.replace("http://", "http://user:secret@") + "/users/1"
            async with session.get(url) as r:
                await r.read()

    asyncio.run(_serve_and(build_app(server_mw(telemetry)), body))
    client = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT][0]
    assert "secret" not in client.attributes[url_attributes.URL_FULL]


def test_bad_baggage_bytes_keep_the_valid_parent_like_asgi(telemetry: Any) -> None:
    """aiohttp hands non-UTF-8 header bytes over as surrogate escapes; the SDK's baggage
    propagator raised on them and the valid traceparent was lost (a new trace started)."""
    import http.client

    async def body(base: str) -> int:
        def send() -> int:
            conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=5)
            conn.putrequest("GET", "/users/9")
            conn.putheader("traceparent", TP)
            conn.putheader("baggage", b"k=\xff\xfe,ok=1")
            conn.endheaders()
            status = conn.getresponse().status
            conn.close()
            return status

        return await asyncio.to_thread(send)

    mw = server_mw(telemetry)
    assert asyncio.run(_serve_and(build_app(mw), body)) == 200
    span = telemetry.span("GET /users/{user_id}")
    assert span.parent is not None and span.parent.trace_id == TRACE_ID
