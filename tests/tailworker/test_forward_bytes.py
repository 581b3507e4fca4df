"""On a real Tansu broker: a kept trace leaves the worker under the resource and scope bytes
it arrived with. A request with a kvlist, bytes and a mixed array in its resource (what
otelkit's attribute model cannot hold) goes through a real :class:`TailWorker` and real
``otelkit_kafka`` exporter to a second topic; the message read there is compared byte for
byte, as sliced from the wire."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from otelkit.exporter.kafka import KafkaSpanExporter
from otelkit.tailworker import TailWorker
from otelkit.testing import Tansu

KAFKA_TEST = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


def test_a_kept_trace_is_forwarded_under_its_resource_and_scope_bytes(tansu: Tansu, otlp: Any) -> None:
    from confluent_kafka import Consumer, Producer

    topic = "twfwd-" + uuid.uuid4().hex[:8]
    out = topic + "-out"
    tansu.create_topic(topic, partitions=1)
    tansu.create_topic(out, partitions=1)
    value = otlp.rich_request(otlp.span(7, 70, name="root", error=True), otlp.span(7, 71, 70, name="child"))
    producer = Producer({"bootstrap.servers": tansu.bootstrap})  # as a Collector's kafka exporter writes
    producer.produce(topic, value, key=(7).to_bytes(16, "big").hex().encode())
    assert producer.flush(10) == 0
    del producer  # librdkafka's client closes when it is collected
    exporter = KafkaSpanExporter(bootstrap_servers=tansu.bootstrap, topic=out, environ={})
    worker = TailWorker(bootstrap_servers=tansu.bootstrap, topic=topic, group="g-" + topic,
                        policies="errors=status_code(status_codes=ERROR)", exporter=exporter,
                        kafka_config=KAFKA_TEST, self_metrics=False,
                        environ={"OTELKIT_TAIL_DECISION_WAIT_MS": "100"})
    thread = threading.Thread(target=worker.run, name="twfwd-worker", daemon=True)
    thread.start()
    reader = Consumer({"bootstrap.servers": tansu.bootstrap, "group.id": "r-" + topic,
                       "auto.offset.reset": "earliest", **KAFKA_TEST})
    try:
        reader.subscribe([out])
        got = None
        for _ in range(400):  # 40 s at most
            msg = reader.poll(0.1)
            if msg is not None and msg.error() is None:
                got = msg.value()
                break
        assert got is not None, worker.stats()
    finally:
        reader.close()
        worker.stop()
        thread.join(30)
    assert worker.stats()["kept_by_policy.errors"] == 1
    assert otlp.headers(got) == otlp.headers(value)  # resource, scope and schema URLs as they arrived
