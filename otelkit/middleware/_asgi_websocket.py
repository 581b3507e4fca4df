"""The WebSocket half of :class:`otelkit.middleware.asgi.ASGITracingMiddleware`.

One SERVER span per connection, named ``WEBSOCKET {route}`` (the route template once the
app accepts, else the path; the HTTP semconv has no WebSocket span name, and ``WEBSOCKET``
plays the role of the method, keeping names low-cardinality). It carries the handshake's
HTTP attributes, ``network.protocol.name`` = ``websocket``, message counts and the close
code. By default there are ZERO spans per message (contrib makes two per message with a
fake status 200, contrib #505/#2343).

``websocket_message_spans=True`` adds one short span per message:

* ``receive {target}`` (CONSUMER) when a message arrives. Its parent is the sender's
  context when the message carries an envelope (with ``websocket_envelope=True``), else
  none (a new trace); it is always LINKED to the connection span.
* ``send {target}`` (PRODUCER) around each send. Its parent is the current span if that
  is not the connection span itself (e.g. a broadcast inside a Kafka consumer span), else
  none; it is always linked to the connection span.

``websocket_envelope=True`` strips the envelope from incoming messages before the app
sees them (the sender's context is left in the message dict under
:data:`MESSAGE_CONTEXT_KEY`) and wraps outgoing messages with the current context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.semconv._incubating.attributes.messaging_attributes import MESSAGING_MESSAGE_BODY_SIZE
from opentelemetry.semconv.attributes import network_attributes
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from otelkit.middleware import _http
from otelkit.propagation._common import header_text
from otelkit.propagation._context import extract_context
from otelkit.propagation.asgi import header_index, index_getter
from otelkit.propagation.websocket import unwrap, wrap

if TYPE_CHECKING:
    from otelkit.middleware.asgi import ASGITracingMiddleware, Message, Receive, Scope, Send

__all__ = ["trace_websocket", "MESSAGE_CONTEXT_KEY", "CLOSE_CODE", "MESSAGES_RECEIVED", "MESSAGES_SENT", "MESSAGE_TYPE"]

MESSAGE_CONTEXT_KEY = "otelkit.context"
"""Key of the sender's ``Context`` in an unwrapped ``websocket.receive`` message."""
CLOSE_CODE = "otelkit.websocket.close_code"
MESSAGES_RECEIVED = "otelkit.websocket.messages_received"
MESSAGES_SENT = "otelkit.websocket.messages_sent"
MESSAGE_TYPE = "otelkit.websocket.message_type"
"""``text`` or ``binary``."""


