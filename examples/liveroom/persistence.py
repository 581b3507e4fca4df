"""Room messages to Kafka (keyed by room, trace context in headers) and a consumer that stores them.

With ``OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP`` set, :class:`MessageBus` publishes with aiokafka
and an in-process consumer task (session timeout 2000 ms, heartbeat 500 ms) continues each
message's trace in a ``process`` span and writes it to SQLite (:class:`MessageStore`).
Without Kafka the same handler runs in-process, so the trace shape is the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
)
from opentelemetry.trace import SpanKind

from examples.liveroom.propagation import extract_kafka_context, inject_kafka_headers

__all__ = ["MessageStore", "MessageBus"]

_logger = logging.getLogger("examples.liveroom")


class MessageStore:
    """Persisted room messages in SQLite (``:memory:`` by default)."""

    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, room INTEGER, user TEXT, "
            "kind TEXT, text TEXT, trace_id TEXT, ts REAL)"
        )

    def add(self, message: dict[str, Any], trace_id: str) -> None:
        self._db.execute(
            "INSERT INTO messages (room, user, kind, text, trace_id, ts) VALUES (?, ?, ?, ?, ?, ?)",
            (message.get("room"), message.get("user"), message.get("type"), message.get("text"), trace_id, time.time()),
        )
        self._db.commit()

    def for_room(self, room: int, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT user, kind, text, trace_id, ts FROM messages WHERE room = ? ORDER BY id DESC LIMIT ?",
            (room, limit),
        ).fetchall()
        return [{"user": u, "type": k, "text": t, "trace_id": tid, "ts": ts} for u, k, t, tid, ts in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


class MessageBus:
    """Publish room messages; persist them in a consumer that continues their traces.

    Args:
        tracer: tracer for the producer and consumer spans.
        store: where consumed messages go.
        bootstrap: Kafka bootstrap servers; empty = in-process (no Kafka).
        topic: Kafka topic, keyed by room id.
        on_persisted: called with each stored message (room statistics).
    """

    def __init__(
        self,
        tracer: trace.Tracer,
        store: MessageStore,
        bootstrap: str,
        topic: str,
        on_persisted: Callable[[dict[str, Any]], None],
    ) -> None:
        self._tracer, self._store, self._bootstrap, self._topic = tracer, store, bootstrap, topic
        self._on_persisted = on_persisted
        self._group = f"liveroom-persist-{uuid.uuid4().hex[:8]}"
        self._producer: Any = None
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.consumed = 0

    async def start(self) -> None:
        if not self._bootstrap:
            return
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self._topic, num_partitions=3, replication_factor=1)])
        except Exception:  # noqa: BLE001 - it exists already
            _logger.debug("create_topics(%s) failed", self._topic, exc_info=True)
        finally:
            await admin.close()
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, linger_ms=5)
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            auto_offset_reset="earliest",
            session_timeout_ms=2000,
            heartbeat_interval_ms=500,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._consume(), name="liveroom-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, message: dict[str, Any]) -> None:
        """Send ``message`` keyed by its room, inside a PRODUCER span whose context rides in the headers."""
        key = str(message["room"])
        with self._tracer.start_as_current_span(f"send {self._topic}", kind=SpanKind.PRODUCER) as span:
            span.set_attribute(MESSAGING_SYSTEM, "kafka")
            span.set_attribute(MESSAGING_DESTINATION_NAME, self._topic)
            span.set_attribute(MESSAGING_OPERATION_TYPE, "send")
            span.set_attribute(MESSAGING_KAFKA_MESSAGE_KEY, key)
            headers: list[tuple[str, bytes]] = []
            inject_kafka_headers(headers)
            value = json.dumps(message).encode()
            if self._producer is None:
                self.published += 1
                asyncio.get_running_loop().call_soon(self._handle, value, headers, None, None)
                return
            await self._producer.send(self._topic, value, key=key.encode(), headers=headers)
            self.published += 1

    async def _consume(self) -> None:
        async for record in self._consumer:
            self._handle(record.value, record.headers, record.partition, record.offset)

    def _handle(self, value: bytes, headers: Any, partition: int | None, offset: int | None) -> None:
        parent = extract_kafka_context(headers)
        with self._tracer.start_as_current_span(f"process {self._topic}", context=parent, kind=SpanKind.CONSUMER) as span:
            span.set_attribute(MESSAGING_SYSTEM, "kafka" if self._producer is not None else "in-process")
            span.set_attribute(MESSAGING_DESTINATION_NAME, self._topic)
            span.set_attribute(MESSAGING_OPERATION_TYPE, "process")
            if partition is not None:
                span.set_attribute(MESSAGING_DESTINATION_PARTITION_ID, str(partition))
                span.set_attribute(MESSAGING_KAFKA_OFFSET, int(offset or 0))
                span.set_attribute(MESSAGING_CONSUMER_GROUP_NAME, self._group)
            try:
                message = json.loads(value)
            except ValueError:
                span.set_attribute("liveroom.bad_message", True)
                return
            trace_id = format(span.get_span_context().trace_id, "032x")
            self._store.add(message, trace_id)
            self.consumed += 1
            self._on_persisted(message)
