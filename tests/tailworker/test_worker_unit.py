"""The worker's message handling without a broker: bad input is counted and skipped."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit.tailworker import TailWorker
from otelkit.tailworker._partition import Partition


class Memory(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


class Msg:
    def __init__(self, value: bytes, offset: int) -> None:
        self._value, self._offset = value, offset

    def value(self) -> bytes:
        return self._value

    def offset(self) -> int:
        return self._offset

    def partition(self) -> int:
        return 2

    def topic(self) -> str:
        return "spans"

    def error(self) -> None:
        return None


def _wired(worker: TailWorker, producer: Any = None) -> list[float]:
    """Give ``worker`` partition 2 on a fake clock (returned: ``clock[0]`` is now), a fake
    consumer and producer, and no commit by time."""
    clock = [100.0]
    worker._parts[2] = Partition(worker.policies, ttl_s=60, cache_size=10, environ={}, decision_wait_ms=10,
                                 clock=lambda: clock[0])
    worker._consumer, worker._out.producer = FakeConsumer(), FakeProducer() if producer is None else producer
    worker._offsets.last = float("inf")
    return clock


def test_bad_messages_are_counted_warned_with_their_position_and_skipped(otlp: Any, caplog: Any) -> None:
    worker = TailWorker(topic="spans", policies="errors=status_code(status_codes=ERROR)", exporter=Memory(),
                        kafka_config={}, environ={})
    worker._parts[2] = Partition(worker.policies, ttl_s=60, cache_size=10, environ={})
    good = otlp.request("a", otlp.span(5, 50, error=True))
    with caplog.at_level(logging.WARNING, "otelkit.tailworker"):
        for offset, value in enumerate([b"\xff\xfe garbage", good[:-3], b"x" * (50 << 20), good]):
            worker._take(Msg(value, offset))
    assert worker.counters["bad_messages.not_otlp"] == 2
    assert worker.counters["bad_messages.too_large"] == 1
    assert worker.counters["messages"] == 4
    text = caplog.text
    assert "spans[2]@0" in text and "spans[2]@2" in text
    assert worker._parts[2].committable() == 3  # the good one waits for its decision


def test_empty_policies_are_rejected() -> None:
    with pytest.raises(ValueError, match="policies"):
        TailWorker(policies=[], exporter=Memory(), kafka_config={}, environ={})


class Flaky(Memory):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.fail:
            return SpanExportResult.FAILURE
        return super().export(spans)


class FakeConsumer:
    def __init__(self) -> None:
        self.paused: set[int] = set()
        self.sought: list[tuple[int, int]] = []
        self.batch: list[Any] = []

    def seek(self, tp: Any) -> None:
        self.sought.append((tp.partition, tp.offset))

    def pause(self, tps: list[Any]) -> None:
        self.paused.update(tp.partition for tp in tps)

    def resume(self, tps: list[Any]) -> None:
        self.paused.difference_update(tp.partition for tp in tps)

    def consume(self, n: int, timeout: float) -> list[Any]:
        batch, self.batch = self.batch, []
        return batch


class FakeProducer:
    def __init__(self, log: list[str] | None = None) -> None:
        self.log = log if log is not None else []
        self.queued = 0

    def produce(self, *args: Any, **kwargs: Any) -> None:
        self.queued += 1
        self.log.append("produce")

    def flush(self, timeout: float) -> int:
        self.log.append(f"flush {self.queued}")
        self.queued = 0
        return 0

    def poll(self, timeout: float) -> int:
        return 0


def test_failed_export_pauses_the_partition_and_holds_its_offsets_until_it_succeeds(
    otlp: Any, monkeypatch: Any
) -> None:
    exporter = Flaky()
    worker = TailWorker(topic="spans", policies="errors=status_code(status_codes=ERROR)", exporter=exporter,
                        kafka_config={}, environ={"OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS": "3600000"})
    clock = [100.0]
    part = Partition(worker.policies, ttl_s=60, cache_size=10, environ={}, decision_wait_ms=10,
                     clock=lambda: clock[0])
    worker._parts[2] = part
    worker._consumer, worker._out.producer = FakeConsumer(), FakeProducer()
    worker._offsets.last = float("inf")
    worker._take(Msg(otlp.request("a", otlp.span(5, 50, error=True)), 0))
    clock[0] += 1
    worker._step()
    assert worker._consumer.paused == {2}
    assert part.committable() == 0 and worker.counters["export_failures"] == 1
    exporter.fail = False
    worker._out.exports.due_at = 0.0
    worker._step()
    assert worker._consumer.paused == set()
    assert part.committable() == 1 and len(exporter.spans) == 1
    assert worker.stats()["kept_by_policy.errors"] == 1


def test_self_metrics_report_decisions_bad_messages_and_buffered_spans(otlp: Any) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    worker = TailWorker(topic="spans", policies="errors=status_code(status_codes=ERROR)", exporter=Memory(),
                        kafka_config={}, self_metrics=True, meter_provider=provider, environ={})
    clock = _wired(worker)
    worker._take(Msg(b"\xff\xfe garbage", 0))
    worker._take(Msg(otlp.request("a", otlp.span(5, 50, error=True)), 1))
    worker._take(Msg(otlp.request("a", otlp.span(6, 60)), 2))
    worker._take(Msg(otlp.request("a", otlp.span(7, 71, 70)), 3))  # no root yet: stays buffered
    clock[0] += 1
    worker._step()
    points: dict[str, list[Any]] = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points[metric.name] = list(metric.data.data_points)
    traces = {(p.attributes["otelkit.tailworker.decision"], p.attributes["otelkit.tailworker.policy"]): p.value
              for p in points["otelkit.tailworker.traces"]}
    assert traces == {("kept", "errors"): 1, ("dropped", ""): 1}
    bad = {p.attributes["otelkit.tailworker.reason"]: p.value for p in points["otelkit.tailworker.bad_messages"]}
    assert bad == {"not_otlp": 1}
    buffered = [(dict(p.attributes), p.value) for p in points["otelkit.tailworker.buffered.spans"]]
    # semconv: the spans topic, and the partition as a string
    assert buffered == [({"messaging.destination.name": "spans", "messaging.destination.partition.id": "2"}, 1)]
    assert [p.value for p in points["otelkit.tailworker.spans_exported"]] == [1]
    provider.shutdown()


def test_cli_flags_override_the_environment(monkeypatch: Any) -> None:
    import signal

    from otelkit.cli import main

    seen: dict[str, Any] = {}

    def fake_run(self: TailWorker) -> None:
        seen.update(topic=self.topic, group=self.group, bootstrap=self.bootstrap, decisions=self.decisions_topic,
                    wait=self.decision_wait_ms, policies=[p.name for p in self.policies])

    monkeypatch.setattr(TailWorker, "run", fake_run)
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # leave pytest's handlers alone
    env = {
        "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "OTELKIT_KAFKA_TOPIC": "env-topic",
        "OTELKIT_TAIL_WORKER_GROUP": "env-group",
        "OTELKIT_TAIL_POLICIES": "env=status_code(status_codes=ERROR)",
        "OTEL_METRICS_EXPORTER": "none",
    }
    assert main(["tail-worker"], environ=env) == 0
    assert seen == {"topic": "env-topic", "group": "env-group", "bootstrap": "127.0.0.1:1",
                    "decisions": "env-topic_decisions", "wait": None, "policies": ["env"]}
    argv = ["tail-worker", "--topic", "t", "--group", "g", "--decisions-topic", "d", "--decision-wait-ms", "250",
            "--policies", "flag=status_code(status_codes=ERROR)", "--bootstrap-servers", "127.0.0.1:2"]
    assert main(argv, environ=env) == 0
    assert seen == {"topic": "t", "group": "g", "bootstrap": "127.0.0.1:2", "decisions": "d", "wait": 250.0,
                    "policies": ["flag"]}


class Ordered(Memory):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.log.append(f"export {len(spans)}")
        return super().export(spans)


def test_decisions_are_delivered_before_their_kept_traces_are_exported(otlp: Any) -> None:
    # A worker killed after exporting must have published the decision: its successor then
    # follows it (and counts the re-read spans as duplicates) instead of deciding again.
    log: list[str] = []
    worker = TailWorker(topic="spans", policies="errors=status_code(status_codes=ERROR)", exporter=Ordered(log),
                        kafka_config={}, environ={})
    clock = _wired(worker, FakeProducer(log))
    worker._take(Msg(otlp.request("a", otlp.span(5, 50, error=True), otlp.span(5, 51, 50)), 0))
    worker._take(Msg(otlp.request("a", otlp.span(6, 60)), 1))
    clock[0] += 1
    worker._step()
    assert log == ["produce", "produce", "flush 2", "export 2"]


def test_a_partition_whose_buffer_nears_its_limit_is_paused_rewound_and_resumed_when_decided(otlp: Any) -> None:
    # max 10 spans, high water 0.8, low 0.5: the 8th buffered span pauses the partition at
    # once; the batch's later messages of it are not read (the consumer is sought back to
    # offset 8), so the buffer never decides a trace early; decisions free it and it resumes.
    env = {"OTELKIT_TAIL_MAX_SPANS": "10", "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS": "3600000"}
    exporter = Memory()
    worker = TailWorker(topic="spans", policies="errors=status_code(status_codes=ERROR)", exporter=exporter,
                        kafka_config={}, environ=env)
    clock = [100.0]
    part = Partition(worker.policies, ttl_s=60, cache_size=100, environ=env, decision_wait_ms=10,
                     clock=lambda: clock[0])
    worker._parts[2] = part
    consumer = worker._consumer = FakeConsumer()
    worker._out.producer = FakeProducer()
    worker._offsets.last = float("inf")
    consumer.batch = [Msg(otlp.request("a", otlp.span(100 + i, 1000 + i, error=i == 0)), i) for i in range(12)]
    worker._step()
    assert consumer.paused == {2} and consumer.sought == [(2, 8)]
    stats = worker.stats()
    assert stats["pause_events.buffer"] == 1 and stats["paused_partitions"] == [2]
    assert part.position == 8 and stats["decided_early"] == 0 and stats["overflow_spans"] == 0
    clock[0] += 1
    worker._step()  # the 8 traces are due: decided, the buffer is empty
    assert consumer.paused == set() and worker.stats()["buffer_full_partitions"] == []
    consumer.batch = [Msg(otlp.request("a", otlp.span(100 + i, 1000 + i)), i) for i in range(8, 12)]
    worker._step()
    clock[0] += 1
    worker._step()
    stats = worker.stats()
    assert stats["traces_dropped"] == 11 and stats["kept_by_policy.errors"] == 1
    assert stats["decided_early"] == 0 and part.committable() == 12 and len(exporter.spans) == 1


@pytest.mark.parametrize(("high", "low"), [(0.0, 0.0), (1.5, 0.5), (0.5, 0.6), (0.5, -0.1)])
def test_backpressure_marks_outside_their_range_are_rejected(high: float, low: float) -> None:
    from otelkit.tailworker._backpressure import Backpressure

    with pytest.raises(ValueError, match="mark"):
        Backpressure(high, low)


def test_backpressure_resumes_only_below_the_low_water_mark() -> None:
    from otelkit.tailworker._backpressure import Backpressure

    bp = Backpressure(0.8, 0.5)
    assert bp.fill(1, 0.79) is False and bp.full() == set()
    assert bp.fill(1, 0.8) is True and bp.full() == {1}
    bp.applied({1})
    assert bp.fill(1, 0.9) is False and bp.fill(1, 0.6) is False and bp.full() == {1}
    assert bp.wanted(set(), {1}) == {1}
    assert bp.fill(1, 0.5) is False and bp.full() == set() and bp.wanted(set(), {1}) == set()
    bp.applied(set())
    assert bp.wanted({1}, {1}) == {1} and bp.events == {"buffer": 1, "export": 1}


def test_assignment_other_than_cooperative_or_eager_is_rejected() -> None:
    with pytest.raises(ValueError, match="cooperative or eager"):
        TailWorker(policies="errors=status_code(status_codes=ERROR)", exporter=Memory(), kafka_config={},
                   assignment="sticky", environ={})


@pytest.mark.parametrize(("assignment", "extra", "strategy"), [
    ("cooperative", {}, "cooperative-sticky"),
    ("eager", {}, "range"),
    ("cooperative", {"partition.assignment.strategy": "roundrobin"}, "roundrobin"),  # the user's own wins
])
def test_group_config_sets_the_strategy_of_the_assignment(assignment: str, extra: dict[str, str], strategy: str) -> None:
    from otelkit.tailworker._kafka import group_config, is_cooperative

    conf = group_config({"bootstrap.servers": "127.0.0.1:1", **extra}, "g", assignment)
    assert conf["partition.assignment.strategy"] == strategy and conf["group.id"] == "g"
    assert conf["enable.auto.commit"] == "false"
    assert is_cooperative(conf) is (strategy == "cooperative-sticky")


def test_a_group_refusing_cooperative_makes_the_worker_rejoin(otlp: Any) -> None:
    class Refused:
        def error(self) -> Any:
            from confluent_kafka import KafkaError

            return KafkaError(KafkaError.INCONSISTENT_GROUP_PROTOCOL)

    worker = TailWorker(topic="spans", policies="errors=status_code(status_codes=ERROR)", exporter=Memory(),
                        kafka_config={}, environ={})
    worker._consumer, worker._out.producer = FakeConsumer(), FakeProducer()
    worker._consumer.batch = [Refused()]
    worker._step()
    assert worker._refused is False  # eager already: nothing to fall back from
    worker._cooperative = True
    worker._consumer.batch = [Refused()]
    worker._step()
    assert worker._refused is True


class Encoded(Memory):
    """An exporter with ``export_encoded`` (as otelkit's): records the batches it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[Any] = []

    def export_encoded(self, spans: Any) -> SpanExportResult:
        self.batches.append(spans)
        return SpanExportResult.SUCCESS


def test_kept_spans_are_exported_as_their_wire_bytes_with_th_and_the_label_spliced_in(otlp: Any) -> None:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from otelkit.exporter._encoded import EncodedBatch

    exporter = Encoded()
    worker = TailWorker(topic="spans", policies="p=probabilistic(sampling_percentage=50)", exporter=exporter,
                        kafka_config={}, environ={})
    clock = _wired(worker)
    tid = (1 << 64) - 1  # randomness (low 56 bits) at its top: kept at 50 %
    sent = [otlp.span(tid, 50, name="root", attrs={"k": "v"}), otlp.span(tid, 51, 50, name="child")]
    worker._take(Msg(otlp.request("a", *sent), 0))
    clock[0] += 1
    worker._step()
    (batch,) = exporter.batches
    assert type(batch) is EncodedBatch and exporter.spans == []  # no SDK span built
    got = [Span.FromString(data) for data in batch.datas]
    for before, after in zip(sent, got, strict=True):
        attrs = {kv.key: kv.value for kv in after.attributes}
        assert after.trace_state == "ot=th:8"
        assert attrs["otelkit.tail.policy"].string_value == "p"
        assert attrs["otelkit.sampling.adjusted_count"].double_value == 2.0
        del after.attributes[:]
        after.trace_state = ""
        before.ClearField("attributes")
        assert after == before  # every other field as it came off the wire


def test_kept_spans_go_out_under_the_resource_and_scope_bytes_they_arrived_with(otlp: Any) -> None:
    from otelkit.exporter._encoded import encode_request

    exporter = Encoded()
    worker = TailWorker(topic="spans", policies="all=probabilistic(sampling_percentage=100)", exporter=exporter,
                        kafka_config={}, environ={})
    clock = _wired(worker)
    value = otlp.rich_request(otlp.span(9, 90, name="root"), otlp.span(9, 91, 90, name="child"))
    worker._take(Msg(value, 0))
    clock[0] += 1
    worker._step()
    (batch,) = exporter.batches
    assert otlp.headers(encode_request(batch)) == otlp.headers(value)
