"""A tail-worker fleet on a real Tansu broker exporting to a real Rotel collector.

Two services (two tracer providers, each with otelkit's Kafka exporter) write every trace:
service a's root and client spans, service b's server span (remote parent) and an internal
span that fails for every third trace. The workers (``otelkit tail-worker`` processes in one
group, keeping errors) must deliver every error trace whole (all four spans, from both
services) through Rotel to the sink, and no span of any other trace. Conditions are waited
on with deadlines; nothing here depends on a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from otelkit.exporter.kafka import KafkaSpanExporter
from otelkit.receiver import OtlpReceiver
from otelkit.tail import POLICY_ATTRIBUTE
from otelkit.testing import ManagedProcess, Rotel, Tansu, scrubbed_env

pytestmark = pytest.mark.peers

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
        self.ok: set[int] = set()
        self.span_ids: dict[int, set[int]] = {}

    def _provider(self, name: str, bootstrap: str) -> TracerProvider:
        provider = TracerProvider(resource=Resource({"service.name": name}))
        exporter = KafkaSpanExporter(bootstrap_servers=bootstrap, topic=self.topic, environ={})
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return provider

    def start_worker(self) -> ManagedProcess:
        proc = ManagedProcess([sys.executable, "-m", "otelkit", "tail-worker"], self.env, "tail-worker")
        self.workers.append(proc)
        return proc

    def trace(self, i: int) -> int:
        """One trace across both services; every third one fails in service b."""
        a = self.providers["service-a"].get_tracer("a")
        b = self.providers["service-b"].get_tracer("b")
        error = i % 3 == 0
        with a.start_as_current_span("GET /order", kind=SpanKind.SERVER) as root:
            with a.start_as_current_span("call b", kind=SpanKind.CLIENT) as client:
                remote = trace.set_span_in_context(trace.NonRecordingSpan(client.get_span_context()))
                with b.start_as_current_span("POST /pay", context=remote, kind=SpanKind.SERVER):
                    with b.start_as_current_span("charge") as charge:
                        if error:
                            charge.set_status(Status(StatusCode.ERROR, "declined"))
        tid = root.get_span_context().trace_id
        (self.errors if error else self.ok).add(tid)
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
            resource=Resource({"service.name": "service-b"}), status=Status(StatusCode.ERROR),
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


@pytest.fixture
def fleet(tansu: Tansu, rotel: Rotel) -> Iterator[Fleet]:
    f = Fleet(tansu, rotel)
    try:
        yield f
    finally:
        f.close()


def received(sink: OtlpReceiver) -> dict[int, Counter[int]]:
    """Span IDs (with how often each arrived) by trace ID, as Rotel forwarded them."""
    out: dict[int, Counter[int]] = {}
    for r in sink.spans():
        tid = int.from_bytes(r.span.trace_id, "big")
        out.setdefault(tid, Counter())[int.from_bytes(r.span.span_id, "big")] += 1
    return out


def whole(sink: OtlpReceiver, tids: set[int], spans: int = 4) -> Callable[[], bool]:
    def check() -> bool:
        got = received(sink)
        return all(len(got.get(t, ())) >= spans for t in tids)

    return check


def logs(fleet: Fleet) -> str:
    text = "\n".join(f"--- worker {p.pid}\n{p.log()[-3000:]}" for p in fleet.workers)
    return f"committed/end offsets {fleet.last_offsets}\n{text}"


def test_three_workers_keep_error_traces_whole_and_late_spans_follow(fleet: Fleet, sink: OtlpReceiver) -> None:
    for _ in range(3):
        fleet.start_worker()
    first = [fleet.trace(i) for i in range(18)]
    assert wait_until(whole(sink, fleet.errors)), logs(fleet)
    got = received(sink)
    assert set(got) == fleet.errors, "a span of a dropped trace was exported"
    for tid in fleet.errors:
        assert len(got[tid]) == 4
    assert {r.attributes[POLICY_ATTRIBUTE] for r in sink.spans()} == {"errors"}
    services = {r.resource["service.name"] for r in sink.spans()}
    assert services == {"service-a", "service-b"}

    # Late spans: one of a kept trace; a failed root span of a dropped trace (judged alone it
    # would be kept). Once the group has committed everything (so each was followed or
    # decided, and a kept one acknowledged by Rotel), a sentinel error trace goes through
    # Rotel: the kept trace's late span arrived, the dropped one's never did.
    kept, dropped = first[0], first[1]
    late_kept = fleet.late_span(kept, 1)
    fleet.late_root_error(dropped)
    assert wait_until(fleet.all_committed), logs(fleet)
    sentinel = fleet.trace(99)
    assert wait_until(whole(sink, {sentinel})), logs(fleet)
    got = received(sink)
    assert late_kept in got[kept]
    assert dropped not in got
    assert set(got) == fleet.errors


def test_sigkill_one_worker_and_add_one_loses_or_splits_no_kept_trace(fleet: Fleet, sink: OtlpReceiver) -> None:
    victim = fleet.start_worker()
    fleet.start_worker()
    stop = threading.Event()
    produced = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set() and i < 60:
            fleet.trace(i)
            i += 1
            stop.wait(0.05)  # pacing only: the run spans the kill and the rebalance
        produced.set()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        assert wait_until(lambda: len(received(sink)) >= 2), logs(fleet)
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait(5)
        fleet.start_worker()
        assert produced.wait(DEADLINE_S)
    finally:
        stop.set()
        producer.join(10)
    errors = set(fleet.errors)
    assert wait_until(whole(sink, errors)), logs(fleet)
    got = received(sink)
    assert set(got) == errors, "a span of a dropped trace was exported"
    expected_ids: set[int] = set()
    for tid in errors:
        assert len(got[tid]) == 4, f"trace {tid:032x} split: {dict(got[tid])}"
        expected_ids.update(got[tid])
    duplicates = sum(n - 1 for c in got.values() for n in c.values())
    print(f"kept traces {len(errors)}, spans {len(expected_ids)}, duplicates {duplicates}")
    assert duplicates <= 2 * len(expected_ids)


def test_a_new_owner_replays_decisions_so_late_spans_follow_them(fleet: Fleet, sink: OtlpReceiver) -> None:
    first = fleet.start_worker()
    traces = [fleet.trace(i) for i in range(6)]
    assert wait_until(whole(sink, fleet.errors)), logs(fleet)
    assert wait_until(fleet.all_committed), logs(fleet)
    first.stop()  # SIGTERM: hands its partitions over; the next worker starts with empty caches
    assert first.proc.returncode == 0, logs(fleet)
    fleet.start_worker()
    kept, dropped = traces[0], traces[1]
    late_kept = fleet.late_span(kept, 1)  # no root, no error: judged alone it would be dropped
    fleet.late_root_error(dropped)  # judged alone it would be kept
    assert wait_until(lambda: late_kept in received(sink).get(kept, ())), logs(fleet)
    assert wait_until(fleet.all_committed), logs(fleet)
    sentinel = fleet.trace(99)
    assert wait_until(whole(sink, {sentinel})), logs(fleet)
    got = received(sink)
    assert dropped not in got
    assert set(got) == fleet.errors
    (late,) = [r for r in sink.spans() if int.from_bytes(r.span.span_id, "big") == late_kept]
    assert late.attributes[POLICY_ATTRIBUTE] == "errors"
