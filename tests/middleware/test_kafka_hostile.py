"""Hostile record headers through a real broker (Tansu): consumption is traced, logs stay quiet.

1,000 records carry propagation headers whose names vary in case (``TraceParent``,
``TRACEPARENT``, ...) and whose values are malformed. Before, each spelling was its own
warning kind (999 lines for 1,000 records) and the SDK propagators logged every bad
``baggage``/``tracestate`` member; now the whole run logs at most 10 WARNING lines.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelkit import _warn
from otelkit.middleware.kafka import RateLimitedLog, confluent_consume, process_span
from otelkit.testing import Tansu

pytestmark = pytest.mark.peers

RECORDS = 1000
MAX_LINES = 10

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(autouse=True)
def _one_interval() -> None:
    """All of the run falls in one warning interval, however long the loaded box takes."""
    _warn.configure({"OTELKIT_WARN_INTERVAL_S": "600"})


def _spelling(name: str, i: int) -> str:
    """The ``i``-th of the 2**len(name) upper/lower-case spellings of ``name``."""
    return "".join(c.upper() if (i >> k) & 1 else c for k, c in enumerate(name))


def _headers(i: int) -> list[tuple[str, bytes]]:
    return [
        (_spelling("traceparent", i), TP.encode() if i % 2 else b"00-\xff\xfe-not-a-traceparent"),
        (_spelling("tracestate", i), b"@vendor=1,FOO=2," + b"k=v," * 40),
        (_spelling("baggage", i), b"a," * 100 + b"k=\xe9\xe9"),
    ]


def test_1000_records_with_case_varied_headers_log_at_most_10_lines(
    tansu: Tansu, caplog: pytest.LogCaptureFixture,
) -> None:
    from confluent_kafka import Consumer, Producer

    caplog.set_level(logging.WARNING)
    topic = "hostile-" + uuid.uuid4().hex[:10]
    tansu.create_topic(topic, partitions=1)
    producer = Producer({"bootstrap.servers": tansu.bootstrap, "logger": RateLimitedLog()})
    for i in range(RECORDS):
        producer.produce(topic, value=b"m", headers=_headers(i))
    assert producer.flush(20) == 0
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    consumer = Consumer({
        "bootstrap.servers": tansu.bootstrap, "group.id": "g-" + topic, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "session.timeout.ms": 2000, "heartbeat.interval.ms": 500,
        "logger": RateLimitedLog(),
    })
    consumer.subscribe([topic])
    records: list[Any] = []
    try:
        end = time.monotonic() + 30
        while len(records) < RECORDS and time.monotonic() < end:
            batch = confluent_consume(consumer, num_messages=500, timeout=0.5, max_links=4, tracer_provider=provider)
            records.extend(m for m in batch if m.error() is None)
    finally:
        consumer.close()
    for record in records:
        with process_span(record, context="parent", tracer_provider=provider):
            pass
    provider.shutdown()
    assert len(records) == RECORDS
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 <= len(lines) <= MAX_LINES, [r.getMessage()[:120] for r in lines]
    assert max(len(r.getMessage()) for r in lines) < 400
    processes = [s for s in exporter.get_finished_spans() if s.name == f"process {topic}"]
    continued = [s for s in processes if s.parent is not None and s.parent.trace_id == int(TP[3:35], 16)]
    assert len(processes) == RECORDS and len(continued) == RECORDS // 2  # odd records carry a valid parent
