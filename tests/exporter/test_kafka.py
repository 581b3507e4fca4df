"""KafkaSpanExporter: grouping and keying, counting, timeouts, lifecycle; end to end with Tansu."""

from __future__ import annotations

import importlib.metadata
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelkit.exporter import kafka as kafka_module
from otelkit.exporter._kafka_client import DeliveryCallback, parse_properties
from otelkit.exporter._spool_replay import Replayer
from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.exporter.kafka import KafkaSpanExporter, trace_key
from otelkit.testing import Tansu


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeProducer:
    """Queues messages; ``poll`` delivers them (or not) and advances the fake clock."""

    def __init__(self, clock: FakeClock, *, deliver: bool = True, error: Exception | None = None) -> None:
        self.clock = clock
        self.deliver = deliver
        self.error = error
        self.refuse: set[bytes | None] = set()
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.queue: list[DeliveryCallback] = []
        self.flush_timeouts: list[float] = []
        self.closed = False

    def send(self, topic: str, key: bytes | None, value: bytes, on_done: DeliveryCallback) -> None:
        if key in self.refuse:
            raise BufferError("queue full")
        self.sent.append((topic, key, value))
        self.queue.append(on_done)

    def poll(self, timeout_s: float) -> None:
        if self.deliver:
            self.deliver_all()
        else:
            self.clock.now += timeout_s

    def deliver_all(self) -> None:
        queue, self.queue = self.queue, []
        for cb in queue:
            cb(self.error)

    def flush(self, timeout_s: float) -> int:
        self.flush_timeouts.append(timeout_s)
        if self.deliver:
            self.deliver_all()
        return len(self.queue)

    def close(self) -> None:
        self.closed = True


def make_spans(traces: int = 3, per_trace: int = 3) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for t in range(traces):
        with tracer.start_as_current_span(f"root-{t}", attributes={"trace.n": t, "tag": "k"}):
            for c in range(per_trace - 1):
                with tracer.start_as_current_span(f"child-{t}-{c}", attributes={"child.n": c}):
                    pass
    spans = list(memory.get_finished_spans())
    # Interleave traces, as a batch processor would see them.
    return sorted(spans, key=lambda s: s.name.split("-")[-1])


def exporter_with(producer: FakeProducer, clock: FakeClock, **kw: Any) -> KafkaSpanExporter:
    return KafkaSpanExporter(producer=producer, clock=clock, environ={}, **kw)


def decode(value: bytes) -> list[Any]:
    req = ExportTraceServiceRequest.FromString(value)
    return [span for rs in req.resource_spans for ss in rs.scope_spans for span in ss.spans]


def test_one_message_per_trace_keyed_by_hex_trace_id() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    spans = make_spans(traces=3, per_trace=3)
    assert exporter_with(producer, clock).export(spans) is SpanExportResult.SUCCESS
    expected_keys = {format(s.context.trace_id, "032x").encode() for s in spans}
    assert {key for _, key, _ in producer.sent} == expected_keys
    assert len(producer.sent) == 3


def test_each_message_holds_exactly_its_trace() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    spans = make_spans(traces=3, per_trace=4)
    exporter_with(producer, clock).export(spans)
    for _, key, value in producer.sent:
        decoded = decode(value)
        assert len(decoded) == 4
        assert {d.trace_id.hex().encode() for d in decoded} == {key}


def test_default_topic_is_the_collector_receiver_default() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    exporter_with(producer, clock).export(make_spans(1, 1))
    assert producer.sent[0][0] == "otlp_spans"


def test_keying_none_sends_one_unkeyed_message_per_batch() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    spans = make_spans(traces=3, per_trace=2)
    exporter_with(producer, clock, keying="none").export(spans)
    assert len(producer.sent) == 1
    assert producer.sent[0][1] is None
    assert len(decode(producer.sent[0][2])) == 6


def test_trace_key_is_32_lowercase_hex_digits() -> None:
    assert trace_key(0xABC) == b"00000000000000000000000000000abc"


