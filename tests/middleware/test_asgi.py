from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.semconv.attributes import (
    client_attributes,
    error_attributes,
    http_attributes,
    network_attributes,
    server_attributes,
    url_attributes,
    user_agent_attributes,
)
from opentelemetry.semconv.metrics import http_metrics
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from otelkit.middleware.asgi import ASGITracingMiddleware

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
TP = f"00-{TRACE_ID:032x}-b7ad6b7169203331-01"


class Boom(Exception):
    pass


async def user(request: Request) -> Response:
    return PlainTextResponse(f"user {request.path_params}")


async def fail(request: Request) -> Response:
    return PlainTextResponse("no", status_code=503)


async def missing(request: Request) -> Response:
    return PlainTextResponse("no", status_code=404)


async def crash(request: Request) -> Response:
    raise Boom("broken handler")


async def current(request: Request) -> Response:
    return PlainTextResponse(f"{trace.get_current_span().get_span_context().trace_id:032x}")


def starlette_app() -> Starlette:
    return Starlette(routes=[
        Route("/users/{user_id}", user),
        Route("/fail", fail),
        Route("/missing", missing),
        Route("/crash", crash),
        Route("/current", current),
        Route("/health", missing),
        Mount("/api", routes=[Route("/items/{item_id:int}", user)]),
    ])


def scope(path: str = "/users/42", *, method: str = "GET", headers: list[Any] | None = None,
          query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query,
        "headers": [(b"host", b"example.test:8080"), (b"user-agent", b"pytest/1")] + (headers or []),
        "client": ("127.0.0.8", 5555), "server": ("127.0.0.1", 8080),
    }


def call(app: Any, s: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(s, receive, send))
    return sent


def middleware(telemetry: Any, app: Any = None, **kw: Any) -> ASGITracingMiddleware:
    kw.setdefault("environ", {})
    return ASGITracingMiddleware(app or starlette_app(), tracer_provider=telemetry.tracer_provider,
                                 meter_provider=telemetry.meter_provider, **kw)


# --- spans ---------------------------------------------------------------------------------


def test_one_server_span_per_request(telemetry: Any) -> None:
    call(middleware(telemetry), scope())
    (span,) = telemetry.spans()
    assert span.kind is SpanKind.SERVER


def test_span_name_and_route_come_from_starlette_route(telemetry: Any) -> None:
    call(middleware(telemetry), scope("/users/42"))
    span = telemetry.span("GET /users/{user_id}")
    assert span.attributes[http_attributes.HTTP_ROUTE] == "/users/{user_id}"


def test_mounted_route_includes_mount_prefix(telemetry: Any) -> None:
    call(middleware(telemetry), scope("/api/items/7"))
    assert telemetry.span("GET /api/items/{item_id}")


def test_path_params_rebuild_route_when_no_route_object(telemetry: Any) -> None:
    async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
        s["path_params"] = {"order": "abc"}
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    call(middleware(telemetry, app), scope("/orders/abc/lines"))
    assert telemetry.span("GET /orders/{order}/lines")


def test_unrouted_request_is_named_by_method_only(telemetry: Any) -> None:
    call(middleware(telemetry), scope("/nowhere"))
    span = telemetry.span("GET")
    assert http_attributes.HTTP_ROUTE not in span.attributes


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (http_attributes.HTTP_REQUEST_METHOD, "GET"),
        (url_attributes.URL_SCHEME, "http"),
        (url_attributes.URL_PATH, "/users/42"),
        (url_attributes.URL_QUERY, "a=1"),
        (server_attributes.SERVER_ADDRESS, "example.test"),
        (server_attributes.SERVER_PORT, 8080),
        (client_attributes.CLIENT_ADDRESS, "127.0.0.8"),
        (network_attributes.NETWORK_PEER_PORT, 5555),
        (user_agent_attributes.USER_AGENT_ORIGINAL, "pytest/1"),
        (network_attributes.NETWORK_PROTOCOL_VERSION, "1.1"),
        (http_attributes.HTTP_RESPONSE_STATUS_CODE, 200),
    ],
)
def test_stable_http_semconv_attributes(telemetry: Any, key: str, value: Any) -> None:
    call(middleware(telemetry), scope(query=b"a=1"))
    assert telemetry.spans()[0].attributes[key] == value


