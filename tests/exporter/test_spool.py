"""The disk spool: records, claims shared by processes, damage, limits, and the paced replayer."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otelkit.exporter._spool import DELIVERED, Spool
from otelkit.exporter._spool_replay import BACKOFF_MAX_S, Replayer

from .spooling import drain, make


class WallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_records_round_trip_and_a_drained_segment_is_removed(tmp_path: Path) -> None:
    spool = make(tmp_path)
    assert spool.append(3, b"first") and spool.append(5, b"second", key=b"k" * 32)
    spool.rotate()
    claim = spool.claim()
    assert claim is not None
    records = claim.records()
    assert [(r.spans, r.body, r.key) for r in records] == [(3, b"first", None), (5, b"second", b"k" * 32)]
    for r in records:
        claim.mark(r, DELIVERED)
    claim.finish()
    assert list((tmp_path / "otlp_http").glob("*.seg")) == []
    assert spool.snapshot()["spooled_spans"] == 8 and spool.snapshot()["spooled_records"] == 2


def test_a_partly_replayed_segment_keeps_only_what_is_pending(tmp_path: Path) -> None:
    spool = make(tmp_path)
    for i in range(4):
        spool.append(1, b"r%d" % i)
    spool.rotate()
    claim = spool.claim()
    assert claim is not None
    first = claim.records()[0]
    claim.mark(first, DELIVERED)
    claim.finish()  # the receiver failed after one record: the rest stay
    assert drain(spool) == [b"r1", b"r2", b"r3"]


def test_the_active_segment_is_not_replayable_until_rotated(tmp_path: Path) -> None:
    writer = make(tmp_path)
    writer.append(2, b"live")
    other = make(tmp_path)  # another process's view: the writer holds the segment's lock
    assert other.claim() is None and writer.claim() is None
    writer.rotate()
    assert drain(other) == [b"live"]


def test_two_claimers_never_get_the_same_segment(tmp_path: Path) -> None:
    a, b = make(tmp_path), make(tmp_path)
    a.append(1, b"only")
    a.rotate()
    first = a.claim()
    assert first is not None
    assert b.claim() is None  # locked by the first claim
    first.mark(first.records()[0], DELIVERED)
    first.finish()
    assert b.claim() is None  # unlinked: nothing left to replay twice


def _replay_worker(directory: str, out: str, barrier: object) -> None:
    spool = Spool(directory, "otlp_http", 1 << 30, 3600.0)
    barrier.wait()  # type: ignore[attr-defined]
    with open(out, "wb") as f:
        for body in drain(spool):
            f.write(body + b"\n")


def test_processes_sharing_a_directory_replay_each_record_exactly_once(tmp_path: Path) -> None:
    writer = make(tmp_path)
    expected = set()
    for seg in range(40):
        for i in range(25):
            body = b"%03d-%03d" % (seg, i)
            writer.append(1, body)
            expected.add(body)
        writer.rotate()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_replay_worker, args=(str(tmp_path), str(tmp_path / f"out{i}"), barrier))
             for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    got = [line for i in range(4) for line in (tmp_path / f"out{i}").read_bytes().splitlines()]
    assert len(got) == len(expected) == 1000 and set(got) == expected  # none twice, none lost


def _append_then_die(directory: str) -> None:
    spool = Spool(directory, "otlp_http", 1 << 30, 3600.0)
    for i in range(10):
        spool.append(1, b"killed-%d" % i)
    os.kill(os.getpid(), signal.SIGKILL)  # no rotate, no close, no flush


def test_a_sigkilled_writers_records_are_replayed_by_the_next_process(tmp_path: Path) -> None:
    proc = multiprocessing.get_context("fork").Process(target=_append_then_die, args=(str(tmp_path),))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    assert drain(make(tmp_path)) == [b"killed-%d" % i for i in range(10)]


def test_a_forked_child_neither_writes_to_nor_holds_its_parents_segment(tmp_path: Path) -> None:
    spool = make(tmp_path)
    spool.append(1, b"parent")  # the parent's active segment, locked by the parent
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: its own segment; stays alive until the parent has checked
        code = 0
        try:
            spool.append(1, b"child")
            spool.rotate()
        except BaseException:  # noqa: BLE001
            code = 1
        os.write(ready_w, b"x")
        os.read(done_r, 1)
        os._exit(code)
    try:
        assert os.read(ready_r, 1) == b"x"
        spool.rotate()
        # The child is still alive: were it holding an inherited copy of the parent's
        # descriptor, the parent's segment would stay locked and unreplayable.
        assert sorted(drain(make(tmp_path))) == [b"child", b"parent"]
    finally:
        os.write(done_w, b"x")
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _segment(tmp_path: Path) -> Path:
    (path,) = (tmp_path / "otlp_http").glob("*.seg")
    return path


def test_a_corrupt_record_is_skipped_counted_once_and_the_rest_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = make(tmp_path)
    for body in (b"aaaa", b"bbbb", b"cccc"):
        spool.append(1, body)
    spool.rotate()
    path = _segment(tmp_path)
    data = bytearray(path.read_bytes())
    data[data.index(b"bbbb")] ^= 0xFF  # one flipped bit in the second body
    path.write_bytes(bytes(data))
    claim = spool.claim()
    assert claim is not None
    records = claim.records()
    assert [r.body for r in records] == [b"aaaa", b"cccc"]
    claim.mark(records[0], DELIVERED)
    claim.finish()  # one left pending: the next claim must not count the damage again
    assert drain(spool) == [b"cccc"]
    assert spool.snapshot()["corrupt_records"] == 1
    assert "checksum mismatch" in caplog.text


def test_a_truncated_tail_and_garbage_are_skipped_and_counted(tmp_path: Path) -> None:
    spool = make(tmp_path)
    spool.append(1, b"intact")
    spool.append(1, b"cut short")
    spool.rotate()
    path = _segment(tmp_path)
    data = path.read_bytes()
    path.write_bytes(b"\x00garbage" + data[:-6])  # garbage before, the last record cut
    assert drain(spool) == [b"intact"]
    assert spool.snapshot()["corrupt_records"] == 2


def test_expired_records_are_dropped_and_counted(tmp_path: Path) -> None:
    clock = WallClock()
    spool = make(tmp_path, max_age_s=60.0, clock=clock)
    spool.append(7, b"old")
    clock.now += 61
    spool.append(2, b"new")
    spool.rotate()
    replayer = Replayer(spool, lambda r: Result(True), spans_per_s=1000, wait=lambda s: False)
    replayer.run_once()
    snap = spool.snapshot()
    assert snap["expired_spans"] == 7 and snap["replayed_spans"] == 2


def test_appends_past_max_bytes_are_refused_and_counted(tmp_path: Path) -> None:
    spool = make(tmp_path, max_bytes=64 * 1024)
    assert spool.append(10, b"x" * 40_000)
    assert not spool.append(10, b"y" * 40_000)
    snap = spool.snapshot()
    assert snap["spooled_spans"] == 10 and snap["full_spans"] == 10 and snap["bytes"] <= 64 * 1024


@dataclass
class Result:
    ok: bool
    rejected: int = 0
    spoolable: bool = True


def test_replay_is_paced_by_spans_per_second(tmp_path: Path) -> None:
    spool = make(tmp_path)
    for n in (100, 300, 50):
        spool.append(n, b"b%d" % n)
    waits: list[float] = []
    sent: list[int] = []
    replayer = Replayer(spool, lambda r: (sent.append(r.spans), Result(True))[1], spans_per_s=1000,
                        wait=lambda s: bool(waits.append(s)))
    assert replayer.run_once() > 0  # our own segment is under a second old: not replayed yet
    spool.rotate()
    replayer.run_once()
    assert sent == [100, 300, 50]
    assert waits == pytest.approx([0.1, 0.3, 0.05])
    assert spool.snapshot()["replayed_spans"] == 450


def test_replay_backs_off_while_down_and_clears_the_outage_on_success(tmp_path: Path) -> None:
    spool = make(tmp_path)
    spool.append(5, b"x")
    spool.rotate()
    up = {"on": False}
    replayer = Replayer(spool, lambda r: Result(up["on"]), spans_per_s=1000, wait=lambda s: False)
    replayer.failed()
    delays = [replayer.run_once() for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, BACKOFF_MAX_S, BACKOFF_MAX_S] and replayer.outage
    up["on"] = True
    replayer.run_once()
    assert not replayer.outage and spool.snapshot()["replayed_spans"] == 5


def test_a_record_the_receiver_refuses_for_good_is_dropped_not_retried(tmp_path: Path) -> None:
    spool = make(tmp_path)
    spool.append(4, b"bad")
    spool.append(6, b"good")
    spool.rotate()
    replayer = Replayer(spool, lambda r: Result(r.body == b"good", spoolable=False), spans_per_s=1000,
                        wait=lambda s: False)
    replayer.run_once()
    snap = spool.snapshot()
    assert snap["dropped_spans"] == 4 and snap["replayed_spans"] == 6
    assert spool.claim() is None


def test_replayer_rejects_a_bad_rate(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spans_per_s"):
        Replayer(make(tmp_path), lambda r: Result(True), spans_per_s=0)


# ------------------------------------------------------------------ through the OTLP/HTTP exporter


def test_http_exporter_spools_while_down_and_replays_every_span_on_recovery(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export import SpanExportResult

    from otelkit.exporter.http import OtlpHttpSpanExporter
    from otelkit.receiver import OtlpReceiver
    from otelkit.testing import free_port

    from .conftest import realistic_batch

    def wait_until(cond: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(0.02)
        return False

    port = free_port()
    exp = OtlpHttpSpanExporter(
        endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=2.0, retry_initial=0.05, spool_dir=str(tmp_path),
        environ={"OTELKIT_SELF_METRICS": "false"},
    )
    batches = [realistic_batch(50, seed=s) for s in range(6)]
    for b in batches:  # nobody listens: the first is retried then spooled, the rest go straight to disk
        assert exp.export(b) == SpanExportResult.SUCCESS
    stats = exp.stats()
    assert stats["spans_spooled"] == 300 and stats["spans_exported"] == stats["spans_failed"] == 0
    # refused: spooled at once, then straight to disk; only the replay thread's probes go out
    assert stats["requests"] < len(batches)
    with OtlpReceiver(port=port) as rx:
        assert rx.wait_for_spans(300, timeout=20)
        exp.export(realistic_batch(10, seed=99))
        assert rx.wait_for_spans(310, timeout=20)
        want = {s.context.trace_id.to_bytes(16, "big") for b in batches for s in b}
        assert want <= {r.span.trace_id for r in rx.spans()}
        # the replayer counts a record once its answer is read, a moment after the receiver has it
        assert wait_until(lambda: exp.stats()["spool_replayed_spans"] == 300, timeout=10), exp.stats()
        assert exp.stats()["spool_corrupt_records"] == 0
        exp.shutdown()


def test_spool_counts_are_self_metrics(tmp_path: Path) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export import SpanExportResult

    from otelkit.exporter.http import OtlpHttpSpanExporter
    from otelkit.testing import free_port

    from .conftest import realistic_batch

    reader = InMemoryMetricReader()
    exp = OtlpHttpSpanExporter(
        endpoint=f"http://127.0.0.1:{free_port()}/v1/traces", timeout=0.5, max_retries=0, spool_dir=str(tmp_path),
        meter_provider=MeterProvider(metric_readers=[reader]), environ={"OTELKIT_SELF_METRICS": "true"},
    )
    assert exp.export(realistic_batch(12)) == SpanExportResult.SUCCESS
    points: dict[tuple[str, str], float] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    if metric.name.startswith("otelkit.exporter.spool."):
                        points[(metric.name, str(p.attributes.get("otelkit.spool.outcome", "")))] = p.value
    assert points[("otelkit.exporter.spool.spans", "spooled")] == 12
    assert points[("otelkit.exporter.spool.spans", "replayed")] == 0
    assert points[("otelkit.exporter.spool.corrupt", "")] == 0
    assert points[("otelkit.exporter.spool.size", "")] > 0
    exp.shutdown()


def test_a_segment_that_could_not_be_read_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make(tmp_path)
    spool.append(3, b"keep me")
    spool.rotate()
    claim = spool.claim()
    assert claim is not None

    def broken(data: bytes) -> list[object]:
        raise OSError("I/O error")

    monkeypatch.setattr(claim, "_parse", broken)
    with pytest.raises(OSError):
        claim.records()
    claim.finish()  # must not take an unread segment for an empty one
    monkeypatch.undo()
    assert drain(spool) == [b"keep me"]


def test_a_short_write_is_undone_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make(tmp_path)
    assert spool.append(1, b"before")
    real_write = os.write

    def disk_full(fd: int, data: bytes) -> int:
        return real_write(fd, data[:-5])  # the disk filled up mid-record

    monkeypatch.setattr(os, "write", disk_full)
    assert not spool.append(4, b"cut short by a full disk")
    monkeypatch.undo()
    assert spool.append(1, b"after")
    spool.rotate()
    assert drain(spool) == [b"before", b"after"]
    snap = spool.snapshot()
    assert snap["full_spans"] == 4 and snap["spooled_spans"] == 2 and snap["corrupt_records"] == 0