def test_success_counts_spans_messages_and_bytes() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    exporter = exporter_with(producer, clock)
    exporter.export(make_spans(traces=2, per_trace=3))
    stats = exporter.stats()
    values = sum(len(v) for _, _, v in producer.sent)
    assert (stats["spans_exported"], stats["spans_failed"], stats["requests"]) == (6, 0, 2)
    assert stats["raw_bytes"] == values
    assert stats["wire_bytes"] == values + 2 * 32


def test_delivery_error_fails_the_export_and_counts_spans_failed() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock, error=RuntimeError("broker down"))
    exporter = exporter_with(producer, clock)
    assert exporter.export(make_spans(2, 2)) is SpanExportResult.FAILURE
    assert (exporter.stats()["spans_exported"], exporter.stats()["spans_failed"]) == (0, 4)


def test_a_refused_message_fails_only_its_trace() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    spans = make_spans(3, 2)
    producer.refuse.add(trace_key(spans[0].context.trace_id))
    exporter = exporter_with(producer, clock)
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert (exporter.stats()["spans_exported"], exporter.stats()["spans_failed"]) == (4, 2)


def test_unacknowledged_export_returns_failure_at_its_timeout() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock, deliver=False)
    exporter = exporter_with(producer, clock, timeout_ms=2000)
    assert exporter.export(make_spans(1, 2)) is SpanExportResult.FAILURE
    assert clock.now == pytest.approx(102.0)


def test_late_acknowledgement_is_still_counted() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock, deliver=False)
    exporter = exporter_with(producer, clock, timeout_ms=500)
    exporter.export(make_spans(1, 2))
    producer.deliver_all()
    assert exporter.stats()["spans_exported"] == 2


def test_encoding_failure_is_counted_and_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: object, spans: Sequence[ReadableSpan]) -> bytes:
        raise ValueError("cannot encode")

    monkeypatch.setattr(kafka_module.SpanEncoder, "encode", boom)
    clock = FakeClock()
    exporter = exporter_with(FakeProducer(clock), clock)
    assert exporter.export(make_spans(2, 2)) is SpanExportResult.FAILURE
    assert exporter.stats()["spans_failed"] == 4


def test_empty_export_sends_nothing() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    assert exporter_with(producer, clock).export([]) is SpanExportResult.SUCCESS
    assert producer.sent == []


def test_shutdown_flushes_with_the_timeout_bound_and_closes() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    exporter_with(producer, clock, timeout_ms=1500).shutdown()
    assert producer.flush_timeouts == [1.5]
    assert producer.closed


def test_export_after_shutdown_fails_and_counts() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    exporter = exporter_with(producer, clock)
    exporter.shutdown()
    assert exporter.export(make_spans(1, 3)) is SpanExportResult.FAILURE
    assert exporter.stats()["spans_failed"] == 3
    assert producer.sent == []


def test_an_empty_export_after_shutdown_fails_and_counts_nothing() -> None:
    # Settled (issue 12 item 10): like any batch after shutdown, and like the stock exporters.
    clock = FakeClock()
    producer = FakeProducer(clock)
    exporter = exporter_with(producer, clock)
    exporter.shutdown()
    assert exporter.export([]) is SpanExportResult.FAILURE
    stats = exporter.stats()
    assert stats["spans_failed"] == stats["spans_exported"] == stats["requests"] == 0
    assert producer.sent == []


def test_force_flush_reports_whether_messages_remain() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock, deliver=False)
    exporter = exporter_with(producer, clock, timeout_ms=1)
    exporter.export(make_spans(1, 1))
    assert exporter.force_flush(100) is False
    producer.deliver = True
    assert exporter.force_flush(100) is True


