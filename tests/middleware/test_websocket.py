from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.semconv.attributes import error_attributes, http_attributes
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedOK

from otelkit.middleware.asgi import (
    CLOSE_CODE,
    MESSAGE_CONTEXT_KEY,
    MESSAGES_RECEIVED,
    MESSAGES_SENT,
    ASGITracingMiddleware,
)
from otelkit.middleware.websocket import recv_traced, send_traced, traced_handler
from otelkit.propagation.websocket import unwrap, wrap
from otelkit.testing import free_port

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331
TP = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"
SENDER = trace.set_span_in_context(trace.NonRecordingSpan(
    trace.SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=trace.TraceFlags(1))))
contexts_seen: list[Any] = []


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        contexts_seen.append(message.get(MESSAGE_CONTEXT_KEY))
        if message.get("text") is not None:
            if message["text"] == "crash":
                raise RuntimeError("handler failed")
            await websocket.send_text(message["text"])
        else:
            await websocket.send_bytes(message["bytes"])


def app() -> Starlette:
    return Starlette(routes=[WebSocketRoute("/ws/{room}", echo)])


def middleware(telemetry: Any, **kw: Any) -> ASGITracingMiddleware:
    return ASGITracingMiddleware(app(), tracer_provider=telemetry.tracer_provider,
                                 meter_provider=telemetry.meter_provider, environ={}, **kw)


def run(mw: Any, incoming: list[dict[str, Any]], headers: list[Any] | None = None,
        path: str = "/ws/lobby") -> list[dict[str, Any]]:
    """Drive one in-process WebSocket connection: connect, ``incoming`` messages, disconnect."""
    contexts_seen.clear()
    events = [{"type": "websocket.connect"}, *incoming, {"type": "websocket.disconnect", "code": 1000}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "ws",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(b"host", b"example.test")] + (headers or []), "client": ("127.0.0.7", 1234),
             "server": ("127.0.0.1", 80), "subprotocols": []}
    asyncio.run(mw(scope, receive, send))
    return sent


def texts(n: int) -> list[dict[str, Any]]:
    return [{"type": "websocket.receive", "text": json.dumps({"i": i})} for i in range(n)]


# --- ASGI WebSocket, in process ---------------------------------------------------------------


def test_one_connection_span_and_zero_message_spans_by_default(telemetry: Any) -> None:
    run(middleware(telemetry), texts(5))
    (span,) = telemetry.spans()
    assert span.kind is SpanKind.SERVER and span.attributes[MESSAGES_RECEIVED] == 5
    assert span.attributes[MESSAGES_SENT] == 5


def test_connection_span_is_named_by_route_after_accept(telemetry: Any) -> None:
    run(middleware(telemetry), [])
    span = telemetry.span("WEBSOCKET /ws/{room}")
    assert span.attributes[http_attributes.HTTP_ROUTE] == "/ws/{room}"


def test_close_code_is_recorded(telemetry: Any) -> None:
    run(middleware(telemetry), [])
    assert telemetry.spans()[0].attributes[CLOSE_CODE] == 1000


def test_handshake_traceparent_is_the_connection_parent(telemetry: Any) -> None:
    run(middleware(telemetry), [], headers=[(b"traceparent", TP.encode())])
    assert telemetry.spans()[0].context.trace_id == TRACE_ID


def test_bad_handshake_header_starts_new_trace(telemetry: Any) -> None:
    run(middleware(telemetry), texts(1), headers=[(b"traceparent", b"\xff\xfe bad")])
    (span,) = telemetry.spans()
    assert span.parent is None and span.attributes[MESSAGES_RECEIVED] == 1


def test_opt_in_message_spans_are_linked_roots(telemetry: Any) -> None:
    mw = middleware(telemetry, websocket_message_spans=True)
    run(mw, texts(2))
    conn = telemetry.span("WEBSOCKET /ws/{room}")
    messages = [s for s in telemetry.spans() if s is not conn]
    assert sorted((s.name, s.kind) for s in messages) == [
        ("receive /ws/{room}", SpanKind.CONSUMER), ("receive /ws/{room}", SpanKind.CONSUMER),
        ("send /ws/{room}", SpanKind.PRODUCER), ("send /ws/{room}", SpanKind.PRODUCER)]
    assert all(s.parent is None and s.links[0].context == conn.context for s in messages)
    assert mw.stats()["websocket_message_spans"] == 4


