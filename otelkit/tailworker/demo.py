"""``otelkit demo --distributed``: two services, two tail workers, one Tansu broker.

Starts a Tansu broker and an embedded OTLP receiver on 127.0.0.1, two ``otelkit tail-worker``
processes in one group, and drives two in-process services (``gateway`` calls ``payments``)
writing their spans to Kafka with ``otelkit_kafka``. Every second it prints the traces
produced, decided (from the decisions topic, per worker), kept and kept whole (all four
spans from both services) at the receiver, and the group's lag. Ends with a summary; stops
every process it started.
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from collections import Counter
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

__all__ = ["run_distributed"]

PARTITIONS = 4
SPANS_PER_TRACE = 4
KAFKA_FAST = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


def _services(bootstrap: str, topic: str) -> dict[str, TracerProvider]:
    from otelkit.exporter.kafka import KafkaSpanExporter

    out = {}
    for name in ("gateway", "payments"):
        provider = TracerProvider(resource=Resource({"service.name": name}))
        exporter = KafkaSpanExporter(bootstrap_servers=bootstrap, topic=topic, environ={})
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
        out[name] = provider
    return out


def _trace(services: dict[str, TracerProvider], rng: random.Random) -> tuple[int, bool]:
    gateway, payments = services["gateway"].get_tracer("gw"), services["payments"].get_tracer("pay")
    error = rng.random() < 0.05
    with gateway.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
        with gateway.start_as_current_span("call payments", kind=SpanKind.CLIENT) as client:
            remote = trace.set_span_in_context(trace.NonRecordingSpan(client.get_span_context()))
            with payments.start_as_current_span("POST /charge", context=remote, kind=SpanKind.SERVER):
                with payments.start_as_current_span("card network") as card:
                    if error:
                        card.set_status(Status(StatusCode.ERROR, "declined"))
    return root.get_span_context().trace_id, error


class _Watch:
    """Reads the decisions topic (per-worker counts) and the group's lag."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.topic, self.tps = topic, [TopicPartition(topic, p) for p in range(PARTITIONS)]
        conf = {"bootstrap.servers": bootstrap, **KAFKA_FAST}
        self.decisions = Consumer({**conf, "group.id": group + "-demo-watch", "auto.offset.reset": "earliest"})
        self.decisions.assign([TopicPartition(topic + "_decisions", p, 0) for p in range(PARTITIONS)])
        self.group = Consumer({**conf, "group.id": group})
        self.per_worker: Counter[tuple[str, str]] = Counter()
        self.decided: set[int] = set()

    def poll(self) -> None:
        for msg in self.decisions.consume(1000, 0.05):
            key, value = msg.key(), msg.value()
            if msg.error() is None and key and value:
                record = json.loads(value)
                self.decided.add(int(key, 16))
                self.per_worker[(record.get("w", "?"), "kept" if record["k"] else "dropped")] += 1

    def lag(self) -> int | None:
        try:
            committed = self.group.committed(self.tps, timeout=2)
            ends = [self.group.get_watermark_offsets(tp, timeout=2)[1] for tp in self.tps]
        except Exception:  # noqa: BLE001 - a rebalance in progress: unknown this second
            return None
        return sum(end - max(0, tp.offset) for tp, end in zip(committed, ends, strict=True))

    def close(self) -> None:
        self.decisions.close()
        self.group.close()