def test_unknown_method_is_other_with_original(telemetry: Any) -> None:
    call(middleware(telemetry), scope("/nowhere", method="BREW"))
    span = telemetry.span("HTTP")
    assert span.attributes[http_attributes.HTTP_REQUEST_METHOD] == "_OTHER"
    assert span.attributes[http_attributes.HTTP_REQUEST_METHOD_ORIGINAL] == "BREW"


def test_5xx_marks_span_error_with_error_type(telemetry: Any) -> None:
    call(middleware(telemetry), scope("/fail"))
    span = telemetry.span("GET /fail")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[error_attributes.ERROR_TYPE] == "503"


def test_4xx_leaves_server_span_status_unset(telemetry: Any) -> None:
    call(middleware(telemetry), scope("/missing"))
    assert telemetry.span("GET /missing").status.status_code is StatusCode.UNSET


def test_app_exception_is_recorded_and_reraised_unchanged(telemetry: Any) -> None:
    mw = middleware(telemetry)
    with pytest.raises(Boom, match="broken handler"):
        call(mw, scope("/crash"))
    span = telemetry.span("GET /crash")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[error_attributes.ERROR_TYPE] == "Boom"
    assert span.events[0].name == "exception"
    assert mw.stats()["server_errors"] == 1


def test_span_is_current_inside_the_app(telemetry: Any) -> None:
    sent = call(middleware(telemetry), scope("/current"))
    assert int(sent[1]["body"], 16) == telemetry.spans()[0].context.trace_id


# --- propagation -------------------------------------------------------------------------


def test_traceparent_becomes_the_parent(telemetry: Any) -> None:
    call(middleware(telemetry), scope(headers=[(b"traceparent", TP.encode())]))
    span = telemetry.spans()[0]
    assert span.context.trace_id == TRACE_ID and span.parent.is_remote


@pytest.mark.parametrize(
    "headers",
    [
        [(b"traceparent", b"00-not-a-traceparent-01")],
        [(b"traceparent", b"00-\xff\xfe\xfd-01")],
        [(b"traceparent", TP.encode()), (b"traceparent", f"00-{'1' * 32}-{'2' * 16}-01".encode())],
        [("traceparent", "garbage-as-str")],
        [(b"traceparent", b"x" * 10000)],
        [(b"baggage", b",".join([b"k=v"] * 3000))],
    ],
    ids=["malformed", "non-utf8", "duplicate", "str", "oversized", "oversized-baggage"],
)
def test_bad_headers_start_new_trace_and_request_succeeds(telemetry: Any, headers: list[Any]) -> None:
    sent = call(middleware(telemetry), scope(headers=headers))
    span = telemetry.spans()[0]
    assert sent[0]["status"] == 200
    assert span.parent is None and span.context.trace_id != TRACE_ID


def test_bad_header_warning_is_logged_once(telemetry: Any, caplog: pytest.LogCaptureFixture) -> None:
    mw = middleware(telemetry)
    with caplog.at_level(logging.WARNING, "otelkit"):
        for _ in range(3):
            call(mw, scope(headers=[(b"traceparent", b"nope")]))
    assert caplog.text.count("malformed traceparent") == 1


_header_bytes = st.binary(max_size=40)
_header_item = st.one_of(
    st.tuples(st.sampled_from([b"traceparent", b"tracestate", b"baggage", b"host", b"user-agent", b"x"]),
              st.one_of(_header_bytes, st.text(max_size=40))),
    st.tuples(st.one_of(_header_bytes, st.text(max_size=10)), _header_bytes),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=st.lists(_header_item, max_size=12))
