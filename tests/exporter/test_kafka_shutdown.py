"""KafkaSpanExporter.shutdown(): stop taking exports, flush within the timeout, spool what the
flush failed or left unacknowledged, then close the spool synced; every span counted once."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter._kafka_client import DeliveryCallback
from otelkit.exporter._spool import Spool
from otelkit.exporter._spool_replay import Replayer
from otelkit.exporter.kafka import KafkaSpanExporter

from .test_kafka import FakeClock, FakeProducer, decode, exporter_with, make_spans

_STAY = "stay"  # a ShutdownProducer plan entry: the message stays unacknowledged


class ShutdownProducer(FakeProducer):
    """Nothing is acknowledged before ``flush``; ``flush`` reports the queued messages in order
    by ``plan``: ``None`` acknowledged, an exception failed, ``_STAY`` left unacknowledged."""

    def __init__(self, clock: FakeClock, plan: list[Any]) -> None:
        super().__init__(clock, deliver=False)
        self.plan = plan

    def flush(self, timeout_s: float) -> int:
        self.flush_timeouts.append(timeout_s)
        queue, self.queue = self.queue, []
        for cb, outcome in zip(queue, self.plan, strict=True):
            if outcome == _STAY:
                self.queue.append(cb)
            else:
                cb(outcome)
        return len(self.queue)

    def late_reports(self, err: BaseException | None) -> None:
        """What a client might still report after shutdown: nothing may be counted twice."""
        queue, self.queue = self.queue, []
        for cb in queue:
            cb(err)


@pytest.fixture(autouse=True)
def no_replay_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # The replay thread would claim the segments shutdown closes; these tests read them.
    monkeypatch.setattr(Replayer, "start", lambda self: None)


def exporter_in_flight(producer: FakeProducer, clock: FakeClock, traces: int, **kw: Any) -> KafkaSpanExporter:
    """An exporter whose one export (``traces`` traces of 2 spans) timed out unacknowledged."""
    exporter = exporter_with(producer, clock, timeout_ms=1000, **kw)
    assert exporter.export(make_spans(traces, 2)) is SpanExportResult.FAILURE
    stats = exporter.stats()
    assert stats["spans_exported"] == stats["spans_failed"] == stats["spans_spooled"] == 0
    return exporter


def replayable(spool_dir: Path) -> list[int]:
    """Spans per record the next process could replay now (every segment closed, unlocked)."""
    spool = Spool(str(spool_dir), "kafka", max_bytes=1 << 30, max_age_s=3600.0)
    spans = []
    while (claim := spool.claim()) is not None:
        spans += [r.spans for r in claim.records()]
        os.close(claim.fd)  # keep the segment, locked out of later claims by its removal here
        spool.released(claim.fd)
        claim.path.rename(claim.path.with_suffix(".seen"))
    return spans


def test_deliveries_the_final_flush_fails_are_spooled_into_a_closed_synced_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fdatasync", synced.append)
    clock = FakeClock()
    producer = ShutdownProducer(clock, [RuntimeError("broker gone")] * 3)
    exporter = exporter_in_flight(producer, clock, 3, spool_dir=str(tmp_path))
    exporter.shutdown()
    stats = exporter.stats()
    assert (stats["spans_spooled"], stats["spans_exported"], stats["spans_failed"]) == (6, 0, 0)
    assert stats["spool_spooled_spans"] == 6
    assert synced  # the segment was synced before shutdown returned ...
    assert replayable(tmp_path) == [2, 2, 2]  # ... and closed: the next process replays it


def test_messages_still_unacknowledged_when_the_flush_ends_are_spooled(tmp_path: Path) -> None:
    clock = FakeClock()
    producer = ShutdownProducer(clock, [_STAY] * 2)
    exporter = exporter_in_flight(producer, clock, 2, spool_dir=str(tmp_path))
    exporter.shutdown()
    assert exporter.stats()["spans_spooled"] == 4
    producer.late_reports(None)  # acknowledged after all: already spooled, not counted again
    stats = exporter.stats()
    assert (stats["spans_spooled"], stats["spans_exported"], stats["spans_failed"]) == (4, 0, 0)
    assert replayable(tmp_path) == [2, 2]


def test_each_message_is_counted_once_by_what_the_flush_did_with_it(tmp_path: Path) -> None:
    clock = FakeClock()
    producer = ShutdownProducer(clock, [None, RuntimeError("broker gone"), _STAY, None])
    exporter = exporter_in_flight(producer, clock, 4, spool_dir=str(tmp_path))
    exporter.shutdown()
    producer.late_reports(RuntimeError("purged"))
    stats = exporter.stats()
    assert (stats["spans_exported"], stats["spans_spooled"], stats["spans_failed"]) == (4, 4, 0)
    assert replayable(tmp_path) == [2, 2]


def test_without_a_spool_unacknowledged_messages_fail_as_shutdown_timeout() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    clock = FakeClock()
    producer = ShutdownProducer(clock, [None, RuntimeError("broker gone"), _STAY])
    exporter = exporter_in_flight(producer, clock, 3, meter_provider=provider)
    exporter.shutdown()
    producer.late_reports(None)
    stats = exporter.stats()
    assert (stats["spans_exported"], stats["spans_failed"], stats["spans_spooled"]) == (2, 4, 0)
    failed: dict[str, int] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == "otel.sdk.exporter.span.exported":
                    for point in metric.data.data_points:
                        error = point.attributes.get("error.type")
                        if error is not None:
                            failed[str(error)] = int(point.value)
    assert failed == {"RuntimeError": 2, "shutdown_timeout": 2}
    provider.shutdown()


def test_shutdown_flushes_once_within_the_timeout_and_releases_the_client(tmp_path: Path) -> None:
    clock = FakeClock()
    producer = ShutdownProducer(clock, [_STAY])
    exporter = exporter_in_flight(producer, clock, 1, spool_dir=str(tmp_path))
    exporter.shutdown()
    exporter.shutdown()  # idempotent
    assert producer.flush_timeouts == [1.0] and producer.closed
    assert exporter.export(make_spans(1, 3)) is SpanExportResult.FAILURE
    stats = exporter.stats()
    assert (stats["spans_spooled"], stats["spans_failed"]) == (2, 3)  # the late batch: error "shutdown"
    assert replayable(tmp_path) == [2]


class CallbackKeeper(FakeProducer):
    """Keeps the delivery callbacks so a test can run them at any moment."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock, deliver=False)
        self.kept: list[DeliveryCallback] = []

    def send(self, topic: str, key: bytes | None, value: bytes, on_done: DeliveryCallback) -> None:
        super().send(topic, key, value, on_done)
        self.kept.append(on_done)


