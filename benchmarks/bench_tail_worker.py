"""Tail worker: CPU per span of one worker's decode + decide + export path, in process.

``tail-worker: x1000 spans`` (200 traces x 5 spans, errors/slow/10% policies, kept spans to
a no-op exporter), two paths in one session:

* ``in_process``: the SDK spans into ``TailSamplingProcessor.on_end`` and ``process_due``
  (what one service pays for tail sampling its own spans), kept spans handed on as bytes
  (a downstream that ``holds_encoded``, as otelkit's batcher with an encoded exporter) to
  ``export_encoded``;
* ``worker``: the same traces as Kafka message values (one ``ExportTraceServiceRequest``
  per trace, as ``otelkit_kafka`` writes them) through the worker's decode (span bytes
  sliced off the wire into span records), per-partition buffer, decision and offset
  accounting (``otelkit.tailworker._partition.Partition``), kept spans (spliced bytes) to
  ``export_encoded``. No broker: this is the worker's CPU floor per span.

``extra_info["per_span_us"]`` is the median per span. On a shared machine, measure CPU
time rather than wall time: ``--benchmark-timer=time.process_time`` (docs/tail-worker.md,
"Sizing", has the numbers and how they were taken).

``tail-worker fleet: spans/s through Tansu`` (``test_fleet_throughput``): 1, 2 and 3
``otelkit tail-worker`` processes in one group on a real Tansu broker (6 partitions),
exporting kept traces (errors + 10%) to an in-process OTLP receiver; rounds interleave
the worker counts. Per round: the group is started and warmed up (every worker has
decided a trace), then :data:`FLEET_TRACES` traces (5 spans each) are written at once and
the clock runs until the group has committed the end of every partition (decided and
exported). ``extra_info["spans_per_s"]`` holds the median and range per worker count.
Everything (broker, workers, receiver, producer) shares the same cores.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from otelkit.exporter._encoded import EncodedBatch
from otelkit.exporter.encoder import SpanEncoder
from otelkit.tail import TailSamplingProcessor
from otelkit.tail.policy_config import policies_from_string
from otelkit.tailworker._decode import decode
from otelkit.tailworker._partition import Partition
from otelkit.testing import ManagedProcess, Tansu, scrubbed_env, start_tansu

TRACES = 200
POLICIES = "errors=status_code(status_codes=ERROR);slow=latency(threshold_ms=1000);probabilistic(sampling_percentage=10)"


def default_policies() -> list[Any]:
    return policies_from_string(POLICIES)


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def export_encoded(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class HeldCollect(SpanProcessor):
    """A downstream taking kept spans as bytes (``holds_encoded``), as otelkit's batcher does."""

    holds_encoded = True

    def __init__(self) -> None:
        self.datas: list[bytes] = []
        self.routes: list[Any] = []

    def on_end_held(self, data: bytes, route: Any) -> None:
        self.datas.append(data)
        self.routes.append(route)


def _spans(traces: int, seed: int = 1) -> list[ReadableSpan]:
    """A root and 4 children per trace, 4 attributes each, 2% of children failed."""
    out = Collect()
    provider = TracerProvider()
    provider.add_span_processor(out)
    tracer = provider.get_tracer("bench")
    rng = random.Random(seed)
    for i in range(traces):
        with tracer.start_as_current_span("GET /users/{id}") as root:
            root.set_attribute("http.request.method", "GET")
            root.set_attribute("http.route", "/users/{id}")
            root.set_attribute("http.response.status_code", 200)
            root.set_attribute("user.index", i)
            for k in range(4):
                with tracer.start_as_current_span("SELECT users") as child:
                    child.set_attribute("db.system.name", "postgresql")
                    child.set_attribute("db.operation.name", "SELECT")
                    child.set_attribute("db.collection.name", "users")
                    child.set_attribute("step", k)
                    if rng.random() < 0.02:
                        child.set_status(StatusCode.ERROR)
    return out.spans


