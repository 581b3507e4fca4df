"""The live-room example on real uvicorn + websockets clients + Tansu: rooms, broadcast,
Kafka persistence, and one trace from the client's message to the Kafka consumer."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from otelkit.demo.servers import LIVEROOM_APP, ExampleServer, start_example
from otelkit.receiver import OtlpReceiver
from otelkit.testing import Tansu

pytestmark = pytest.mark.peers

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as rx:
        yield rx


@pytest.fixture(scope="module")
def liveroom(tansu: Tansu, receiver: OtlpReceiver) -> Iterator[ExampleServer]:
    env = {
        "OTELKIT_EXAMPLE_TRACING": "otelkit",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint,
        "OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP": tansu.bootstrap,
        "OTELKIT_EXAMPLE_KAFKA_TOPIC": f"liveroom-{uuid.uuid4().hex[:8]}",
    }
    server = start_example(LIVEROOM_APP, env, name="test-liveroom")
    try:
        yield server
    finally:
        server.stop()


def _live_room(base: str, name: str) -> int:
    status, room = _call(base, "POST", "/rooms", {"name": name, "host": "h"})
    assert status == 201 and room["live"] is False
    assert _call(base, "POST", f"/rooms/{room['id']}/start")[1]["live"] is True
    return int(room["id"])


def _ws(base: str, room: int, user: str) -> str:
    return base.replace("http://", "ws://") + f"/ws?room={room}&user={user}"


def test_room_lifecycle_and_online_counts(liveroom: ExampleServer) -> None:
    base = liveroom.base_url
    status, room = _call(base, "POST", "/rooms", {"name": "quiet", "host": "h"})
    assert _call(base, "POST", f"/rooms/{room['id']}/join", {"user": "a"})[0] == 409  # not live yet
    busy = _live_room(base, "busy")
    _call(base, "POST", f"/rooms/{room['id']}/start")
    for user in ("a", "b", "c"):
        assert _call(base, "POST", f"/rooms/{busy}/join", {"user": user})[0] == 200
    _call(base, "POST", f"/rooms/{room['id']}/join", {"user": "a"})
    assert _call(base, "POST", f"/rooms/{busy}/leave", {"user": "c"})[1]["online"] == 2
    hot = _call(base, "GET", "/rooms/hot?limit=1")[1]
    assert [r["id"] for r in hot] == [busy]
    listed = {r["id"]: r["online"] for r in _call(base, "GET", "/rooms")[1]["rooms"]}
    assert (listed[busy], listed[room["id"]]) == (2, 1)
    stopped = _call(base, "POST", f"/rooms/{busy}/stop")[1]
    assert (stopped["live"], stopped["online"]) == (False, 0)
    assert busy not in [r["id"] for r in _call(base, "GET", "/rooms/hot")[1]]
    assert _call(base, "POST", f"/rooms/{busy}/dance")[0] == 404


def test_websocket_to_a_room_that_is_not_live_is_refused(liveroom: ExampleServer) -> None:
    _, room = _call(liveroom.base_url, "POST", "/rooms", {"name": "off", "host": "h"})

    async def main() -> None:
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(_ws(liveroom.base_url, room["id"], "x"), open_timeout=5):
                pass

    asyncio.run(main())


def test_broadcast_reaches_everyone_in_the_room_only(liveroom: ExampleServer) -> None:
    base = liveroom.base_url
    room, other = _live_room(base, "r1"), _live_room(base, "r2")

    async def main() -> tuple[list[Any], Any]:
        async with (
            websockets.connect(_ws(base, room, "alice")) as alice,
            websockets.connect(_ws(base, room, "bob")) as bob,
            websockets.connect(_ws(base, other, "carol")) as carol,
        ):
            await alice.send(json.dumps({"type": "gift", "text": "rocket"}))
            got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for ws in (alice, bob)]
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(carol.recv(), 0.3)
            online = _call(base, "GET", "/rooms")[1]
            return got, online

    got, online = asyncio.run(main())
    expected = {"room": room, "user": "alice", "type": "gift", "text": "rocket"}
    assert got == [expected, expected]
    assert {r["id"]: r["online"] for r in online["rooms"]}[room] == 2


def _wait_messages(base: str, room: int, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        messages = _call(base, "GET", f"/rooms/{room}/messages")[1]
        if len(messages) >= count or time.monotonic() > deadline:
            return list(messages)
        time.sleep(0.05)


def test_message_goes_through_kafka_and_is_one_trace(liveroom: ExampleServer, receiver: OtlpReceiver) -> None:
    base = liveroom.base_url
    room = _live_room(base, "traced")

    async def main() -> None:
        async with websockets.connect(_ws(base, room, "dan")) as ws:
            envelope = {"_otel": {"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"}, "type": "danmu", "text": "hello"}
            await ws.send(json.dumps(envelope))
            await asyncio.wait_for(ws.recv(), 5)

    asyncio.run(main())
    messages = _wait_messages(base, room, 1)
    assert [(m["user"], m["text"], m["trace_id"]) for m in messages] == [("dan", "hello", TRACE_ID)]
    stats = _call(base, "GET", "/_otelkit/stats")[1]
    assert stats["consumed"] >= 1 and stats["published"] >= stats["consumed"]
    assert _call(base, "POST", "/_otelkit/flush")[0] == 200
    spans = {s.span.name: s.span for s in receiver.spans() if s.span.trace_id.hex() == TRACE_ID}
    topic = next(n for n in spans if n.startswith("send ")).removeprefix("send ")
    assert sorted(spans) == ["process " + topic, "room message", "send " + topic]
    assert spans["room message"].parent_span_id.hex() == CLIENT_SPAN
    assert spans["send " + topic].parent_span_id == spans["room message"].span_id
    assert spans["process " + topic].parent_span_id == spans["send " + topic].span_id
    consumer = {kv.key: kv.value for kv in spans["process " + topic].attributes}
    assert consumer["messaging.system"].string_value == "kafka"
    assert consumer["messaging.destination.name"].string_value == topic
    # made by otelkit's Kafka helpers (aiokafka_send, aiokafka_getmany, process_span), not by hand
    received = {s.span.name: s for s in receiver.spans() if s.span.trace_id.hex() == TRACE_ID}
    assert {received[n].scope_name for n in ("send " + topic, "process " + topic)} == {"otelkit.middleware.kafka"}
    assert consumer["messaging.operation.name"].string_value == "process"
    assert consumer["messaging.kafka.message.key"].string_value == str(room)
    assert "messaging.kafka.offset" in consumer and "messaging.consumer.group.name" in consumer
    send_id = spans["send " + topic].span_id
    assert [link.span_id for link in spans["process " + topic].links] == [send_id]
    polls = [s.span for s in receiver.spans() if s.span.name == "poll " + topic]
    assert any(link.span_id == send_id for p in polls for link in p.links)  # the batch span links the producer


def test_without_kafka_messages_persist_in_process(receiver: OtlpReceiver) -> None:
    server = start_example(LIVEROOM_APP, {"OTELKIT_EXAMPLE_TRACING": "off"}, name="test-liveroom-local")
    try:
        room = _live_room(server.base_url, "local")

        async def main() -> None:
            async with websockets.connect(_ws(server.base_url, room, "eve")) as ws:
                await ws.send(json.dumps({"type": "danmu", "text": "hi"}))
                await ws.send("not json")
                await ws.send(json.dumps({"type": "spam"}))
                await asyncio.wait_for(ws.recv(), 5)

        asyncio.run(main())
        messages = _wait_messages(server.base_url, room, 1)
    finally:
        server.stop()
    assert [(m["user"], m["type"], m["text"]) for m in messages] == [("eve", "danmu", "hi")]


def test_without_kafka_the_trace_has_the_same_shape(receiver: OtlpReceiver) -> None:
    env = {"OTELKIT_EXAMPLE_TRACING": "otelkit", "OTEL_TRACES_EXPORTER": "otlp",
           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint}
    server = start_example(LIVEROOM_APP, env, name="test-liveroom-local-traced")
    trace_id = "1af7651916cd43dd8448eb211c80319d"
    try:
        room = _live_room(server.base_url, "local-traced")

        async def main() -> None:
            async with websockets.connect(_ws(server.base_url, room, "fay")) as ws:
                envelope = {"_otel": {"traceparent": f"00-{trace_id}-{CLIENT_SPAN}-01"}, "type": "gift", "text": "x"}
                await ws.send(json.dumps(envelope))
                await asyncio.wait_for(ws.recv(), 5)

        asyncio.run(main())
        assert [m["trace_id"] for m in _wait_messages(server.base_url, room, 1)] == [trace_id]
        assert _call(server.base_url, "POST", "/_otelkit/flush")[0] == 200
    finally:
        server.stop()
    spans = {s.span.name: s.span for s in receiver.spans() if s.span.trace_id.hex() == trace_id}
    topic = next(n for n in spans if n.startswith("send ")).removeprefix("send ")
    assert sorted(spans) == ["process " + topic, "room message", "send " + topic]
    assert spans["process " + topic].parent_span_id == spans["send " + topic].span_id
    for name in ("send " + topic, "process " + topic):
        attrs = {kv.key: kv.value.string_value for kv in spans[name].attributes}
        assert attrs["liveroom.transport"] == "in-process"
