"""Fixtures: OTLP built with opentelemetry-proto classes (what a Collector's kafka exporter
writes), and a fleet of ``otelkit tail-worker`` processes with two producing services on a
real Tansu broker exporting to a real Rotel collector (``fleet``)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from opentelemetry.sdk.resources import Resource as SdkResource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace import Status as SdkStatus

from otelkit.exporter.kafka import KafkaSpanExporter
from otelkit.receiver import OtlpReceiver
from otelkit.testing import ManagedProcess, Rotel, Tansu, scrubbed_env


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def pb_span(
    trace_id: int, span_id: int, parent: int = 0, *, name: str = "op", error: bool = False,
    start: int = 1_000_000_000, end: int = 1_100_000_000, trace_state: str = "", attrs: dict[str, object] | None = None,
) -> Span:
    return Span(
        trace_id=trace_id.to_bytes(16, "big"),
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        trace_state=trace_state,
        flags=0x101,
        attributes=[kv(k, v) for k, v in (attrs or {}).items()],
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom") if error else Status(),
    )


def request(service: str, *spans: Span) -> bytes:
    """One ExportTraceServiceRequest of ``spans`` from ``service``, serialized."""
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[kv("service.name", service)]),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="test", version="1"), spans=list(spans))],
            )
        ]
    ).SerializeToString()


def rich_request(*spans: Span) -> bytes:
    """A request whose resource holds what otelkit's attribute model cannot hold (a kvlist,
    bytes, a mixed array) and a double, and whose scope has a version, attributes and a
    dropped-attributes count; both with schema URLs. Serialized by protobuf."""
    mixed = ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=1), AnyValue(double_value=2.5)])
    nested = KeyValueList(values=[kv("k", "v"), kv("n", 7)])
    resource = Resource(
        attributes=[kv("service.name", "rich"), KeyValue(key="labels", value=AnyValue(kvlist_value=nested)),
                    KeyValue(key="blob", value=AnyValue(bytes_value=b"\x00\xffok")),
                    KeyValue(key="mixed", value=AnyValue(array_value=mixed)),
                    KeyValue(key="ratio", value=AnyValue(double_value=0.25))],
        dropped_attributes_count=2,
    )
    scope = InstrumentationScope(name="lib", version="2.1", attributes=[kv("scope.attr", "x"), kv("level", 3)],
                                 dropped_attributes_count=1)
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=resource, schema_url="https://opentelemetry.io/schemas/1.26.0",
        scope_spans=[ScopeSpans(scope=scope, spans=list(spans), schema_url="https://example.com/scope/1")],
    )]).SerializeToString()


def _fields(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(field number, the field as written, its value) of each field of a message made of
    length-delimited fields only (a request, ResourceSpans, ScopeSpans)."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = _varint(data, pos)
        assert tag & 7 == 2, "not a length-delimited field"
        n, pos = _varint(data, pos)
        out.append((tag >> 3, data[start:pos + n], data[pos:pos + n]))
        pos += n
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def headers(value: bytes) -> list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]]:
    """Per ResourceSpans of a serialized request: its ``resource`` and ``schema_url`` fields
    as written (tag, length and bytes; b"" when absent), and the same two of each ScopeSpans
    (``scope``, ``schema_url``). Sliced from the bytes: nothing is parsed and re-serialized."""
    out = []
    for number, _, rs in _fields(value):
        assert number == 1
        resource = res_schema = b""
        scopes = []
        for field, written, inner in _fields(rs):
            if field == 1:
                resource = written
            elif field == 3:
                res_schema = written
            else:
                scope = scope_schema = b""
                for f, w, _ in _fields(inner):
                    if f == 1:
                        scope = w
                    elif f == 3:
                        scope_schema = w
                scopes.append((scope, scope_schema))
        out.append((resource, res_schema, scopes))
    return out


class Otlp:
    """The builders above, as a fixture (tests here import nothing from each other)."""

    span = staticmethod(pb_span)
    request = staticmethod(request)
    rich_request = staticmethod(rich_request)
    headers = staticmethod(headers)


@pytest.fixture
def otlp() -> Otlp:
    return Otlp()


STATS = "otelkit tail-worker stats: "
KAFKA_TEST = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}
DEADLINE_S = 40.0


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class Fleet:
    """Worker processes of one group, plus the two producing services."""

    def __init__(self, tansu: Tansu, rotel: Rotel) -> None:
        self.topic = "tw-" + uuid.uuid4().hex[:8]
        self.group = "g-" + self.topic
        tansu.create_topic(self.topic, partitions=3)
        self.env = scrubbed_env({
            "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": tansu.bootstrap,
            "OTELKIT_KAFKA_TOPIC": self.topic,
            "OTELKIT_TAIL_WORKER_GROUP": self.group,
            "OTELKIT_TAIL_WORKER_CONSUMER_CONFIG": ",".join(f"{k}={v}" for k, v in KAFKA_TEST.items()),
            "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS": "200",
            "OTELKIT_TAIL_POLICIES": "errors=status_code(status_codes=ERROR)",
            "OTELKIT_TAIL_DECISION_WAIT_MS": "300",
            "OTELKIT_TAIL_MAX_WAIT_MS": "3000",
            "OTEL_TRACES_EXPORTER": "otelkit_otlp",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rotel.http_endpoint,
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTELKIT_SELF_METRICS": "false",
        })
        self.bootstrap = tansu.bootstrap
        self.last_offsets: tuple[list[int], list[int]] = ([], [])
        self.workers: list[ManagedProcess] = []
        self.providers = {
            name: self._provider(name, tansu.bootstrap) for name in ("service-a", "service-b")
        }
        self.errors: set[int] = set()
        self.slow: set[int] = set()
        self.ok: set[int] = set()
        self.span_ids: dict[int, set[int]] = {}

    def _provider(self, name: str, bootstrap: str) -> TracerProvider:
        provider = TracerProvider(resource=SdkResource({"service.name": name}))
        exporter = KafkaSpanExporter(bootstrap_servers=bootstrap, topic=self.topic, environ={})
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return provider

    def start_worker(self) -> ManagedProcess:
        proc = ManagedProcess([sys.executable, "-m", "otelkit", "tail-worker"], self.env, "tail-worker")
        self.workers.append(proc)
        return proc

    def trace(self, i: int, *, slow: bool = False) -> int:
        """One trace across both services; every third one fails in service b.

        ``slow``: the spans get explicit timestamps (no sleep) making service b's work, and
        so the trace, last 2.5 s; the trace is then neither failed nor quick."""
        a = self.providers["service-a"].get_tracer("a")
        b = self.providers["service-b"].get_tracer("b")
        error = i % 3 == 0 and not slow
        t0 = time.time_ns()
        t1 = t0 + (2_500_000_000 if slow else 1_000_000)
        root = a.start_span("GET /order", kind=SpanKind.SERVER, start_time=t0)
        with trace.use_span(root, end_on_exit=False):
            client = a.start_span("call b", kind=SpanKind.CLIENT, start_time=t0 + 1000)
            remote = trace.set_span_in_context(trace.NonRecordingSpan(client.get_span_context()))
            server = b.start_span("POST /pay", context=remote, kind=SpanKind.SERVER, start_time=t0 + 2000)
            charge = b.start_span("charge", context=trace.set_span_in_context(server), start_time=t0 + 3000)
            if error:
                charge.set_status(SdkStatus(StatusCode.ERROR, "declined"))
            charge.end(end_time=t1 - 3000)
            server.end(end_time=t1 - 2000)
            client.end(end_time=t1 - 1000)
        root.end(end_time=t1)
        tid = root.get_span_context().trace_id
        (self.errors if error else self.slow if slow else self.ok).add(tid)
        return tid

    def late_span(self, tid: int, parent_span_id: int) -> int:
        """A span of service b for trace ``tid``, written after the trace was decided."""
        ctx = trace.SpanContext(tid, parent_span_id, True, trace.TraceFlags(1))
        b = self.providers["service-b"].get_tracer("b")
        with b.start_as_current_span("late retry", context=trace.set_span_in_context(trace.NonRecordingSpan(ctx))) as s:
            return s.get_span_context().span_id

    def late_root_error(self, tid: int) -> None:
        """A failed root span of trace ``tid`` from service b, written by otelkit's exporter."""
        span = ReadableSpan(
            name="late root", context=trace.SpanContext(tid, 0xBAD, False, trace.TraceFlags(1)), parent=None,
            resource=SdkResource({"service.name": "service-b"}), status=SdkStatus(StatusCode.ERROR),
            start_time=time.time_ns(), end_time=time.time_ns(),
        )
        exporter = KafkaSpanExporter(bootstrap_servers=self.bootstrap, topic=self.topic, environ={})
        assert exporter.export([span]) is SpanExportResult.SUCCESS
        exporter.shutdown()

    def all_committed(self) -> bool:
        """The group's committed offset is the end of every partition (nothing in flight)."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group, **KAFKA_TEST})
        try:
            parts = [TopicPartition(self.topic, p) for p in range(3)]
            committed = consumer.committed(parts, timeout=5)
            ends = [consumer.get_watermark_offsets(tp, timeout=5)[1] for tp in parts]
            self.last_offsets = ([tp.offset for tp in committed], ends)
            return all(tp.offset == end or end == 0 for tp, end in zip(committed, ends, strict=True))
        except Exception:  # noqa: BLE001 - e.g. a timeout during a rebalance: ask again
            return False
        finally:
            consumer.close()

    def close(self) -> None:
        for proc in self.workers:
            proc.stop()
        for provider in self.providers.values():
            provider.shutdown()


    @staticmethod
    def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE_S) -> bool:
        return wait_until(condition, timeout)

    @staticmethod
    def received(sink: OtlpReceiver) -> dict[int, Counter[int]]:
        """Span IDs (with how often each arrived) by trace ID, as Rotel forwarded them."""
        out: dict[int, Counter[int]] = {}
        for r in sink.spans():
            tid = int.from_bytes(r.span.trace_id, "big")
            out.setdefault(tid, Counter())[int.from_bytes(r.span.span_id, "big")] += 1
        return out

    def whole(self, sink: OtlpReceiver, tids: set[int], spans: int = 4) -> Callable[[], bool]:
        def check() -> bool:
            got = self.received(sink)
            return all(len(got.get(t, ())) >= spans for t in tids)

        return check

    def logs(self) -> str:
        text = "\n".join(f"--- worker {p.pid}\n{p.log()[-3000:]}" for p in self.workers)
        return f"committed/end offsets {self.last_offsets}\n{text}"

    @staticmethod
    def stats_of(proc: ManagedProcess) -> dict[str, Any]:
        """Stop a worker (SIGTERM) and read the stats line it prints when it exits."""
        proc.stop()
        assert proc.proc.returncode == 0, proc.log_path.read_text(errors="replace")[-3000:]
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith(STATS):
                return dict(json.loads(line[len(STATS):]))
        raise AssertionError("no stats line in the worker's log")


@pytest.fixture
def fleet(tansu: Tansu, rotel: Rotel) -> Iterator[Fleet]:
    f = Fleet(tansu, rotel)
    try:
        yield f
    finally:
        f.close()