def test_envelope_context_parents_the_receive_span(telemetry: Any) -> None:
    run(middleware(telemetry, websocket_message_spans=True, websocket_envelope=True),
        [{"type": "websocket.receive", "text": wrap('{"a":1}', SENDER)}])
    receive = telemetry.span("receive /ws/{room}")
    assert receive.parent.span_id == SPAN_ID and receive.context.trace_id == TRACE_ID
    assert receive.links[0].context == telemetry.span("WEBSOCKET /ws/{room}").context


def test_envelope_is_stripped_before_the_app_sees_the_message(telemetry: Any) -> None:
    sent = run(middleware(telemetry, websocket_envelope=True),
               [{"type": "websocket.receive", "bytes": wrap(b"\x00raw", SENDER)}])
    echoed = [m for m in sent if m["type"] == "websocket.send"][0]
    payload, ctx = unwrap(echoed["bytes"])
    assert payload == b"\x00raw" and ctx is not None
    assert trace.get_current_span(contexts_seen[0]).get_span_context().span_id == SPAN_ID


def test_envelope_on_send_carries_the_send_span(telemetry: Any) -> None:
    sent = run(middleware(telemetry, websocket_message_spans=True, websocket_envelope=True), texts(1))
    echoed = [m for m in sent if m["type"] == "websocket.send"][0]
    payload, ctx = unwrap(echoed["text"])
    assert payload == '{"i": 0}'
    assert trace.get_current_span(ctx).get_span_context().span_id == telemetry.span("send /ws/{room}").context.span_id


def test_plain_messages_pass_unchanged_with_envelope_enabled(telemetry: Any) -> None:
    sent = run(middleware(telemetry, websocket_envelope=True), [{"type": "websocket.receive", "text": "hi"}])
    assert [m["text"] for m in sent if m["type"] == "websocket.send"] == ["hi"]
    assert contexts_seen == [None]


def test_malformed_envelope_is_delivered_as_is(telemetry: Any) -> None:
    bad = b"OTW\x01\xff\xffshort"
    sent = run(middleware(telemetry, websocket_envelope=True, websocket_message_spans=True),
               [{"type": "websocket.receive", "bytes": bad}])
    assert unwrap([m for m in sent if m["type"] == "websocket.send"][0]["bytes"])[0] == bad
    assert telemetry.span("receive /ws/{room}").parent is None


def test_app_exception_marks_connection_span_and_is_reraised(telemetry: Any) -> None:
    with pytest.raises(RuntimeError, match="handler failed"):
        run(middleware(telemetry), [{"type": "websocket.receive", "text": "crash"}])
    span = telemetry.spans()[0]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[error_attributes.ERROR_TYPE] == "RuntimeError"


def test_excluded_websocket_path_makes_no_span(telemetry: Any) -> None:
    run(middleware(telemetry, excluded_paths=["/ws/*"]), texts(1))
    assert telemetry.spans() == []


def test_message_span_failure_never_breaks_the_message(telemetry: Any, caplog: pytest.LogCaptureFixture) -> None:
    mw = middleware(telemetry, websocket_message_spans=True)

    class Half:
        def __init__(self, real: Any) -> None:
            self.real = real

        def start_span(self, name: str, *a: Any, **k: Any) -> Any:
            if name.startswith(("receive", "send")):
                raise RuntimeError("tracer exploded")
            return self.real.start_span(name, *a, **k)

    mw.tracer = Half(mw.tracer)  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, "otelkit"):
        sent = run(mw, texts(2))
    assert len([m for m in sent if m["type"] == "websocket.send"]) == 2
    assert mw.stats()["telemetry_failures"] == 4 and len(telemetry.spans()) == 1


# --- real servers ----------------------------------------------------------------------------


async def _client_round_trip(url: str, **kw: Any) -> list[tuple[Any, Context | None]]:
    got = []
    async with connect(url, additional_headers={"traceparent": TP}, **kw) as ws:
        await send_traced(ws, '{"hello":"world"}', SENDER)
        got.append(await recv_traced(ws))
        await send_traced(ws, b"\x01\x02", SENDER)
        got.append(await recv_traced(ws))
    return got


def test_real_uvicorn_websocket_default_has_only_the_connection_span(telemetry: Any, serve_asgi: Any) -> None:
    with serve_asgi(middleware(telemetry)) as port:
        got = asyncio.run(_client_round_trip(f"ws://127.0.0.1:{port}/ws/lobby"))
        spans = telemetry.wait_for(1)
    assert [s.name for s in spans] == ["WEBSOCKET /ws/{room}"]
    assert spans[0].context.trace_id == TRACE_ID
    # without the envelope option the server echoes the envelope untouched: context still arrives
    assert got[0][0] == '{"hello":"world"}' and got[1][0] == b"\x01\x02"


