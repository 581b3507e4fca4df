"""``otelkit demo --distributed``: two services, two tail workers, one Tansu broker.

Starts a Tansu broker and an embedded OTLP receiver on 127.0.0.1, two ``otelkit tail-worker``
processes in one group, and drives two in-process services (``gateway`` calls ``payments``)
writing their spans to Kafka with ``otelkit_kafka``. Every second it prints the traces
produced, decided (from the decisions topic, per worker), kept and kept whole (all four
spans from both services) at the receiver, and the group's lag. Ends with a summary; stops
every process it started. With ``report``, records the run every ``duration / 10`` seconds
(0.25 to 1 s; :class:`otelkit.demo.distributed_report.DistRecorder`), the last point after
the workers stopped, and writes the HTML report of it.
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
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
POLICIES = "errors=status_code(status_codes=ERROR);sample=probabilistic(sampling_percentage=5)"
LABELS = ("dropped", "kept: errors", "kept: sample")
"""The decision labels of :data:`POLICIES`, as the report names them."""
STATS = "otelkit tail-worker stats: "


def _services(bootstrap: str, topic: str) -> tuple[dict[str, TracerProvider], list[Any]]:
    from otelkit.exporter.kafka import KafkaSpanExporter

    out, exporters = {}, []
    for name in ("gateway", "payments"):
        provider = TracerProvider(resource=Resource({"service.name": name}))
        exporter = KafkaSpanExporter(bootstrap_servers=bootstrap, topic=topic, environ={})
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
        out[name] = provider
        exporters.append(exporter)
    return out, exporters


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
        self.by_label: Counter[str] = Counter()  # "kept: <policy>" or "dropped"
        self.decided: set[int] = set()
        self.kept: set[int] = set()

    def poll(self) -> None:
        for msg in self.decisions.consume(1000, 0.05):
            key, value = msg.key(), msg.value()
            if msg.error() is None and key and value:
                record = json.loads(value)
                tid = int(key, 16)
                self.decided.add(tid)
                if record["k"]:
                    self.kept.add(tid)
                self.per_worker[(record.get("w", "?"), "kept" if record["k"] else "dropped")] += 1
                self.by_label[f"kept: {record.get('l') or '?'}" if record["k"] else "dropped"] += 1

    def lag(self) -> int | None:
        try:
            committed = self.group.committed(self.tps, timeout=2)
            ends = [self.group.get_watermark_offsets(tp, timeout=2)[1] for tp in self.tps]
        except Exception:  # noqa: BLE001 - a rebalance in progress: unknown this second
            return None
        # Tansu reports a high watermark of the last record batch's base offset + 1 (a batch of
        # offsets 0-4 gives 1, not 5), so a caught-up partition can read below its committed
        # offset: count it as 0, not as a negative lag (docs/tail-worker.md)
        return sum(max(0, end - max(0, tp.offset)) for tp, end in zip(committed, ends, strict=True))

    def close(self) -> None:
        self.decisions.close()
        self.group.close()


def run_distributed(
    duration: float, rate: float, seed: int | None = None, out: Any = None, report: str | Path | None = None,
) -> int:
    """Run the distributed demo for ``duration`` seconds at ``rate`` traces/s and, with
    ``report``, write its HTML report there. Exit code: 0 ok, 1 a trace was not kept whole
    or the report could not be written."""
    from otelkit.demo.distributed_report import DistRecorder
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
            "OTELKIT_TAIL_POLICIES": POLICIES,
            "OTELKIT_TAIL_DECISION_WAIT_MS": "500", "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS": "300",
            "OTEL_TRACES_EXPORTER": "otelkit_otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint,
            # the demo reads lag and decisions itself; no metrics backend runs beside it
            "OTEL_METRICS_EXPORTER": "none",
        })
        workers = [ManagedProcess([sys.executable, "-m", "otelkit", "tail-worker"], env, "tail-worker")
                   for _ in range(2)]
        services, exporters = _services(tansu.bootstrap, topic)
        run = _Run(out, receiver, exporters, DistRecorder(LABELS) if report else None)
        errors: set[int] = set()
        print(f"broker {tansu.bootstrap}, topic {topic} ({PARTITIONS} partitions), workers "
              f"{[w.pid for w in workers]}, receiver {receiver.endpoint}", file=out)
        start = time.monotonic()
        next_line = start + 1.0
        # the report's points: up to 10 over a short run, one a second over a long one
        every = min(1.0, max(0.25, duration / 10)) if report else 1.0
        next_point = start + every
        while True:
            now = time.monotonic()
            if now - start >= duration:
                break
            tid, error = _trace(services, rng)
            run.produced += 1
            if error:
                errors.add(tid)
            if watch is None:
                watch = _Watch(tansu.bootstrap, topic, group) if now - start > 2 else None
            if now >= next_point:
                run.line(now - start, watch, show=now >= next_line)
                while next_point <= now:  # a slow lag read does not make a burst of points
                    next_point += every
                while next_line <= now:
                    next_line += 1.0
            time.sleep(max(0.0, start + run.produced / rate - time.monotonic()))
        for provider in services.values():
            provider.force_flush()
        deadline = time.monotonic() + 15
        watch = watch or _Watch(tansu.bootstrap, topic, group)
        while time.monotonic() < deadline:
            watch.poll()
            if len(watch.decided) >= run.produced:
                break
        for worker in workers:  # each exports what it kept and prints its stats line (its drops) as it exits
            worker.stop()
        run.line(time.monotonic() - start, watch)
        code = _summary(out, run.produced, errors, watch, receiver)
        if report is not None and run.recorder is not None:
            code = max(code, _write_report(out, report, run, errors, watch, workers,
                                           {"duration": duration, "rate": rate, "seed": seed}))
        return code
    finally:
        if watch is not None:
            watch.close()
        for provider in services.values():
            provider.shutdown()
        for worker in workers:
            worker.stop()
        receiver.stop()
        tansu.stop()


class _Run:
    """What the once-a-second line reads, and the recorder it feeds."""

    def __init__(self, out: Any, receiver: Any, exporters: list[Any], recorder: Any) -> None:
        self.out, self.receiver, self.exporters, self.recorder = out, receiver, exporters, recorder
        self.produced = 0

    def spans_in(self) -> int:
        return sum(int(e.stats()["spans_exported"]) for e in self.exporters)

    def line(self, at: float, watch: _Watch | None, show: bool = True) -> None:
        """Print the line of ``at`` seconds into the run (``show``) and record its point."""
        from otelkit.demo.distributed_report import DistPoint

        traces, whole = _whole(self.receiver)
        lag = None
        if watch is not None:
            watch.poll()
            lag = watch.lag()
        decided = "-" if watch is None else str(len(watch.decided))
        if show:
            print(f"{at:5.1f}s produced {self.produced:5d}  decided {decided:>5}  kept {len(traces):4d} "
                  f"(whole {whole:4d})  lag {'-' if lag is None else lag}", file=self.out, flush=True)
        if self.recorder is not None:
            self.recorder.add(DistPoint(at, self.produced, len(traces), self.spans_in(),
                                        int(self.receiver.stats()["spans"]),
                                        None if watch is None else dict(watch.by_label), lag))


def _whole(receiver: Any) -> tuple[dict[int, set[tuple[str, int]]], int]:
    traces: dict[int, set[tuple[str, int]]] = {}
    for r in receiver.spans():
        tid = int.from_bytes(r.span.trace_id, "big")
        traces.setdefault(tid, set()).add((r.resource.get("service.name", ""), int.from_bytes(r.span.span_id, "big")))
    whole = sum(1 for spans in traces.values()
                if len(spans) == SPANS_PER_TRACE and {s for s, _ in spans} == {"gateway", "payments"})
    return traces, whole


def _worker_drops(workers: list[Any]) -> dict[str, int] | None:
    """Spans (and skipped messages) the workers dropped, by reason, from the stats line each
    prints as it exits; ``None`` when a worker printed none."""
    drops: Counter[str] = Counter()
    for worker in workers:
        lines = [x for x in worker.log_path.read_text(errors="replace").splitlines() if x.startswith(STATS)]
        if not lines:
            return None
        stats = json.loads(lines[-1][len(STATS):])
        drops["evicted"] += int(stats.get("evicted_spans", 0))
        drops["buffer overflow"] += int(stats.get("overflow_spans", 0))
        for key, n in stats.items():
            if key.startswith("bad_messages."):
                drops[f"bad messages ({key.split('.', 1)[1]})"] += int(n)
    return dict(drops)


def _write_report(out: Any, path: str | Path, run: _Run, errors: set[int], watch: _Watch,
                  workers: list[Any], options: dict[str, Any]) -> int:
    from otelkit.demo.distributed_report import DistTotals, write_distributed_report

    traces, whole = _whole(run.receiver)
    lost = sum(max(0, SPANS_PER_TRACE - len(traces.get(t, ()))) for t in watch.kept)
    per_worker: dict[str, dict[str, int]] = {}
    for (worker, what), n in watch.per_worker.items():
        per_worker.setdefault(worker, {})[what] = n
    failed = sum(int(e.stats()["spans_failed"]) + int(e.stats()["spans_rejected"]) for e in run.exporters)
    totals = DistTotals(
        produced=run.produced, decided=len(watch.decided), kept=len(traces), whole=whole, errors=len(errors),
        errors_whole=sum(1 for t in errors if len(traces.get(t, ())) == SPANS_PER_TRACE),
        spans_in=run.spans_in(), spans_out=int(run.receiver.stats()["spans"]), per_worker=per_worker,
        drops={"services": {"export failed": failed}, "tail workers": _worker_drops(workers),
               "delivery": {"kept, not received": lost}},
    )
    try:
        written = write_distributed_report(path, run.recorder.series(), totals, options)
    except OSError as exc:
        print(f"cannot write the report {str(path)!r}: {exc}", file=out)
        return 1
    print(f"report written to {written}", file=out)
    return 0


def _summary(out: Any, produced: int, errors: set[int], watch: _Watch, receiver: Any) -> int:
    traces, whole = _whole(receiver)
    errors_whole = sum(1 for t in errors if len(traces.get(t, ())) == SPANS_PER_TRACE)
    print(f"\ntraces produced {produced}, decided {len(watch.decided)}, kept {len(traces)} "
          f"({whole} whole across gateway and payments)", file=out)
    print(f"error traces kept whole: {errors_whole}/{len(errors)}", file=out)
    for (worker, what), n in sorted(watch.per_worker.items()):
        print(f"  worker {worker}: {what} {n}", file=out)
    return 0 if errors_whole == len(errors) and whole == len(traces) else 1
