"""The live-room service on Starlette: ``uvicorn --factory examples.liveroom.app:create_app``.

REST: ``POST /rooms`` ``{"name", "host"}``; ``POST /rooms/{id}/start|stop``;
``POST /rooms/{id}/join|leave`` ``{"user"}``; ``GET /rooms`` (online counts);
``GET /rooms/hot?limit=N``; ``GET /rooms/{id}/messages`` (persisted); ``GET /health``;
``GET /_otelkit/stats``; ``POST /_otelkit/flush``.

WebSocket ``/ws?room=ID&user=NAME``: the viewer joins the (live) room; every JSON text
message ``{"_otel": {"traceparent": ...}, "type": "danmu"|"gift", "text": ...}`` is broadcast to the
room and published to Kafka keyed by room (trace context in the headers); a consumer
continues the trace and stores the message. Trace: client -> message -> Kafka -> consumer.

Configured by environment variables only (``OTELKIT_EXAMPLE_TRACING``, ``OTEL_*``,
``OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP``, ``OTELKIT_EXAMPLE_KAFKA_TOPIC``, ``OTELKIT_EXAMPLE_DB``).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from examples import settings
from examples.liveroom.persistence import MessageBus, MessageStore
from examples.liveroom.propagation import extract_message_context
from examples.liveroom.rooms import Room, RoomRegistry
from examples.tracing import setup_tracing

__all__ = ["create_app"]

SERVICE_NAME = "example-liveroom"
MESSAGE_TYPES = ("danmu", "gift")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def create_app(environ: Mapping[str, str] | None = None) -> Any:
    """The traced live-room ASGI application (a uvicorn ``--factory``)."""
    env = os.environ if environ is None else environ
    tracing = setup_tracing(SERVICE_NAME, env)
    tracer = tracing.tracer("examples.liveroom")
    rooms = RoomRegistry()
    store = MessageStore(settings.OTELKIT_EXAMPLE_DB.get(env))

    def _persisted(message: dict[str, Any]) -> None:
        room = rooms.get(int(message.get("room", 0)))
        if room is not None:
            room.messages += 1
            room.gifts += message.get("type") == "gift"

    bus = MessageBus(
        tracing.provider,
        store,
        settings.OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP.get(env),
        settings.OTELKIT_EXAMPLE_KAFKA_TOPIC.get(env),
        _persisted,
    )

    def _room(request: Request) -> Room | None:
        return rooms.get(request.path_params["room_id"])

    async def create_room(request: Request) -> Response:
        body = await _body(request)
        name, host = body.get("name"), body.get("host")
        if not isinstance(name, str) or not isinstance(host, str):
            return _error(400, "fields 'name' and 'host' must be strings")
        return JSONResponse(rooms.create(name, host).public(), status_code=201)

    async def list_rooms(request: Request) -> Response:
        return JSONResponse({"rooms": [r.public() for r in rooms.all()], "online": rooms.online_total()})

    async def hot_rooms(request: Request) -> Response:
        try:
            limit = max(1, min(50, int(request.query_params.get("limit", "10"))))
        except ValueError:
            limit = 10
        return JSONResponse([r.public() for r in rooms.hot(limit)])

    async def room_action(request: Request) -> Response:
        room = _room(request)
        if room is None:
            return _error(404, "no such room")
        action = request.path_params["action"]
        if action not in ("start", "stop", "join", "leave"):
            return _error(404, "no such action; allowed: start, stop, join, leave")
        if action in ("start", "stop"):
            room.live = action == "start"
            if not room.live:
                room.viewers.clear()
            return JSONResponse(room.public())
        user = (await _body(request)).get("user")
        if not isinstance(user, str):
            return _error(400, "field 'user' must be a string")
        if action == "join":
            if not room.live:
                return _error(409, "room is not live")
            room.viewers.add(user)
        else:
            room.viewers.discard(user)
        return JSONResponse(room.public())

    async def room_messages(request: Request) -> Response:
        room = _room(request)
        if room is None:
            return _error(404, "no such room")
        return JSONResponse(store.for_room(room.id))

    async def websocket(ws: WebSocket) -> None:
        try:
            room = rooms.get(int(ws.query_params.get("room", "0")))
        except ValueError:
            room = None
        user = ws.query_params.get("user") or "anonymous"
        if room is None or not room.live:
            await ws.close(code=4404)
            return
        await ws.accept()
        room.viewers.add(user)
        room.sockets.add(ws)
        try:
            while True:
                text = await ws.receive_text()
                await _on_message(room, user, text)
        except WebSocketDisconnect:
            pass
        finally:
            room.sockets.discard(ws)
            room.viewers.discard(user)

    async def _on_message(room: Room, user: str, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
            return
        parent = extract_message_context(message)
        with tracer.start_as_current_span("room message", context=parent, kind=SpanKind.SERVER) as span:
            span.set_attribute("liveroom.room", room.id)
            span.set_attribute("liveroom.message.type", str(message["type"]))
            out = {"room": room.id, "user": user, "type": message["type"], "text": str(message.get("text", ""))[:500]}
            span.set_attribute("liveroom.delivered", await rooms.broadcast(room, out))
            await bus.publish(out)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def stats(request: Request) -> Response:
        data = tracing.stats()
        data.update(
            published=bus.published, consumed=bus.consumed, polls=bus.polls, transport=bus.transport,
            stored=store.count(), online=rooms.online_total(),
        )
        return Response(json.dumps(data, default=str), media_type="application/json")

    async def flush(request: Request) -> Response:
        return JSONResponse({"flushed": tracing.flush()})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        try:
            yield
        finally:
            await bus.stop()
            tracing.shutdown()

    routes = [
        Route("/health", health),
        Route("/rooms", create_room, methods=["POST"]),
        Route("/rooms", list_rooms, methods=["GET"]),
        Route("/rooms/hot", hot_rooms),
        Route("/rooms/{room_id:int}/messages", room_messages),
        Route("/rooms/{room_id:int}/{action:str}", room_action, methods=["POST"]),
        WebSocketRoute("/ws", websocket),
        Route("/_otelkit/stats", stats),
        Route("/_otelkit/flush", flush, methods=["POST"]),
    ]
    return tracing.wrap_asgi(Starlette(routes=routes, lifespan=lifespan))
