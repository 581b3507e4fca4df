"""aiohttp tracing: a server middleware and a client ``TraceConfig``.

:func:`aiohttp_tracing_middleware` gives one SERVER span per request with the same stable
HTTP attributes, ``http.route`` (``request.match_info.route.resource.canonical``), 5xx ->
ERROR handling and ``http.server.request.duration`` histogram as the ASGI middleware.
Responses raised as ``web.HTTPException`` count by their status; any other exception is
recorded and re-raised unchanged. :func:`aiohttp_client_trace_config` starts a CLIENT span
per outgoing request and injects its context into the request headers.

Example::

    from aiohttp import ClientSession, web
    from otelkit.middleware.aiohttp import aiohttp_client_trace_config, aiohttp_tracing_middleware

    app = web.Application(middlewares=[aiohttp_tracing_middleware(excluded_paths=["/health"])])
    session = ClientSession(trace_configs=[aiohttp_client_trace_config()])
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from timeit import default_timer
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.semconv.attributes import http_attributes, server_attributes, url_attributes
from opentelemetry.semconv.metrics import http_metrics
from opentelemetry.trace import SpanKind, Status, StatusCode

from otelkit import __version__
from otelkit.config import OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS
from otelkit.middleware import _http
from otelkit.propagation._context import extract_context, inject_context
from otelkit.propagation.aiohttp import aiohttp_headers_setter, aiohttp_request_getter

if TYPE_CHECKING:
    from aiohttp import TraceConfig, web

__all__ = ["aiohttp_tracing_middleware", "aiohttp_client_trace_config"]

_CLIENT_METRIC_KEYS = frozenset({
    _http.METHOD, _http.STATUS, _http.ERROR_TYPE, server_attributes.SERVER_ADDRESS, server_attributes.SERVER_PORT,
})

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


def aiohttp_tracing_middleware(
    *,
    excluded_paths: Iterable[str] | str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: Any = None,
    environ: Mapping[str, str] | None = None,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """A new-style aiohttp middleware tracing each request.

    Args:
        excluded_paths: paths not traced (exact, or prefixes ending in ``*``); default from
            ``OTELKIT_ASGI_EXCLUDED_PATHS``, else the regexes in
            ``OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS`` / ``OTEL_PYTHON_EXCLUDED_URLS``.
        tracer_provider: default the global one.
        meter_provider: default the global one (``http.server.request.duration``, seconds).
        environ: environment mapping (default ``os.environ``).

    Returns:
        The middleware; its ``stats`` attribute returns counters ``requests``,
        ``excluded``, ``server_errors`` and ``telemetry_failures``.
    """
    from aiohttp import web

    excluded = _http.ExcludedPaths(
        excluded_paths, regex_settings=(OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS,), environ=environ
    )
    instruments = _http.Instruments("otelkit.middleware.aiohttp", tracer_provider, meter_provider)
    lock = threading.Lock()
    counts = {"requests": 0, "excluded": 0, "server_errors": 0, "telemetry_failures": 0}

    def count(key: str) -> None:
        with lock:
            counts[key] += 1

    def stats() -> dict[str, Any]:
        with lock:
            return dict(counts)

    def failed(where: str, exc: BaseException) -> None:
        count("telemetry_failures")
        _http.telemetry_failed(where, exc)

    @web.middleware
    async def impl(request: web.Request, handler: Handler) -> web.StreamResponse:
        if excluded.active and _excluded(excluded, request.path):
            count("excluded")
            return await handler(request)
        started = False
        try:
            start = default_timer()
            attrs = _request_attributes(request)
            route = _route(request)
            method = attrs[_http.METHOD]
            name = "HTTP" if method == "_OTHER" else method
            if route:
                attrs[_http.ROUTE] = route
                name = f"{name} {route}"
            parent = extract_context(request, aiohttp_request_getter, "aiohttp")
            span = instruments.tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attrs)
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            count("requests")
            started = True
        except Exception as exc:
            failed("aiohttp-start", exc)
        if not started:  # outside the except block: the handler's errors must not chain onto ours
            return await handler(request)
        status: int | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # a response raised as an exception
            status = exc.status
            raise
        except Exception as exc:
            status = 500
            try:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                attrs[_http.ERROR_TYPE] = type(exc).__qualname__
                span.set_attribute(_http.ERROR_TYPE, attrs[_http.ERROR_TYPE])
            except Exception as inner:
                failed("aiohttp-exception", inner)
            raise
        finally:
            try:
                if status is not None:
                    _http.set_status(span, attrs, status)
                if _http.ERROR_TYPE in attrs:
                    count("server_errors")
                instruments.record(default_timer() - start, attrs)
            except Exception as exc:
                failed("aiohttp-finish", exc)
            span.end()
            otel_context.detach(token)

    impl.stats = stats  # type: ignore[attr-defined]
    return impl


def _excluded(excluded: _http.ExcludedPaths, path: str) -> bool:
    try:
        return excluded(path)
    except Exception as exc:  # pragma: no cover - ExcludedPaths only does str operations
        _http.telemetry_failed("excluded-paths", exc)
        return False


def _route(request: Any) -> str | None:
    try:
        resource = request.match_info.route.resource
        return str(resource.canonical) if resource is not None else None
    except Exception:
        return None


def _request_attributes(request: Any) -> dict[str, Any]:
    peer = None
    transport = request.transport
    if transport is not None:
        peer = transport.get_extra_info("peername")
    version = request.version
    return _http.request_attributes(
        method=request.method,
        scheme=request.scheme,
        path=request.path,
        query=request.query_string,
        host=request.headers.get("Host"),
        server=None,
        client=tuple(peer[:2]) if isinstance(peer, (tuple, list)) and len(peer) >= 2 else None,
        user_agent=request.headers.get("User-Agent"),
        http_version="2" if version.major == 2 else f"{version.major}.{version.minor}",
    )


def aiohttp_client_trace_config(
    *, tracer_provider: trace.TracerProvider | None = None, meter_provider: Any = None
) -> TraceConfig:
    """An ``aiohttp.TraceConfig`` giving each client request a CLIENT span and propagating it.

    The span is named by the method (semconv), carries ``http.request.method``,
    ``url.full`` (without credentials), ``server.address``/``server.port`` and
    ``http.response.status_code``; status >= 400 or a transport error marks it ERROR with
    ``error.type``. Its context is injected into the outgoing headers with the global
    propagator, and ``http.client.request.duration`` (seconds) is recorded. Failures in
    this code are logged (rate-limited), never raised.

    Args:
        tracer_provider: default the global one.
        meter_provider: default the global one.
    """
    import aiohttp

    tracer = trace.get_tracer("otelkit.middleware.aiohttp.client", __version__, tracer_provider)
    duration = metrics.get_meter("otelkit.middleware.aiohttp.client", __version__, meter_provider).create_histogram(
        http_metrics.HTTP_CLIENT_REQUEST_DURATION,
        unit="s",
        description="Duration of HTTP client requests.",
        explicit_bucket_boundaries_advisory=list(_http.DURATION_BUCKETS),
    )
    config = aiohttp.TraceConfig()

    def done(ctx: Any, span: trace.Span) -> None:
        attrs = {k: v for k, v in ctx.otelkit_attrs.items() if k in _CLIENT_METRIC_KEYS}
        duration.record(max(default_timer() - ctx.otelkit_start, 0.0), attrs)
        span.end()

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        try:
            method, original = _http.method_and_name(str(params.method))
            url = params.url
            attrs: dict[str, Any] = {_http.METHOD: method, url_attributes.URL_FULL: str(url.with_user(None))}
            if original is not None:
                attrs[http_attributes.HTTP_REQUEST_METHOD_ORIGINAL] = original
            if url.host:
                attrs[server_attributes.SERVER_ADDRESS] = url.host
            if url.port is not None:
                attrs[server_attributes.SERVER_PORT] = url.port
            span = tracer.start_span("HTTP" if method == "_OTHER" else method, kind=SpanKind.CLIENT,
                                     attributes=attrs)
            ctx.otelkit_span = span
            ctx.otelkit_attrs = attrs
            ctx.otelkit_start = default_timer()
            inject_context(params.headers, aiohttp_headers_setter, trace.set_span_in_context(span))
        except Exception as exc:
            _http.telemetry_failed("aiohttp-client-start", exc)

    async def on_end(session: Any, ctx: Any, params: Any) -> None:
        span = getattr(ctx, "otelkit_span", None)
        if span is None:
            return
        try:
            status = int(params.response.status)
            ctx.otelkit_attrs[_http.STATUS] = status
            span.set_attribute(_http.STATUS, status)
            if status >= 400:
                ctx.otelkit_attrs[_http.ERROR_TYPE] = str(status)
                span.set_attribute(_http.ERROR_TYPE, str(status))
                span.set_status(Status(StatusCode.ERROR))
            done(ctx, span)
        except Exception as exc:
            _http.telemetry_failed("aiohttp-client-end", exc)
            span.end()

    async def on_exception(session: Any, ctx: Any, params: Any) -> None:
        span = getattr(ctx, "otelkit_span", None)
        if span is None:
            return
        try:
            exc = params.exception
            span.record_exception(exc)
            ctx.otelkit_attrs[_http.ERROR_TYPE] = type(exc).__qualname__
            span.set_attribute(_http.ERROR_TYPE, type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            done(ctx, span)
        except Exception as inner:
            _http.telemetry_failed("aiohttp-client-exception", inner)
            span.end()

    config.on_request_start.append(on_start)
    config.on_request_end.append(on_end)
    config.on_request_exception.append(on_exception)
    return config
