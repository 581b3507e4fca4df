"""Room messages to Kafka (keyed by room, trace context in headers) and a consumer that stores them.

With ``OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP`` set, :class:`MessageBus` publishes with aiokafka
through otelkit's Kafka helpers (:mod:`otelkit.middleware.kafka`): ``aiokafka_send`` makes
the ``send {topic}`` PRODUCER span and puts its context in the record headers; an
in-process consumer task (session timeout 2000 ms, heartbeat 500 ms) fetches with
``aiokafka_getmany`` (one ``poll {topic}`` span per non-empty batch, linking the producers)
and handles each record inside ``process_span(record, context="parent")``, a
``process {topic}`` CONSUMER span that continues the message's trace, then writes it to
SQLite (:class:`MessageStore`). Without Kafka the same helpers run on an in-process record,
so the trace shape is the same (those spans carry ``liveroom.transport=in-process``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from opentelemetry import trace

from otelkit.middleware.kafka import aiokafka_getmany, aiokafka_send, process_span, producer_span

__all__ = ["MessageStore", "MessageBus", "TRANSPORT"]

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


class _LocalRecord(NamedTuple):
    """A record handed over in-process (no Kafka): the fields ``process_span`` reads."""

    topic: str
    key: bytes
    value: bytes
    headers: Any
    partition: int | None = None
    offset: int | None = None


TRANSPORT = "liveroom.transport"
"""Span attribute set to ``in-process`` on the messaging spans when Kafka is not configured."""


class MessageBus:
    """Publish room messages; persist them in a consumer that continues their traces.

    Args:
        tracer_provider: provider for the Kafka helpers' spans (``None``: no tracing).
        store: where consumed messages go.
        bootstrap: Kafka bootstrap servers; empty = in-process (no Kafka).
        topic: Kafka topic, keyed by room id.
        on_persisted: called with each stored message (room statistics).
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None,
        store: MessageStore,
        bootstrap: str,
        topic: str,
        on_persisted: Callable[[dict[str, Any]], None],
    ) -> None:
        self._provider = tracer_provider if tracer_provider is not None else trace.NoOpTracerProvider()
        self._store, self._bootstrap, self._topic = store, bootstrap, topic
        self._on_persisted = on_persisted
        self._group = f"liveroom-persist-{uuid.uuid4().hex[:8]}"
        self._producer: Any = None
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.consumed = 0
        self.polls = 0
        """Non-empty Kafka fetches: each makes a ``poll <topic>`` span in a trace of its own."""

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

    @property
    def transport(self) -> str:
        """``kafka`` once the producer is started, else ``in-process``."""
        return "in-process" if self._producer is None else "kafka"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, message: dict[str, Any]) -> None:
        """Send ``message`` keyed by its room in a ``send {topic}`` span whose context rides in the headers."""
        key = str(message["room"]).encode()
        value = json.dumps(message).encode()
        if self._producer is None:
            with producer_span(self._topic, key=key, tracer_provider=self._provider) as (span, headers):
                span.set_attribute(TRANSPORT, "in-process")
                record = _LocalRecord(self._topic, key, value, headers)
            self.published += 1
            asyncio.get_running_loop().call_soon(self._handle, record)
            return
        await aiokafka_send(self._producer, self._topic, value, key=key, tracer_provider=self._provider)
        self.published += 1

    async def _consume(self) -> None:
        while True:
            batch = await aiokafka_getmany(
                self._consumer, timeout_ms=500, consumer_group=self._group, tracer_provider=self._provider
            )
            self.polls += any(batch.values())
            for records in batch.values():
                for record in records:
                    self._handle(record)

    def _handle(self, record: Any) -> None:
        local = isinstance(record, _LocalRecord)
        group = None if local else self._group
        with process_span(record, context="parent", consumer_group=group, tracer_provider=self._provider) as span:
            if local:
                span.set_attribute(TRANSPORT, "in-process")
            try:
                message = json.loads(record.value)
            except ValueError:
                span.set_attribute("liveroom.bad_message", True)
                return
            trace_id = format(span.get_span_context().trace_id, "032x")
            self._store.add(message, trace_id)
            self.consumed += 1
            self._on_persisted(message)