def test_random_request_headers_never_break_the_request(telemetry: Any, headers: list[Any]) -> None:
    telemetry.exporter.clear()
    sent = call(middleware(telemetry), scope(headers=headers))
    assert sent[0]["status"] == 200 and len(telemetry.spans()) == 1


# --- pass-through and exclusion -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["lifespan", "custom-protocol"])
def test_other_scope_types_pass_through_untouched(telemetry: Any, kind: str) -> None:
    seen: list[Any] = []

    async def app(s: Any, receive: Any, send: Any) -> None:
        seen.append((s, receive, send))

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        return None

    s = {"type": kind}
    asyncio.run(middleware(telemetry, app)(s, receive, send))
    assert seen == [(s, receive, send)] and telemetry.spans() == []


@pytest.mark.parametrize(
    ("kw", "path"),
    [
        ({"excluded_paths": ["/health"]}, "/health"),
        ({"excluded_paths": "/health, /internal/*"}, "/internal/x"),
        ({"environ": {"OTELKIT_ASGI_EXCLUDED_PATHS": "/health"}}, "/health"),
        ({"environ": {"OTEL_PYTHON_ASGI_EXCLUDED_URLS": "heal.h,metrics"}}, "/health"),
        ({"environ": {"OTEL_PYTHON_EXCLUDED_URLS": "^/heal"}}, "/health"),
    ],
)
def test_excluded_paths_make_no_span(telemetry: Any, kw: dict[str, Any], path: str) -> None:
    mw = middleware(telemetry, **kw)
    sent = call(mw, scope(path))
    assert sent[0]["status"] == 404 and telemetry.spans() == [] and mw.stats()["excluded"] == 1


def test_excluded_path_app_exception_is_reraised_and_app_called_once(telemetry: Any) -> None:
    calls = []

    async def app(s: Any, receive: Any, send: Any) -> None:
        calls.append(1)
        raise Boom("excluded app broke")

    with pytest.raises(Boom):
        call(middleware(telemetry, app, excluded_paths=["/health"]), scope("/health"))
    assert calls == [1] and telemetry.spans() == []


def test_explicit_excluded_paths_win_over_env(telemetry: Any) -> None:
    mw = middleware(telemetry, excluded_paths=["/other"], environ={"OTELKIT_ASGI_EXCLUDED_PATHS": "/health"})
    call(mw, scope("/health"))
    assert len(telemetry.spans()) == 1


def test_excluded_prefix_does_not_match_other_paths(telemetry: Any) -> None:
    call(middleware(telemetry, excluded_paths=["/internal/*"]), scope("/users/1"))
    assert len(telemetry.spans()) == 1