class _Connection:
    def __init__(self, mw: ASGITracingMiddleware, scope: Scope) -> None:
        self.mw = mw
        self.scope = scope
        index = header_index(scope)
        parent = extract_context(index, index_getter, "asgi-websocket")
        attrs = _http.request_attributes(
            method="GET",
            scheme=str(scope.get("scheme") or "ws"),
            path=str(scope.get("path") or ""),
            query=header_text(scope.get("query_string"), "query_string") or "",
            host=header_text(index.get("host"), "host"),
            server=scope.get("server"),
            client=scope.get("client"),
            user_agent=header_text(index.get("user-agent"), "user-agent"),
            http_version=scope.get("http_version"),
        )
        attrs[network_attributes.NETWORK_PROTOCOL_NAME] = "websocket"
        self.target = str(scope.get("path") or "/")
        self.span = mw.tracer.start_span(f"WEBSOCKET {self.target}", context=parent, kind=SpanKind.SERVER,
                                         attributes=attrs)
        self.links = [Link(self.span.get_span_context())]
        self.received = 0
        self.sent = 0
        mw.count("websocket_connections")

    def on_receive(self, message: Message) -> Message:
        self.received += 1
        if not (self.mw.websocket_envelope or self.mw.websocket_message_spans):
            return message
        key = "text" if message.get("text") is not None else "bytes"
        payload = message.get(key)
        sender: Context | None = None
        if self.mw.websocket_envelope and payload is not None:
            inner, sender = unwrap(payload)
            if sender is not None:
                message = dict(message)
                message[key] = inner
                message[MESSAGE_CONTEXT_KEY] = sender
                payload = inner
        if self.mw.websocket_message_spans:
            span = self._message_span("receive", SpanKind.CONSUMER, sender or Context(), key, payload)
            span.end()
        return message

    def on_send(self, message: Message) -> tuple[Message, trace.Span | None]:
        kind = message.get("type")
        if kind == "websocket.accept":
            self._accepted()
            return message, None
        if kind == "websocket.close":
            self.span.set_attribute(CLOSE_CODE, int(message.get("code") or 1000))
            return message, None
        if kind != "websocket.send":
            return message, None
        self.sent += 1
        if not (self.mw.websocket_envelope or self.mw.websocket_message_spans):
            return message, None
        key = "text" if message.get("text") is not None else "bytes"
        span: trace.Span | None = None
        ctx = otel_context.get_current()
        if self.mw.websocket_message_spans:
            parent = Context() if trace.get_current_span() is self.span else ctx
            span = self._message_span("send", SpanKind.PRODUCER, parent, key, message.get(key))
            ctx = trace.set_span_in_context(span, ctx)
        if self.mw.websocket_envelope and message.get(key) is not None:
            message = dict(message)
            message[key] = wrap(message[key], ctx)
        return message, span

    def _message_span(self, op: str, kind: SpanKind, parent: Context, key: str, payload: Any) -> trace.Span:
        attrs: dict[str, Any] = {MESSAGE_TYPE: "text" if key == "text" else "binary"}
        if payload is not None:
            attrs[MESSAGING_MESSAGE_BODY_SIZE] = len(payload)
        self.mw.count("websocket_message_spans")
        return self.mw.tracer.start_span(f"{op} {self.target}", context=parent, kind=kind, attributes=attrs,
                                         links=self.links)

    def _accepted(self) -> None:
        route = _http.route_of(self.scope)
        if route:
            self.target = route
            self.span.set_attribute(_http.ROUTE, route)
            self.span.update_name(f"WEBSOCKET {route}")

    def finish(self, exc: BaseException | None) -> None:
        self.span.set_attribute(MESSAGES_RECEIVED, self.received)
        self.span.set_attribute(MESSAGES_SENT, self.sent)
        self.mw.count("websocket_messages", self.received + self.sent)
        if exc is not None:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            self.span.set_attribute(_http.ERROR_TYPE, type(exc).__qualname__)
            self.mw.count("server_errors")


async def trace_websocket(mw: ASGITracingMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the app for one WebSocket connection inside a connection span; never raises its own errors."""
    if mw.excluded.active and mw.is_excluded(scope):
        mw.count("excluded")
        await mw.app(scope, receive, send)
        return
    started = False
    try:
        conn = _Connection(mw, scope)
        token = otel_context.attach(trace.set_span_in_context(conn.span))
        started = True
    except Exception as exc:
        mw.failed("websocket-start", exc)
    if not started:
        await mw.app(scope, receive, send)
        return

    async def traced_receive() -> Message:
        message = await receive()
        if message.get("type") == "websocket.receive":
            try:
                message = conn.on_receive(message)
            except Exception as exc:
                mw.failed("websocket-receive", exc)
        elif message.get("type") == "websocket.disconnect":
            try:
                conn.span.set_attribute(CLOSE_CODE, int(message.get("code") or 1005))
            except Exception as exc:
                mw.failed("websocket-receive", exc)
        return message

    async def traced_send(message: Message) -> None:
        span = None
        try:
            message, span = conn.on_send(message)
        except Exception as exc:
            mw.failed("websocket-send", exc)
        try:
            await send(message)
        finally:
            if span is not None:
                span.end()

    error: BaseException | None = None
    try:
        await mw.app(scope, traced_receive, traced_send)
    except Exception as exc:
        error = exc
        raise
    finally:
        try:
            conn.finish(error)
        except Exception as exc:
            mw.failed("websocket-finish", exc)
        conn.span.end()
        otel_context.detach(token)