def test_a_delivery_report_arriving_after_shutdown_never_reopens_the_spool(tmp_path: Path) -> None:
    clock = FakeClock()
    producer = CallbackKeeper(clock)
    exporter = exporter_in_flight(producer, clock, 2, spool_dir=str(tmp_path))
    exporter.shutdown()  # both unacknowledged: spooled and the spool closed
    for cb in producer.kept:
        cb(RuntimeError("purged at destroy"))
    assert exporter.stats()["spans_spooled"] == 4
    assert replayable(tmp_path) == [2, 2]
    assert list(tmp_path.joinpath("kafka").glob("*.seg")) == []  # no segment opened after close


# ----------------------------------------------------------------- real broker (Tansu)


@pytest.mark.peers
def test_a_batch_the_stopped_broker_never_took_reaches_the_next_process(tmp_path: Path) -> None:
    from otelkit.testing import start_tansu

    from .test_kafka import consume_all

    topic = "shut-" + uuid.uuid4().hex[:8]
    broker = start_tansu()
    port = broker.port
    spool_dir = str(tmp_path / "spool")
    try:
        broker.create_topic(topic, 3)
        exporter = KafkaSpanExporter(bootstrap_servers=broker.bootstrap, topic=topic, timeout_ms=1000,
                                     spool_dir=spool_dir, environ={})
        assert exporter.export(make_spans(2, 2)) is SpanExportResult.SUCCESS
        broker.stop()  # the broker goes away with the next batch in flight
        late = make_spans(3, 2)
        exporter.export(late)  # its messages fail now, at the final flush, or stay unacknowledged
        exporter.shutdown()
        stats = exporter.stats()
        assert (stats["spans_exported"], stats["spans_spooled"], stats["spans_failed"]) == (4, 6, 0)

        broker = start_tansu(port=port)  # back, empty, where the next process looks for it
        broker.create_topic(topic, 3)
        after = KafkaSpanExporter(bootstrap_servers=broker.bootstrap, topic=topic, timeout_ms=5000,
                                  spool_dir=spool_dir, environ={})
        assert after._replayer is not None
        after._replayer.run_once()  # replay by hand (the thread is off in this module)
        assert after.stats()["spool_replayed_spans"] == 6
        after.shutdown()
        got = {bytes(s.trace_id) for m in consume_all(broker, topic, expected=3) for s in decode(m.value())}
        assert got == {s.context.trace_id.to_bytes(16, "big") for s in late if s.context is not None}
    finally:
        broker.stop()