class Collect(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def _messages(spans: Sequence[ReadableSpan]) -> list[bytes]:
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        assert span.context is not None
        by_trace.setdefault(span.context.trace_id, []).append(span)
    encoder = SpanEncoder()
    return [encoder.encode(group) for group in by_trace.values()]


@pytest.mark.benchmark(group="tail-worker: x1000 spans")
@pytest.mark.parametrize("path", ["in_process", "worker"])
def test_decide_path(benchmark: Any, path: str) -> None:
    spans = _spans(TRACES)
    messages = _messages(spans)
    exporter = NoopExporter()
    now = [0.0]

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if path == "in_process":
            collect = HeldCollect()
            proc = TailSamplingProcessor(collect, default_policies(), start_worker=False, self_metrics=False,
                                         max_spans=10**6, clock=lambda: now[0])
            return (proc, collect), {}
        part = Partition(default_policies(), ttl_s=300, cache_size=10**5, environ={"OTELKIT_TAIL_MAX_SPANS": "1000000"},
                         clock=lambda: now[0])
        return (part, None), {}

    def run(target: Any, collect: HeldCollect | None) -> None:
        now[0] += 1000.0
        if collect is not None:
            for span in spans:
                target.on_end(span)
            now[0] += 100.0
            target.process_due()
            exporter.export_encoded(EncodedBatch(collect.datas, collect.routes))
            return
        keys = target.keys
        for offset, value in enumerate(messages):
            target.add(offset, decode(value, 1 << 24, keys))
        now[0] += 100.0
        for outcome in target.decide():
            if outcome.spans:
                exporter.export_encoded(EncodedBatch([d for d, _ in outcome.spans], [r for _, r in outcome.spans]))
            target.release(outcome.offsets)
        assert target.committable() == len(messages)

    benchmark.extra_info["side"] = path
    benchmark.pedantic(run, setup=setup, rounds=15, iterations=1, warmup_rounds=1)
    try:
        benchmark.extra_info["per_span_us"] = round(benchmark.stats.stats.median / len(spans) * 1e6, 2)
    except AttributeError:  # --benchmark-disable
        pass


FLEET_TRACES = 6000
FLEET_PARTITIONS = 6
FLEET_ROUNDS = int(os.environ.get("BENCH_FLEET_ROUNDS", "3"))  # rounds of 1, 2, 3 workers
KAFKA_FAST = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class _Round:
    """A fresh topic and group with ``workers`` worker processes; ``run`` times one burst."""

    def __init__(self, tansu: Tansu, endpoint: str, workers: int) -> None:
        from confluent_kafka import Producer

        self.topic = "bench-" + uuid.uuid4().hex[:8]
        self.bootstrap = tansu.bootstrap
        tansu.create_topic(self.topic, partitions=FLEET_PARTITIONS)
        env = scrubbed_env({
            "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": tansu.bootstrap, "OTELKIT_KAFKA_TOPIC": self.topic,
            "OTELKIT_TAIL_WORKER_GROUP": "g-" + self.topic, "OTELKIT_TAIL_POLICIES": POLICIES,
            "OTELKIT_TAIL_WORKER_CONSUMER_CONFIG": ",".join(f"{k}={v}" for k, v in KAFKA_FAST.items()),
            "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS": "200", "OTELKIT_TAIL_DECISION_WAIT_MS": "300",
            "OTELKIT_TAIL_MAX_SPANS": "200000", "OTEL_TRACES_EXPORTER": "otelkit_otlp",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint, "OTELKIT_SELF_METRICS": "false",
        })
        self.group = "g-" + self.topic
        self.producer = Producer({"bootstrap.servers": tansu.bootstrap, "linger.ms": "5"})
        self.procs = [ManagedProcess([sys.executable, "-m", "otelkit", "tail-worker"], env, "bench-tail-worker")
                      for _ in range(workers)]
        self.workers = workers
        self.last: tuple[list[int], list[int]] = ([], [])
        self.sent = [0] * FLEET_PARTITIONS

    def _write(self, messages: Sequence[tuple[int, bytes]]) -> None:
        for tid, value in messages:
            while True:
                try:
                    self.producer.produce(self.topic, value, format(tid, "032x").encode(),
                                          partition=tid % FLEET_PARTITIONS)
                    self.sent[tid % FLEET_PARTITIONS] += 1
                    break
                except BufferError:
                    self.producer.poll(0.05)
        self.producer.flush(30)

    def deciders(self) -> set[str]:
        """The workers named by the decisions topic's records so far."""
        import json

        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "peek-" + self.topic})
        names: set[str] = set()
        try:
            consumer.assign([TopicPartition(self.topic + "_decisions", p, 0) for p in range(FLEET_PARTITIONS)])
            for msg in consumer.consume(10000, 1.0):
                if msg.error() is None:
                    names.add(json.loads(msg.value())["w"])
        except Exception:  # noqa: BLE001 - the topic may not exist yet
            pass
        finally:
            consumer.close()
        return names

    def committed_all(self) -> bool:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group, **KAFKA_FAST})
        try:
            parts = [TopicPartition(self.topic, p) for p in range(FLEET_PARTITIONS)]
            committed = consumer.committed(parts, timeout=5)
            ends = self.sent  # what we wrote (a fresh topic): the watermarks Tansu reports may lag
            self.last = ([tp.offset for tp in committed], list(ends))
            return all(tp.offset >= end or end == 0 for tp, end in zip(committed, ends, strict=True))
        except Exception:  # noqa: BLE001 - a rebalance in progress: ask again
            return False
        finally:
            consumer.close()

    def warm_up(self, warm: Sequence[tuple[int, bytes]]) -> None:
        """Until every worker has decided something (each holds partitions), then all committed."""
        def joined() -> bool:
            self._write(warm)
            return len(self.deciders()) >= self.workers

        assert _until(joined, 90.0), "the workers did not all join the group"
        assert _until(self.committed_all, 60.0), self.last

    def run(self, burst: Sequence[tuple[int, bytes]]) -> float:
        began = time.monotonic()
        self._write(burst)
        assert _until(self.committed_all, 300.0), self.last
        return time.monotonic() - began

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()


