"""The end-to-end chain: every hop of a Python service carries one trace.

aiohttp client (``aiohttp_client_trace_config``) -> Starlette on a real uvicorn
(``ASGITracingMiddleware``) whose ``POST /orders`` produces to Kafka (``aiokafka_send``,
real Tansu broker) -> a consumer running in the app (``aiokafka_getmany``, then one
``process_span(context="parent")`` per record) broadcasts each record to the WebSocket
subscribers of ``/feed`` -> a ``websockets`` client receives it and extracts the sender's
context from the envelope (``recv_traced``). Checked on the exported spans.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from otelkit.middleware.aiohttp import aiohttp_client_trace_config
from otelkit.middleware.asgi import ASGITracingMiddleware
from otelkit.middleware.kafka import aiokafka_getmany, aiokafka_send, process_span
from otelkit.middleware.websocket import recv_traced
from otelkit.testing import Tansu

pytestmark = pytest.mark.peers

WAIT_S = 20.0
"""Bound on each wait (subscriber registered, message delivered, spans exported)."""


def orders_app(
    tansu: Tansu, topic: str, provider: trace.TracerProvider, errors: list[BaseException]
) -> tuple[Any, list[Any]]:
    """Starlette app: ``POST /orders`` produces, a background consumer broadcasts to ``/feed``.

    Returns the app and its live list of ``/feed`` subscribers.
    """
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    subscribers: list[WebSocket] = []
    state: dict[str, Any] = {}

    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        subscribers.append(websocket)
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            subscribers.remove(websocket)

    async def create_order(request: Request) -> JSONResponse:
        order = await request.json()
        meta = await aiokafka_send(state["producer"], topic, json.dumps(order).encode(), key=b"order",
                                   wait=True, tracer_provider=provider)
        return JSONResponse({"offset": meta.offset}, status_code=201)

    async def consume(consumer: Any) -> None:
        try:
            while True:
                batch = await aiokafka_getmany(consumer, timeout_ms=200, tracer_provider=provider)
                for record in (r for records in batch.values() for r in records):
                    with process_span(record, context="parent", consumer_group="g-" + topic,
                                      tracer_provider=provider):
                        for ws in list(subscribers):
                            await ws.send_text(record.value.decode())
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surfaced by the test instead of a silent timeout
            errors.append(exc)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=tansu.bootstrap, group_id="g-" + topic, auto_offset_reset="earliest",
            enable_auto_commit=False, session_timeout_ms=2000, heartbeat_interval_ms=500,
        )
        await producer.start()
        await consumer.start()
        state["producer"] = producer
        task = asyncio.create_task(consume(consumer))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await consumer.stop()
            await producer.stop()

    app = Starlette(routes=[Route("/orders", create_order, methods=["POST"]), WebSocketRoute("/feed", feed)],
                    lifespan=lifespan)
    return app, subscribers


async def order_and_listen(port: int, provider: trace.TracerProvider, subscribers: list[Any]) -> tuple[Any, Any]:
    """Subscribe to ``/feed``, POST an order, return what the subscriber receives."""
    import aiohttp
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/feed") as ws:
        deadline = time.monotonic() + WAIT_S
        while not subscribers and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert subscribers, "the subscriber never registered"
        config = aiohttp_client_trace_config(tracer_provider=provider)
        async with aiohttp.ClientSession(trace_configs=[config]) as session:
            async with session.post(f"http://127.0.0.1:{port}/orders", json={"order": 1}) as response:
                assert response.status == 201
        return await asyncio.wait_for(recv_traced(ws), WAIT_S)


def test_client_to_asgi_to_kafka_to_consumer_to_websocket_is_one_trace(
    tansu: Tansu, telemetry: Any, serve_asgi: Any
) -> None:
    topic = "chain-" + uuid.uuid4().hex[:10]
    tansu.create_topic(topic, partitions=1)
    provider = telemetry.tracer_provider
    errors: list[BaseException] = []
    app, subscribers = orders_app(tansu, topic, provider, errors)
    mw = ASGITracingMiddleware(app, tracer_provider=provider, meter_provider=telemetry.meter_provider, environ={},
                               websocket_message_spans=True, websocket_envelope=True)
    with serve_asgi(mw, lifespan="on") as port:
        payload, received_ctx = asyncio.run(order_and_listen(port, provider, subscribers))
        # client, server, send, poll, process, ws send, ws connection (ends at disconnect)
        telemetry.wait_for(7, timeout=WAIT_S)
    assert errors == []
    assert json.loads(payload) == {"order": 1}

    (client,) = [s for s in telemetry.spans() if s.kind is SpanKind.CLIENT and s.name == "POST"]
    server = telemetry.span("POST /orders")
    producer = telemetry.span(f"send {topic}")
    poll = telemetry.span(f"poll {topic}")
    process = telemetry.span(f"process {topic}")
    ws_send = telemetry.span("send /feed")
    connection = telemetry.span("WEBSOCKET /feed")

    assert [s.kind for s in (server, producer, process, ws_send)] == [
        SpanKind.SERVER, SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.PRODUCER]
    chain = [client, server, producer, process, ws_send]
    assert {s.context.trace_id for s in chain} == {client.context.trace_id}
    assert client.parent is None
    for parent, child in itertools.pairwise(chain):
        assert child.parent is not None and child.parent.span_id == parent.context.span_id, child.name
    # links: the process span to its producer, the WebSocket send to its connection span
    assert process.links[0].context.span_id == producer.context.span_id
    assert ws_send.links[0].context == connection.context
    # the batch fetch is its own short trace, linked to the producer (not part of the chain)
    assert poll.context.trace_id != client.context.trace_id
    assert [link.context.span_id for link in poll.links] == [producer.context.span_id]

    # the subscriber extracts the broadcast's context from the envelope: same trace
    assert isinstance(received_ctx, Context)
    sender = trace.get_current_span(received_ctx).get_span_context()
    assert sender.trace_id == client.context.trace_id and sender.span_id == ws_send.context.span_id