def test_invalid_regex_env_warns_and_traces_everything(telemetry: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit"):
        mw = middleware(telemetry, environ={"OTEL_PYTHON_EXCLUDED_URLS": "(unclosed"})
    call(mw, scope("/health"))
    assert "not a list of valid regexes" in caplog.text and len(telemetry.spans()) == 1


@pytest.mark.parametrize("raw", ["/a,(?i)/b", "(?P<x>a),(?P<x>b)"])
def test_regexes_that_do_not_combine_warn_and_trace_everything(
    telemetry: Any, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    # each compiles alone; joined they raised re.error out of the middleware's constructor
    with caplog.at_level(logging.WARNING, "otelkit"):
        mw = middleware(telemetry, environ={"OTEL_PYTHON_EXCLUDED_URLS": raw})
    call(mw, scope("/b"))
    assert "do not combine" in caplog.text and len(telemetry.spans()) == 1


def test_invalid_regex_env_warning_quotes_a_prefix_only(telemetry: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "otelkit"):
        middleware(telemetry, environ={"OTEL_PYTHON_EXCLUDED_URLS": "(unclosed" + "x" * 500})
    assert "not a list of valid regexes" in caplog.text and "x" * 100 not in caplog.text


def test_leading_inline_flag_applies_to_the_list_as_in_contrib(telemetry: Any) -> None:
    call(middleware(telemetry, environ={"OTEL_PYTHON_EXCLUDED_URLS": "(?i)^/health,^/metrics"}), scope("/HEALTH"))
    assert len(telemetry.spans()) == 0


@pytest.mark.parametrize(("kw", "message"), [({"app": None}, "expected an ASGI application"),
                                            ({"excluded_paths": [3]}, "expected a str")])
def test_bad_constructor_arguments_raise_value_error(kw: dict[str, Any], message: str) -> None:
    args = {"app": starlette_app(), **kw}
    with pytest.raises(ValueError, match=message):
        ASGITracingMiddleware(args.pop("app"), **args)


# --- metrics and robustness ------------------------------------------------------------------


def test_duration_histogram_has_route_status_and_seconds(telemetry: Any) -> None:
    call(middleware(telemetry), scope("/users/1"))
    metrics = telemetry.reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
    (metric,) = [m for m in metrics if m.name == http_metrics.HTTP_SERVER_REQUEST_DURATION]
    point = metric.data.data_points[0]
    assert metric.unit == "s" and point.count == 1
    assert point.attributes[http_attributes.HTTP_ROUTE] == "/users/{user_id}"
    assert point.attributes[http_attributes.HTTP_RESPONSE_STATUS_CODE] == 200
    assert url_attributes.URL_PATH not in point.attributes


class _BrokenTracer:
    def start_span(self, *a: Any, **k: Any) -> Any:
        raise RuntimeError("tracer exploded")


def test_telemetry_failure_never_breaks_the_request(telemetry: Any, caplog: pytest.LogCaptureFixture) -> None:
    mw = middleware(telemetry)
    mw.tracer = _BrokenTracer()  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, "otelkit"):
        sent = call(mw, scope("/users/1"))
    assert sent[0]["status"] == 200 and mw.stats()["telemetry_failures"] == 1
    assert "tracer exploded" in caplog.text


def test_failure_while_recording_status_still_sends_the_response(telemetry: Any) -> None:
    async def app(s: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": "not-a-number", "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = middleware(telemetry, app)
    sent = call(mw, scope())
    assert sent[1]["body"] == b"ok" and mw.stats()["telemetry_failures"] == 1 and len(telemetry.spans()) == 1


def test_stats_count_requests(telemetry: Any) -> None:
    mw = middleware(telemetry, excluded_paths=["/health"])
    for path in ("/users/1", "/fail", "/health"):
        call(mw, scope(path))
    stats = mw.stats()
    assert (stats["requests"], stats["excluded"], stats["server_errors"]) == (2, 1, 1)


# --- real server -----------------------------------------------------------------------------


def test_real_uvicorn_continues_the_callers_trace(telemetry: Any, serve_asgi: Any) -> None:
    with serve_asgi(middleware(telemetry)) as port:
        r = httpx.get(f"http://127.0.0.1:{port}/users/42", headers={"traceparent": TP})
    assert r.status_code == 200
    (span,) = telemetry.wait_for(1)
    assert span.name == "GET /users/{user_id}" and span.context.trace_id == TRACE_ID
    assert span.attributes[server_attributes.SERVER_PORT] == port


def test_real_uvicorn_bad_headers_return_200_and_new_trace(telemetry: Any, serve_asgi: Any) -> None:
    bad = [("traceparent", b"00-\xff\xfe-zz-01"), ("tracestate", b"\xff=\xfe"),
           ("traceparent", TP.encode()), ("baggage", b"k=" + b"v" * 9000)]
    with serve_asgi(middleware(telemetry)) as port, httpx.Client() as client:
        r = client.get(f"http://127.0.0.1:{port}/users/1", headers=bad)
    assert r.status_code == 200
    (span,) = telemetry.wait_for(1)
    assert span.parent is None and span.context.trace_id != TRACE_ID


def test_real_uvicorn_server_error_and_crash(telemetry: Any, serve_asgi: Any) -> None:
    with serve_asgi(middleware(telemetry)) as port, httpx.Client() as client:
        assert client.get(f"http://127.0.0.1:{port}/fail").status_code == 503
        assert client.get(f"http://127.0.0.1:{port}/crash").status_code == 500
    spans = {s.name: s for s in telemetry.wait_for(2)}
    assert spans["GET /fail"].status.status_code is StatusCode.ERROR
    assert spans["GET /crash"].attributes[error_attributes.ERROR_TYPE] == "Boom"


# --- the route is known before the span starts (head sampler keys on it) -------------------


class RecordingSampler:
    """Samples everything and records the name and attributes ``should_sample`` saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                      attributes: Any = None, links: Any = None) -> Any:
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        self.seen.append((name, dict(attributes or {})))
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links)

    def get_description(self) -> str:
        return "RecordingSampler"


def sampled_middleware(app: Any = None) -> tuple[ASGITracingMiddleware, RecordingSampler]:
    from opentelemetry.sdk.trace import TracerProvider

    sampler = RecordingSampler()
    return ASGITracingMiddleware(app or starlette_app(), tracer_provider=TracerProvider(sampler=sampler),
                                 environ={}), sampler


@pytest.mark.parametrize(
    ("method", "path", "name", "route"),
    [
        ("GET", "/users/42", "GET /users/{user_id}", "/users/{user_id}"),
        ("POST", "/fail", "POST /fail", "/fail"),  # matched with a method Starlette rejects: 405
        ("GET", "/api/items/7", "GET /api/items/{item_id}", "/api/items/{item_id}"),  # through a Mount
        ("GET", "/nowhere", "GET", None),
    ],
)
def test_sampler_sees_route_and_method_at_span_start(method: str, path: str, name: str, route: str | None) -> None:
    mw, sampler = sampled_middleware()
    call(mw, scope(path, method=method))
    ((seen_name, attrs),) = sampler.seen
    assert seen_name == name
    assert attrs.get(http_attributes.HTTP_ROUTE) == route
    assert attrs[http_attributes.HTTP_REQUEST_METHOD] == method


def test_route_found_through_starlette_scope_app_when_inside_its_middleware_stack() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from starlette.middleware import Middleware

    sampler = RecordingSampler()
    app = Starlette(routes=[Route("/users/{user_id}", user)], middleware=[
        Middleware(ASGITracingMiddleware, tracer_provider=TracerProvider(sampler=sampler), environ={}),
    ])
    call(app, scope("/users/5"))
    assert sampler.seen[0][0] == "GET /users/{user_id}"


def test_pre_resolved_route_matches_the_post_routing_name(telemetry: Any) -> None:
    mw, sampler = sampled_middleware()
    call(mw, scope("/users/42"))
    call(middleware(telemetry), scope("/users/42"))
    assert sampler.seen[0][0] == telemetry.spans()[0].name


def test_adaptive_sampler_keys_example_api_traffic_by_route() -> None:
    """With the route known at start, each API route is its own fairness key (not just GET/POST)."""
    from opentelemetry.sdk.trace import TracerProvider

    from otelkit.sampling.adaptive import AdaptiveSampler

    sampler = AdaptiveSampler(target=1000, environ={})
    app = Starlette(routes=[Route("/users", user), Route("/users/{user_id:int}", user),
                            Route("/products/{item_id:int}", user), Route("/payment", user, methods=["POST"])])
    mw = ASGITracingMiddleware(app, tracer_provider=TracerProvider(sampler=sampler), environ={})
    for path, method in [("/users", "GET"), ("/users/1", "GET"), ("/users/2", "GET"), ("/products/3", "GET"),
                         ("/payment", "POST")]:
        call(mw, scope(path, method=method))
    keys = set(sampler.stats()["probability_by_key"])
    assert len(keys) == 4, keys