def _keyed(spans: Sequence[ReadableSpan]) -> list[tuple[int, bytes]]:
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        assert span.context is not None
        by_trace.setdefault(span.context.trace_id, []).append(span)
    encoder = SpanEncoder()
    return [(tid, encoder.encode(group)) for tid, group in by_trace.items()]


@pytest.fixture(scope="module")
def bench_tansu() -> Iterator[Tansu]:
    proc = start_tansu()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.benchmark(group="tail-worker fleet: spans/s through Tansu")
def test_fleet_throughput(benchmark: Any, bench_tansu: Tansu) -> None:
    from otelkit.receiver import OtlpReceiver

    burst = _keyed(_spans(FLEET_TRACES, seed=2))
    spans = 5 * FLEET_TRACES
    rates: dict[int, list[float]] = {1: [], 2: [], 3: []}

    def measure() -> None:
        with OtlpReceiver() as sink:
            for _ in range(FLEET_ROUNDS):
                for workers in rates:
                    fleet = _Round(bench_tansu, sink.endpoint, workers)
                    try:
                        fleet.warm_up(_keyed(_spans(2 * FLEET_PARTITIONS, seed=3)))
                        rates[workers].append(spans / fleet.run(burst))
                    finally:
                        fleet.close()

    benchmark.pedantic(measure, rounds=1, iterations=1)
    summary = {k: {"median": round(statistics.median(v)), "min": round(min(v)), "max": round(max(v))}
               for k, v in rates.items()}
    benchmark.extra_info["side"] = "otelkit"
    benchmark.extra_info["spans_per_s"] = summary
    print(f"\ntail-worker fleet, {spans} spans, {FLEET_ROUNDS} rounds: {summary}")
