"""Tracing for servers built on the ``websockets`` library (asyncio API).

:func:`traced_handler` wraps a connection handler: one SERVER span per connection
(``WEBSOCKET {path}``, parented on the handshake's ``traceparent``), current while the
handler runs, ended with the close code; zero spans per message. :func:`send_traced` and
:func:`recv_traced` carry context inside messages with the envelope of
:mod:`otelkit.propagation.websocket` (works with any object that has ``send``/``recv``,
client or server side).

Example::

    from websockets.asyncio.server import serve
    from otelkit.middleware.websocket import recv_traced, send_traced, traced_handler

    async def echo(ws):
        payload, sender = await recv_traced(ws)          # sender: Context | None
        await send_traced(ws, payload)                    # current context travels along

    async with serve(traced_handler(echo), "127.0.0.1", 8765):
        ...
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextvars import Token
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.semconv.attributes import network_attributes
from opentelemetry.trace import SpanKind, Status, StatusCode

from otelkit import __version__
from otelkit.middleware import _http
from otelkit.middleware._asgi_websocket import CLOSE_CODE
from otelkit.propagation._common import header_text
from otelkit.propagation._context import extract_context
from otelkit.propagation.websocket import unwrap, websocket_headers_getter, wrap

__all__ = ["traced_handler", "send_traced", "recv_traced"]

C = TypeVar("C")
Handler = Callable[[C], Awaitable[None]]


def traced_handler(handler: Handler[C], *, tracer_provider: trace.TracerProvider | None = None) -> Handler[C]:
    """Wrap a ``websockets`` connection handler so each connection gets one SERVER span.

    Args:
        handler: ``async def handler(connection)``.
        tracer_provider: default the global one.

    Raises:
        ValueError: ``handler`` is not callable.
    """
    if not callable(handler):
        raise ValueError(f"handler {handler!r} is invalid: expected an async callable taking the connection")
    tracer = trace.get_tracer("otelkit.middleware.websocket", __version__, tracer_provider)

    @functools.wraps(handler)
    async def wrapper(connection: C) -> None:
        started = False
        try:
            span, token = _start(tracer, connection)
            started = True
        except Exception as exc:
            _http.telemetry_failed("websockets-start", exc)
        if not started:
            await handler(connection)
            return
        try:
            await handler(connection)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.set_attribute(_http.ERROR_TYPE, type(exc).__qualname__)
            raise
        finally:
            code = getattr(connection, "close_code", None)
            if isinstance(code, int):
                span.set_attribute(CLOSE_CODE, code)
            span.end()
            otel_context.detach(token)

    return wrapper


def _start(tracer: trace.Tracer, connection: Any) -> tuple[trace.Span, Token[Context]]:
    request = getattr(connection, "request", None)
    target = str(getattr(request, "path", "") or "/")
    path, _, query = target.partition("?")
    headers = getattr(request, "headers", None)
    parent = extract_context(request, websocket_headers_getter, "websockets") if request is not None else Context()
    attrs = _http.request_attributes(
        method="GET",
        scheme="ws",
        path=path,
        query=query,
        host=header_text(headers.get("host"), "host") if headers is not None else None,
        server=None,
        client=getattr(connection, "remote_address", None),
        user_agent=header_text(headers.get("user-agent"), "user-agent") if headers is not None else None,
        http_version="1.1",
    )
    attrs[network_attributes.NETWORK_PROTOCOL_NAME] = "websocket"
    span = tracer.start_span(f"WEBSOCKET {path}", context=parent, kind=SpanKind.SERVER, attributes=attrs)
    return span, otel_context.attach(trace.set_span_in_context(span, parent))


async def send_traced(ws: Any, payload: str | bytes, context: Context | None = None) -> None:
    """Send ``payload`` (JSON-object text or bytes) in the envelope with ``context`` (default: current)."""
    await ws.send(wrap(payload, context) if isinstance(payload, str) else wrap(bytes(payload), context))


async def recv_traced(ws: Any) -> tuple[Any, Context | None]:
    """Receive one message; return ``(payload without envelope, sender's context or None)``."""
    return unwrap(await ws.recv())
