"""DeliveryLedger: each message settled once; nothing sent or spooled after close."""

from __future__ import annotations

import os
from pathlib import Path

from otelkit.exporter._http_send import Outcome
from otelkit.exporter._kafka_call import KafkaCall
from otelkit.exporter._kafka_delivery import DeliveryLedger
from otelkit.exporter._spool import Spool
from otelkit.exporter._spool_replay import Replayer
from otelkit.exporter._stats import ExportStats

from .test_kafka import FakeClock, FakeProducer


def ledger_with(producer: FakeProducer, tmp_path: Path | None = None) -> tuple[DeliveryLedger, ExportStats]:
    stats = ExportStats("t", self_metrics=False)
    spool = Spool(str(tmp_path), "kafka", 1 << 20, 3600.0) if tmp_path is not None else None
    replayer = Replayer(spool, lambda r: Outcome(True), 1000) if spool is not None else None  # never started
    return DeliveryLedger(producer, "t", stats, spool, replayer, "127.0.0.1:9092"), stats


def counts(stats: ExportStats) -> tuple[int, int, int]:
    snap = stats.snapshot()
    return snap["spans_exported"], snap["spans_spooled"], snap["spans_failed"]


def test_a_report_settles_its_message_with_the_call_while_export_runs() -> None:
    producer = FakeProducer(FakeClock())
    ledger, stats = ledger_with(producer)
    call = KafkaCall()
    ledger.send(call, b"k", b"v", 3)
    call.queued()
    producer.deliver_all()
    assert call.done.is_set() and not call.failed and counts(stats) == (0, 0, 0)  # summed in the call
    ledger.finish_call(call)
    assert counts(stats) == (3, 0, 0) and stats.snapshot()["requests"] == 1


def test_after_close_a_send_is_refused_and_failed_as_shutdown(tmp_path: Path) -> None:
    producer = FakeProducer(FakeClock())
    ledger, stats = ledger_with(producer, tmp_path)
    assert ledger.close() == 0
    call = KafkaCall()
    ledger.send(call, b"k", b"v", 2)
    ledger.finish_call(call)
    assert producer.sent == [] and call.failed and counts(stats) == (0, 0, 2)
    assert list((tmp_path / "kafka").iterdir()) == []  # nothing written to the closed spool


def test_after_close_the_outage_path_does_not_spool_either(tmp_path: Path) -> None:
    producer = FakeProducer(FakeClock())
    ledger, stats = ledger_with(producer, tmp_path)
    assert ledger._replayer is not None
    ledger._replayer.failed()  # the broker is down: sends go straight to the spool ...
    ledger.close()
    call = KafkaCall()
    ledger.send(call, b"k", b"v", 2)  # ... but not once closed
    ledger.finish_call(call)
    assert counts(stats) == (0, 0, 2) and list((tmp_path / "kafka").iterdir()) == []


def test_close_settles_each_unacknowledged_message_once_in_send_order(tmp_path: Path) -> None:
    producer = FakeProducer(FakeClock(), deliver=False)
    ledger, stats = ledger_with(producer, tmp_path)
    call = KafkaCall()
    for i in range(3):
        ledger.send(call, b"k%d" % i, b"v%d" % i, i + 1)
    call.queued()
    ledger.finish_call(call)  # export() returned: later outcomes count alone
    assert ledger.close() == 3 and call.done.is_set()
    producer.deliver_all()  # late reports: already settled
    assert counts(stats) == (0, 6, 0)
    spool = Spool(str(tmp_path), "kafka", 1 << 20, 3600.0)
    ledger._spool.close()  # type: ignore[union-attr]
    claim = spool.claim()
    assert claim is not None and [(r.key, r.body) for r in claim.records()] == [(b"k0", b"v0"), (b"k1", b"v1"),
                                                                                (b"k2", b"v2")]
    claim.finish()


def test_a_forked_child_does_not_settle_the_parents_messages(tmp_path: Path) -> None:
    producer = FakeProducer(FakeClock(), deliver=False)
    ledger, _ = ledger_with(producer, tmp_path)
    ledger.send(KafkaCall(), b"k", b"v", 1)  # the parent's producer will report it, not the child's
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = ledger.close()  # nothing of the child's is in flight
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ledger.close() == 1