def test_real_uvicorn_websocket_linked_message_spans_and_envelope(telemetry: Any, serve_asgi: Any) -> None:
    mw = middleware(telemetry, websocket_message_spans=True, websocket_envelope=True)
    with serve_asgi(mw) as port:
        got = asyncio.run(_client_round_trip(f"ws://127.0.0.1:{port}/ws/lobby"))
        spans = telemetry.wait_for(5)
    conn = telemetry.span("WEBSOCKET /ws/{room}")
    receives = [s for s in spans if s.name.startswith("receive")]
    sends = [s for s in spans if s.name.startswith("send")]
    assert len(receives) == 2 and len(sends) == 2
    assert all(r.parent.span_id == SPAN_ID and r.links[0].context == conn.context for r in receives)
    assert all(s.links[0].context == conn.context for s in sends)
    send_ids = {s.context.span_id for s in sends}
    assert {trace.get_current_span(ctx).get_span_context().span_id for _, ctx in got if ctx} == send_ids
    assert got[0][0] == '{"hello":"world"}' and got[1][0] == b"\x01\x02"


def test_real_websockets_server_with_traced_handler(telemetry: Any) -> None:
    async def handler(ws: Any) -> None:
        try:
            while True:
                payload, sender = await recv_traced(ws)
                contexts_seen.append(sender)
                await send_traced(ws, payload)
        except ConnectionClosedOK:
            return

    async def main() -> list[tuple[Any, Context | None]]:
        port = free_port()
        async with serve(traced_handler(handler, tracer_provider=telemetry.tracer_provider), "127.0.0.1", port):
            return await _client_round_trip(f"ws://127.0.0.1:{port}/chat?x=1")

    contexts_seen.clear()
    got = asyncio.run(main())
    (span,) = telemetry.wait_for(1)
    assert span.name == "WEBSOCKET /chat" and span.context.trace_id == TRACE_ID and span.parent.span_id == SPAN_ID
    assert all(trace.get_current_span(c).get_span_context().span_id == SPAN_ID for c in contexts_seen)
    # the handler's sends carry the connection span's context back to the client
    assert all(trace.get_current_span(ctx).get_span_context().span_id == span.context.span_id for _, ctx in got)
    assert span.attributes[CLOSE_CODE] == 1000


def test_traced_handler_rejects_non_callable() -> None:
    with pytest.raises(ValueError, match="expected an async callable"):
        traced_handler(None)  # type: ignore[arg-type]


def test_chain_aiohttp_client_to_asgi_to_websocket_broadcast_is_one_trace(telemetry: Any, serve_asgi: Any) -> None:
    import aiohttp
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from otelkit.middleware.aiohttp import aiohttp_client_trace_config

    hub: list[WebSocket] = []

    async def subscribe(websocket: WebSocket) -> None:
        await websocket.accept()
        hub.append(websocket)
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            hub.remove(websocket)

    async def publish(request: Request) -> PlainTextResponse:
        for ws in list(hub):
            await ws.send_text('{"event":"published"}')
        return PlainTextResponse("sent")

    chain = Starlette(routes=[WebSocketRoute("/subscribe", subscribe), Route("/publish", publish, methods=["POST"])])
    mw = ASGITracingMiddleware(chain, tracer_provider=telemetry.tracer_provider, environ={},
                               websocket_message_spans=True, websocket_envelope=True)
    config = aiohttp_client_trace_config(tracer_provider=telemetry.tracer_provider)

    async def main(port: int) -> tuple[Any, Context | None]:
        async with connect(f"ws://127.0.0.1:{port}/subscribe") as ws:
            deadline = asyncio.get_running_loop().time() + 5
            while not hub and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            async with aiohttp.ClientSession(trace_configs=[config]) as session:
                async with session.post(f"http://127.0.0.1:{port}/publish") as r:
                    assert r.status == 200
            return await recv_traced(ws)

    with serve_asgi(mw) as port:
        payload, ctx = asyncio.run(main(port))
        spans = telemetry.wait_for(4)
    client = [s for s in spans if s.kind is SpanKind.CLIENT][0]
    server = telemetry.span("POST /publish")
    send = telemetry.span("send /subscribe")
    assert payload == '{"event":"published"}'
    assert server.parent.span_id == client.context.span_id
    assert send.parent.span_id == server.context.span_id  # the broadcast runs inside the request
    assert trace.get_current_span(ctx).get_span_context().span_id == send.context.span_id
    assert {client.context.trace_id, server.context.trace_id, send.context.trace_id} == {client.context.trace_id}
    assert send.links[0].context == telemetry.span("WEBSOCKET /subscribe").context
