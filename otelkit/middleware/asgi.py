"""ASGI tracing middleware: one SERVER span per HTTP request or WebSocket connection.

Compared with contrib's ``OpenTelemetryMiddleware``: the request headers are indexed once
(O(headers)) and never crash on non-UTF-8 bytes; there are no per-``send``/``receive``
child spans; WebSocket connections get one span and zero spans per message unless asked
(see :mod:`otelkit.middleware._asgi_websocket`); a failure in telemetry code is logged
(rate-limited) and the request proceeds untraced; the application's own exception is
recorded and re-raised unchanged. ``lifespan`` and unknown scope types pass straight through.

Example::

    from starlette.applications import Starlette
    from otelkit.middleware.asgi import ASGITracingMiddleware

    app = ASGITracingMiddleware(Starlette(routes=...), excluded_paths=["/health"])
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from contextvars import Token
from timeit import default_timer
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from otelkit.config import OTEL_PYTHON_ASGI_EXCLUDED_URLS
from otelkit.middleware import _http
from otelkit.middleware._asgi_websocket import (
    CLOSE_CODE,
    MESSAGE_CONTEXT_KEY,
    MESSAGE_TYPE,
    MESSAGES_RECEIVED,
    MESSAGES_SENT,
    trace_websocket,
)
from otelkit.middleware._http import route_of
from otelkit.middleware._routes import RouteResolver
from otelkit.propagation._common import header_text
from otelkit.propagation._context import extract_context
from otelkit.propagation.asgi import header_index, index_getter

__all__ = [
    "ASGITracingMiddleware",
    "route_of",
    "CLOSE_CODE",
    "MESSAGE_CONTEXT_KEY",
    "MESSAGE_TYPE",
    "MESSAGES_RECEIVED",
    "MESSAGES_SENT",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGITracingMiddleware:
    """Trace every HTTP request and WebSocket connection of an ASGI app.

    Args:
        app: the ASGI application to wrap.
        excluded_paths: paths not traced (exact, or prefixes ending in ``*``); default from
            ``OTELKIT_ASGI_EXCLUDED_PATHS``, else the contrib regexes in
            ``OTEL_PYTHON_ASGI_EXCLUDED_URLS`` / ``OTEL_PYTHON_EXCLUDED_URLS``.
        tracer_provider: default the global one.
        meter_provider: default the global one; receives ``http.server.request.duration`` (s).
        websocket_message_spans: one CONSUMER/PRODUCER span per WebSocket message, linked
            to the connection span (default False: zero spans per message).
        websocket_envelope: unwrap incoming and wrap outgoing WebSocket messages with the
            :mod:`otelkit.propagation.websocket` envelope (default False).
        environ: environment mapping for the settings (default ``os.environ``).

    Raises:
        ValueError: ``app`` is not callable or an excluded path is not a string.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        excluded_paths: Iterable[str] | str | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: Any = None,
        websocket_message_spans: bool = False,
        websocket_envelope: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not callable(app):
            raise ValueError(f"app {app!r} is invalid: expected an ASGI application (a callable)")
        self.app = app
        self.excluded = _http.ExcludedPaths(
            excluded_paths, regex_settings=(OTEL_PYTHON_ASGI_EXCLUDED_URLS,), environ=environ
        )
        self.instruments = _http.Instruments("otelkit.middleware.asgi", tracer_provider, meter_provider)
        self.tracer = self.instruments.tracer
        self.routes = RouteResolver(app)
        self.websocket_message_spans = bool(websocket_message_spans)
        self.websocket_envelope = bool(websocket_envelope)
        self._lock = threading.Lock()
        self._stats = {
            "requests": 0, "excluded": 0, "server_errors": 0, "telemetry_failures": 0,
            "websocket_connections": 0, "websocket_messages": 0, "websocket_message_spans": 0,
        }

    def stats(self) -> dict[str, Any]:
        """Counters: requests, excluded, server_errors (5xx or exception), telemetry_failures,
        websocket_connections, websocket_messages, websocket_message_spans."""
        with self._lock:
            return dict(self._stats)

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to counter ``key`` (used by the WebSocket half too)."""
        with self._lock:
            self._stats[key] += n

    def failed(self, where: str, exc: BaseException) -> None:
        """Count and log (rate-limited) a failure of otelkit's own code."""
        self.count("telemetry_failures")
        _http.telemetry_failed(where, exc)

    def is_excluded(self, scope: Scope) -> bool:
        """True when the scope's path is excluded; never raises."""
        try:
            return self.excluded(str(scope.get("path") or ""))
        except Exception as exc:  # pragma: no cover - ExcludedPaths only does str operations
            self.failed("excluded-paths", exc)
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await trace_websocket(self, scope, receive, send)
        else:  # lifespan and anything we do not know: untouched
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.excluded.active and self.is_excluded(scope):
            self.count("excluded")
            await self.app(scope, receive, send)
            return
        started = False
        try:
            start = default_timer()
            span, attrs, token = self._start(scope)
            started = True
        except Exception as exc:
            self.failed("asgi-start", exc)
        if not started:  # outside the except block: the app's errors must not chain onto ours
            await self.app(scope, receive, send)
            return

        async def traced_send(message: Message) -> None:
            if message.get("type") == "http.response.start":
                try:
                    if _http.ROUTE not in attrs:  # not known before routing; routing is done by now
                        self._name_by_route(scope, span, attrs)
                    _http.set_status(span, attrs, int(message.get("status") or 0))
                except Exception as exc:
                    self.failed("asgi-status", exc)
            await send(message)

        try:
            await self.app(scope, receive, traced_send)
        except Exception as exc:
            try:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                attrs[_http.ERROR_TYPE] = type(exc).__qualname__
                span.set_attribute(_http.ERROR_TYPE, attrs[_http.ERROR_TYPE])
            except Exception as inner:
                self.failed("asgi-exception", inner)
            raise
        finally:
            self._finish(scope, span, attrs, token, start)

    def _start(self, scope: Scope) -> tuple[trace.Span, dict[str, Any], Token[Context]]:
        index = header_index(scope)
        parent = extract_context(index, index_getter, "asgi")
        query = scope.get("query_string")
        attrs = _http.request_attributes(
            method=str(scope.get("method") or ""),
            scheme=str(scope.get("scheme") or "http"),
            path=str(scope.get("path") or ""),
            query=header_text(query, "query_string") or "" if query else "",
            host=header_text(index.get("host"), "host"),
            server=scope.get("server"),
            client=scope.get("client"),
            user_agent=header_text(index.get("user-agent"), "user-agent"),
            http_version=scope.get("http_version"),
        )
        method = attrs[_http.METHOD]
        name = "HTTP" if method == "_OTHER" else method
        route = self.routes(scope)  # before the span starts, so the head sampler can key on it
        if route:
            attrs[_http.ROUTE] = route
            name = f"{name} {route}"
        span = self.tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attrs)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        self.count("requests")
        return span, attrs, token

    @staticmethod
    def _name_by_route(scope: Scope, span: trace.Span, attrs: dict[str, Any]) -> None:
        route = route_of(scope)
        if route:
            attrs[_http.ROUTE] = route
            span.set_attribute(_http.ROUTE, route)
            method = attrs[_http.METHOD]
            span.update_name(f"{'HTTP' if method == '_OTHER' else method} {route}")

    def _finish(
        self, scope: Scope, span: trace.Span, attrs: dict[str, Any], token: Token[Context], start: float
    ) -> None:
        try:
            if _http.ROUTE not in attrs:  # no response was started (the app raised first)
                self._name_by_route(scope, span, attrs)
            if _http.ERROR_TYPE in attrs:
                self.count("server_errors")
            self.instruments.record(default_timer() - start, attrs)
        except Exception as exc:
            self.failed("asgi-finish", exc)
        finally:
            span.end()
            otel_context.detach(token)