def run_distributed(duration: float, rate: float, seed: int | None = None, out: Any = None) -> int:
    """Run the distributed demo for ``duration`` seconds at ``rate`` traces/s; exit code."""
    from otelkit.receiver import OtlpReceiver
    from otelkit.testing import ManagedProcess, scrubbed_env, start_tansu

    out = out or sys.stdout
    rng = random.Random(seed)
    topic = "demo-" + uuid.uuid4().hex[:8]
    group = "tail-" + topic
    tansu = start_tansu()
    receiver = OtlpReceiver().start()
    workers: list[ManagedProcess] = []
    services: dict[str, TracerProvider] = {}
    watch: _Watch | None = None
    try:
        tansu.create_topic(topic, PARTITIONS)
        env = scrubbed_env({
            "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": tansu.bootstrap, "OTELKIT_KAFKA_TOPIC": topic,
            "OTELKIT_TAIL_WORKER_GROUP": group,
            "OTELKIT_TAIL_WORKER_CONSUMER_CONFIG": ",".join(f"{k}={v}" for k, v in KAFKA_FAST.items()),
            "OTELKIT_TAIL_POLICIES": "errors=status_code(status_codes=ERROR);sample=probabilistic(sampling_percentage=5)",
            "OTELKIT_TAIL_DECISION_WAIT_MS": "500", "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS": "300",
            "OTEL_TRACES_EXPORTER": "otelkit_otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint,
            # the demo reads lag and decisions itself; no metrics backend runs beside it
            "OTEL_METRICS_EXPORTER": "none",
        })
        workers = [ManagedProcess([sys.executable, "-m", "otelkit", "tail-worker"], env, "tail-worker")
                   for _ in range(2)]
        services = _services(tansu.bootstrap, topic)
        errors: set[int] = set()
        produced = 0
        print(f"broker {tansu.bootstrap}, topic {topic} ({PARTITIONS} partitions), workers "
              f"{[w.pid for w in workers]}, receiver {receiver.endpoint}", file=out)
        start = time.monotonic()
        next_line = start + 1.0
        while True:
            now = time.monotonic()
            if now - start >= duration:
                break
            tid, error = _trace(services, rng)
            produced += 1
            if error:
                errors.add(tid)
            if watch is None:
                watch = _Watch(tansu.bootstrap, topic, group) if now - start > 2 else None
            if now >= next_line:
                next_line += 1.0
                _line(out, now - start, produced, watch, receiver)
            time.sleep(max(0.0, start + produced / rate - time.monotonic()))
        for provider in services.values():
            provider.force_flush()
        deadline = time.monotonic() + 15
        watch = watch or _Watch(tansu.bootstrap, topic, group)
        while time.monotonic() < deadline:
            watch.poll()
            if len(watch.decided) >= produced:
                break
        _line(out, time.monotonic() - start, produced, watch, receiver)
        return _summary(out, produced, errors, watch, receiver)
    finally:
        if watch is not None:
            watch.close()
        for provider in services.values():
            provider.shutdown()
        for worker in workers:
            worker.stop()
        receiver.stop()
        tansu.stop()


def _whole(receiver: Any) -> tuple[dict[int, set[tuple[str, int]]], int]:
    traces: dict[int, set[tuple[str, int]]] = {}
    for r in receiver.spans():
        tid = int.from_bytes(r.span.trace_id, "big")
        traces.setdefault(tid, set()).add((r.resource.get("service.name", ""), int.from_bytes(r.span.span_id, "big")))
    whole = sum(1 for spans in traces.values()
                if len(spans) == SPANS_PER_TRACE and {s for s, _ in spans} == {"gateway", "payments"})
    return traces, whole


def _line(out: Any, at: float, produced: int, watch: _Watch | None, receiver: Any) -> None:
    traces, whole = _whole(receiver)
    decided, lag = ("-", "-")
    if watch is not None:
        watch.poll()
        decided, lag = str(len(watch.decided)), str(watch.lag())
    print(f"{at:5.1f}s produced {produced:5d}  decided {decided:>5}  kept {len(traces):4d} (whole {whole:4d})"
          f"  lag {lag}", file=out, flush=True)


def _summary(out: Any, produced: int, errors: set[int], watch: _Watch, receiver: Any) -> int:
    traces, whole = _whole(receiver)
    errors_whole = sum(1 for t in errors if len(traces.get(t, ())) == SPANS_PER_TRACE)
    print(f"\ntraces produced {produced}, decided {len(watch.decided)}, kept {len(traces)} "
          f"({whole} whole across gateway and payments)", file=out)
    print(f"error traces kept whole: {errors_whole}/{len(errors)}", file=out)
    for (worker, what), n in sorted(watch.per_worker.items()):
        print(f"  worker {worker}: {what} {n}", file=out)
    return 0 if errors_whole == len(errors) and whole == len(traces) else 1