def test_stats_keys_and_latency() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock, deliver=False)
    exporter = exporter_with(producer, clock, timeout_ms=1000)
    exporter.export(make_spans(1, 1))
    stats = exporter.stats()
    http = OtlpHttpSpanExporter(environ={})
    assert set(stats) == set(http.stats())  # one snapshot shape for both exporters
    http.shutdown()
    assert set(stats) == {
        "spans_exported", "spans_failed", "spans_rejected", "spans_spooled", "requests", "retries", "raw_bytes",
        "wire_bytes", "export_latency_p50_ms", "export_latency_p99_ms",
    }
    assert stats["export_latency_p50_ms"] == pytest.approx(1000.0)


def test_self_metrics_reach_a_metric_reader_with_the_http_exporter_names() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    clock = FakeClock()
    producer = FakeProducer(clock)
    exporter = KafkaSpanExporter(
        producer=producer, clock=clock, meter_provider=provider, environ={"OTELKIT_SELF_METRICS": "true"}
    )
    assert exporter.export(make_spans(2, 3)) is SpanExportResult.SUCCESS
    producer.error = RuntimeError("broker down")
    assert exporter.export(make_spans(1, 2)) is SpanExportResult.FAILURE
    points: dict[str, list[tuple[dict[str, Any], float]]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    value = getattr(p, "value", None)
                    points.setdefault(metric.name, []).append((dict(p.attributes or {}), value if value is not None else p.count))
    assert {a["otel.component.type"] for pts in points.values() for a, _ in pts} == {"otelkit_kafka_span_exporter"}
    spans = {str(a.get("error.type", "ok")): v for a, v in points["otel.sdk.exporter.span.exported"]}
    assert spans == {"ok": 6, "RuntimeError": 2}
    stats = exporter.stats()
    assert points["otelkit.exporter.requests"][0][1] == stats["requests"] == 3
    assert points["otelkit.exporter.raw_bytes"][0][1] == stats["raw_bytes"]
    assert points["otelkit.exporter.wire_bytes"][0][1] == stats["wire_bytes"]
    assert sum(v for _, v in points["otel.sdk.exporter.operation.duration"]) == 2
    provider.shutdown()


class CountingMeter:
    """A meter provider and meter whose instruments record every ``add``/``record`` call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def get_meter(self, *args: Any, **kwargs: Any) -> CountingMeter:
        return self

    def _instrument(self, name: str, *args: Any, **kwargs: Any) -> Any:
        meter = self

        class Instrument:
            def add(self, value: float, attributes: Any = None) -> None:
                meter.calls.append((name, value))

            record = add

        return Instrument()

    create_counter = create_histogram = _instrument


def test_metric_updates_are_summed_per_export_call_not_per_message() -> None:
    meter = CountingMeter()
    clock = FakeClock()
    exporter = KafkaSpanExporter(
        producer=FakeProducer(clock), clock=clock, meter_provider=meter, environ={"OTELKIT_SELF_METRICS": "true"}
    )
    exporter.export(make_spans(traces=8, per_trace=2))  # 8 messages
    names = [name for name, _ in meter.calls]
    assert names.count("otelkit.exporter.requests") == 1
    assert names.count("otel.sdk.exporter.span.exported") == 1
    assert ("otelkit.exporter.requests", 8) in meter.calls and ("otel.sdk.exporter.span.exported", 16) in meter.calls


def test_self_metrics_off_creates_no_instruments() -> None:
    clock = FakeClock()
    exporter = KafkaSpanExporter(producer=FakeProducer(clock), clock=clock, environ={"OTELKIT_SELF_METRICS": "false"})
    assert exporter._stats._instruments is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compression": "brotli"}, "compression='brotli'"),
        ({"keying": "span"}, "keying='span'"),
        ({"timeout_ms": 0}, "timeout_ms=0"),
        ({"topic": ""}, "topic=''"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs: dict[str, Any], message: str) -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match=message):
        exporter_with(FakeProducer(clock), clock, **kwargs)


def test_settings_come_from_the_environment() -> None:
    env = {"OTELKIT_KAFKA_TOPIC": "spans_x", "OTELKIT_KAFKA_KEYING": "none", "OTELKIT_KAFKA_TIMEOUT_MS": "250"}
    exporter = KafkaSpanExporter(producer=FakeProducer(FakeClock()), environ=env)
    assert (exporter.topic, exporter.keying, exporter.timeout_s) == ("spans_x", "none", 0.25)


def test_explicit_arguments_win_over_the_environment() -> None:
    exporter = KafkaSpanExporter(topic="mine", producer=FakeProducer(FakeClock()), environ={"OTELKIT_KAFKA_TOPIC": "x"})
    assert exporter.topic == "mine"


def test_invalid_environment_value_falls_back_to_default() -> None:
    exporter = KafkaSpanExporter(producer=FakeProducer(FakeClock()), environ={"OTELKIT_KAFKA_KEYING": "bogus"})
    assert exporter.keying == "trace"


def test_producer_properties_parse() -> None:
    assert parse_properties("a=1, b.c = x=y ,") == {"a": "1", "b.c": "x=y"}


def test_malformed_producer_properties_name_the_entry_not_the_value() -> None:
    with pytest.raises(ValueError, match="'sasl.password'") as info:
        parse_properties("sasl.password")
    assert "secret" not in str(info.value)


def test_entry_point_builds_with_no_arguments() -> None:
    (ep,) = importlib.metadata.entry_points(group="opentelemetry_traces_exporter", name="otelkit_kafka")
    exporter = ep.load()()
    try:
        assert isinstance(exporter, KafkaSpanExporter)
        assert exporter.topic == "otlp_spans"
    finally:
        exporter.timeout_s = 0.01
        exporter.shutdown()


# ----------------------------------------------------------------- real broker (Tansu)


def consume_all(tansu: Tansu, topic: str, expected: int, deadline_s: float = 20.0) -> list[Any]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": tansu.bootstrap,
        "group.id": "g-" + topic,
        "session.timeout.ms": 2000,
        "heartbeat.interval.ms": 500,
        "enable.auto.commit": False,
    })
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = sorted(meta.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        messages: list[Any] = []
        end = time.monotonic() + deadline_s
        while len(messages) < expected and time.monotonic() < end:
            for msg in consumer.consume(num_messages=100, timeout=0.5):
                if msg.error() is None:
                    messages.append(msg)
        return messages
    finally:
        consumer.close()


@pytest.mark.peers
def test_end_to_end_with_tansu_one_partition_per_trace(tansu: Tansu) -> None:
    topic = "otlp-" + uuid.uuid4().hex[:8]
    tansu.create_topic(topic, partitions=3)
    exporter = KafkaSpanExporter(bootstrap_servers=tansu.bootstrap, topic=topic, timeout_ms=10000, environ={})
    spans = make_spans(traces=6, per_trace=3)
    # Children end (and are exported) before their root: each trace arrives in two batches,
    # and both of its messages must land on the same partition.
    children = [s for s in spans if s.name.startswith("child")]
    roots = [s for s in spans if s.name.startswith("root")]
    try:
        assert exporter.export(children) is SpanExportResult.SUCCESS
        assert exporter.export(roots) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert exporter.stats()["spans_exported"] == 18
    messages = consume_all(tansu, topic, expected=12)
    assert len(messages) == 12
    partition_of: dict[bytes, set[int]] = {}
    decoded: dict[str, Any] = {}
    for msg in messages:
        in_msg = decode(msg.value())
        assert {s.trace_id.hex().encode() for s in in_msg} == {msg.key()}
        partition_of.setdefault(msg.key(), set()).add(msg.partition())
        decoded.update({s.span_id.hex(): s for s in in_msg})
    assert all(len(parts) == 1 for parts in partition_of.values())
    assert len(partition_of) == 6
    for original in spans:
        got = decoded[format(original.context.span_id, "016x")]
        assert got.name == original.name
        assert got.trace_id.hex() == format(original.context.trace_id, "032x")
        attrs = {kv.key: kv.value for kv in got.attributes}
        for key, value in (original.attributes or {}).items():
            got_value = attrs[key].int_value if isinstance(value, int) else attrs[key].string_value
            assert got_value == value


def test_spans_of_a_batch_that_cannot_be_grouped_are_counted_failed() -> None:
    clock = FakeClock()
    exporter = exporter_with(FakeProducer(clock), clock)
    assert exporter.export([object(), object()]) is SpanExportResult.FAILURE  # type: ignore[list-item]
    assert exporter.stats()["spans_failed"] == 2


@pytest.mark.peers
def test_a_forked_child_exports_through_a_fresh_producer(tansu: Tansu) -> None:
    import multiprocessing

    topic = "otlp-fork-" + uuid.uuid4().hex[:8]
    tansu.create_topic(topic, partitions=1)
    exporter = KafkaSpanExporter(bootstrap_servers=tansu.bootstrap, topic=topic, timeout_ms=10000, environ={})
    try:
        assert exporter.export(make_spans(1, 1)) is SpanExportResult.SUCCESS  # parent's librdkafka running

        def child() -> None:
            ok = exporter.export(make_spans(2, 2)) is SpanExportResult.SUCCESS
            exporter.shutdown()
            raise SystemExit(0 if ok else 3)

        proc = multiprocessing.get_context("fork").Process(target=child)
        proc.start()
        proc.join(30)
        assert proc.exitcode == 0
    finally:
        exporter.shutdown()
    assert len(consume_all(tansu, topic, expected=3)) == 3


_ENV_ONLY_APP = """
import json, otelkit
from opentelemetry import trace
pipeline = otelkit.configure()
tracer = trace.get_tracer("app")
with tracer.start_as_current_span("root"):
    for i in range(2):
        with tracer.start_as_current_span("child", attributes={"i": i}):
            pass
pipeline.shutdown()
print(json.dumps(pipeline.stats()))
"""


@pytest.mark.peers
def test_env_only_configuration_exports_through_kafka(tansu: Tansu) -> None:
    import os
    import subprocess
    import sys

    from otelkit.testing import scrubbed_env

    topic = "otlp-env-" + uuid.uuid4().hex[:8]
    tansu.create_topic(topic, partitions=2)
    env = scrubbed_env({
        "OTEL_TRACES_EXPORTER": "otelkit_kafka",
        "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": tansu.bootstrap,
        "OTELKIT_KAFKA_TOPIC": topic,
        "OTELKIT_KAFKA_COMPRESSION": "gzip",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    })
    out = subprocess.run([sys.executable, "-c", _ENV_ONLY_APP], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    (message,) = consume_all(tansu, topic, expected=1)
    spans = decode(message.value())
    assert sorted(s.name for s in spans) == ["child", "child", "root"]
    assert message.key() == spans[0].trace_id.hex().encode()
    assert '"spans_exported": 3' in out.stdout


# ------------------------------------------------------------------ disk spool


def test_undelivered_messages_are_spooled_with_their_keys_and_replayed(tmp_path: Any) -> None:
    clock = FakeClock()
    producer = FakeProducer(clock, error=RuntimeError("broker down"))
    exporter = exporter_with(producer, clock, spool_dir=str(tmp_path))
    assert exporter._replayer is not None and exporter._spool is not None
    exporter._replayer.stop()  # replay is driven by hand below
    first, second = make_spans(3, 2), make_spans(2, 2)
    assert exporter.export(first) is SpanExportResult.SUCCESS  # every message spooled, none lost
    assert exporter.export(second) is SpanExportResult.SUCCESS  # the broker is down: straight to disk
    stats = exporter.stats()
    assert stats["spans_spooled"] == 10 and stats["spans_failed"] == 0 and len(producer.sent) == 3
    producer.error = None
    replayer = Replayer(exporter._spool, exporter._replay, spans_per_s=10_000, wait=lambda s: False)
    exporter._spool.rotate()
    replayer.run_once()
    replayed = producer.sent[3:]
    want = {trace_key(s.context.trace_id) for s in first + second if s.context is not None}
    assert len(replayed) == 5 and {k for _, k, _ in replayed} == want
    for _, key, value in replayed:  # each message still holds exactly its trace
        assert {format(int.from_bytes(sp.trace_id, "big"), "032x").encode() for sp in decode(value)} == {key}
    assert exporter.stats()["spool_replayed_spans"] == 10


# ------------------------------------------------------------------ a broker refusing the codec


class CodecProducer(FakeProducer):
    """A client whose broker refuses some record-batch codecs (like Kafka < 2.1 and zstd)."""

    def __init__(self, clock: FakeClock, refused: set[str], codec: str = "zstd") -> None:
        super().__init__(clock)
        self.refused_codecs = refused
        self.compression = codec
        self.codecs: list[str] = []
        self.pending: list[tuple[DeliveryCallback, str]] = []

    def fall_back(self, refused: str) -> str | None:
        from otelkit.exporter._kafka_client import compression_fallback

        if self.compression == refused:
            nxt = compression_fallback(refused)
            if nxt is None:
                return None
            self.compression = nxt
        return self.compression

    def send(self, topic: str, key: bytes | None, value: bytes, on_done: DeliveryCallback) -> None:
        self.sent.append((topic, key, value))
        self.codecs.append(self.compression)
        self.pending.append((on_done, self.compression))

    def deliver_all(self) -> None:
        from otelkit.exporter._kafka_client import KafkaDeliveryError

        while self.pending:
            pending, self.pending = self.pending, []
            for cb, codec in pending:
                refused = codec in self.refused_codecs
                cb(KafkaDeliveryError("Broker: Unsupported compression type", "UNSUPPORTED_COMPRESSION_TYPE")
                   if refused else None)


def test_a_refused_codec_is_replaced_and_every_message_resent(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    producer = CodecProducer(clock, refused={"zstd"})
    exporter = exporter_with(producer, clock)
    with caplog.at_level("WARNING", "otelkit.exporter.kafka"):
        assert exporter.export(make_spans(4, 2)) is SpanExportResult.SUCCESS
        assert exporter.export(make_spans(3, 2)) is SpanExportResult.SUCCESS
    assert producer.codecs == ["zstd"] * 4 + ["gzip"] * 4 + ["gzip"] * 3  # 4 refused, re-sent, then gzip
    stats = exporter.stats()
    assert stats["spans_exported"] == 14 and stats["spans_failed"] == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "refused zstd" in warnings[0] and "with gzip" in warnings[0]


def test_a_broker_refusing_every_codec_gets_them_uncompressed() -> None:
    clock = FakeClock()
    producer = CodecProducer(clock, refused={"zstd", "gzip"})
    exporter = exporter_with(producer, clock)
    assert exporter.export(make_spans(2, 1)) is SpanExportResult.SUCCESS
    assert producer.codecs == ["zstd", "zstd", "gzip", "gzip", "none", "none"]
    assert exporter.stats()["spans_exported"] == 2


def test_without_a_fallback_the_refused_messages_fail_and_count() -> None:
    clock = FakeClock()
    producer = CodecProducer(clock, refused={"none"}, codec="none")
    exporter = exporter_with(producer, clock)
    assert exporter.export(make_spans(2, 1)) is SpanExportResult.FAILURE
    assert exporter.stats()["spans_failed"] == 2


def test_confluent_producer_switches_codec_once_per_refusal() -> None:
    from otelkit.exporter._kafka_client import ConfluentProducer

    producer = ConfluentProducer("127.0.0.1:1", "zstd", 1000)  # never connects in this test
    try:
        first = producer._producer
        assert producer.fall_back("zstd") == "gzip" and producer.compression == "gzip"
        assert producer._producer is not first and producer._retired == [first]
        assert producer.fall_back("zstd") == "gzip" and len(producer._retired) == 1  # already switched
        assert producer.fall_back("gzip") == "none"
        assert producer.fall_back("none") is None
    finally:
        producer.close()
