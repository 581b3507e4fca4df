"""The spool's syncer: appends (and exports that spool) never wait for ``fdatasync``; the
syncer's thread syncs what was written, close syncs (bounded), a forked child syncs its own.

``os.fdatasync`` is replaced by a fake that records which thread synced which file and can
block on an Event (a disk too busy to sync). Waits on Events have a generous liveness bound
(``LIVE_S``); no test asserts how long anything took.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from otelkit.exporter import _spool
from otelkit.exporter._spool_sync import SegmentSyncer

from .spooling import drain, make

LIVE_S = 10.0
SYNCER = "otelkit-spool-sync"


class FakeSync:
    """Stands in for ``os.fdatasync``: records (thread name, inode) per call; while ``gate``
    is clear, a call from the process that made the fake blocks (a disk busy for ever)."""

    def __init__(self, blocked: bool = False, error: OSError | None = None) -> None:
        self.gate = threading.Event()
        if not blocked:
            self.gate.set()
        self.error = error
        self.pid = os.getpid()
        self.calls: list[tuple[str, int]] = []
        self._cond = threading.Condition()

    def __call__(self, fd: int) -> None:
        ino = os.fstat(fd).st_ino
        with self._cond:
            self.calls.append((threading.current_thread().name, ino))
            self._cond.notify_all()
        if os.getpid() == self.pid:
            self.gate.wait()
        if self.error is not None:
            raise self.error

    def wait_for(self, pred: Callable[[list[tuple[str, int]]], bool]) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: pred(self.calls), LIVE_S)

    def synced(self, path: Path, times: int = 1) -> bool:
        """Wait until the syncer's thread synced ``path`` ``times`` times."""
        ino = path.stat().st_ino
        return self.wait_for(lambda calls: calls.count((SYNCER, ino)) >= times)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeSync]:
    def install(**kw: object) -> FakeSync:
        f = FakeSync(**kw)  # type: ignore[arg-type]
        monkeypatch.setattr(os, "fdatasync", f)
        return f
    return install


def returns(fn: Callable[[], object]) -> bool:
    """Whether ``fn()`` returns (run in a helper thread, waited for at most LIVE_S)."""
    done = threading.Event()

    def run() -> None:
        fn()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(LIVE_S)


def segments(tmp_path: Path, pid: int | None = None) -> list[Path]:
    return sorted((tmp_path / "otlp_http").glob(f"*-{pid}-*.seg" if pid else "*.seg"))


def test_appends_return_while_the_disk_is_too_busy_to_sync(tmp_path: Path, fake: Callable[..., FakeSync]) -> None:
    sync = fake(blocked=True)
    spool = make(tmp_path)
    try:
        assert returns(lambda: [spool.append(2, b"r%d" % i) for i in range(50)])
        (seg,) = segments(tmp_path)
        assert sync.synced(seg)  # the syncer's thread is the one waiting on the disk
        assert returns(lambda: spool.append(3, b"while a sync is in progress"))
        snap = spool.snapshot()
        assert snap["spooled_spans"] == 103 and snap["spooled_records"] == 51 and snap["full_spans"] == 0
    finally:
        sync.gate.set()
    assert spool.close()
    assert len(drain(make(tmp_path))) == 51


def test_a_segment_full_in_an_append_is_synced_and_closed_by_the_syncer(
    tmp_path: Path, fake: Callable[..., FakeSync], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_spool, "SEGMENT_BYTES", 100)  # each append fills its segment
    sync = fake(blocked=True)
    spool = make(tmp_path)
    try:
        assert returns(lambda: [spool.append(1, b"%d" % i * 100) for i in range(3)])
        full = segments(tmp_path)
        assert len(full) == 3
        assert all(sync.synced(seg) for seg in full[:1])
        assert drain(make(tmp_path)) == []  # not replayable before synced and closed
    finally:
        sync.gate.set()
    assert all(sync.synced(seg) for seg in full)
    assert spool.close()
    assert drain(make(tmp_path)) == [b"%d" % i * 100 for i in range(3)]


def test_the_syncer_syncs_each_write_after_the_last_sync(tmp_path: Path, fake: Callable[..., FakeSync]) -> None:
    sync = fake()
    spool = make(tmp_path)
    spool.append(1, b"first")
    (seg,) = segments(tmp_path)
    assert sync.synced(seg, times=1)
    spool.append(1, b"second")
    assert sync.synced(seg, times=2)
    assert all(name == SYNCER for name, _ in sync.calls)
    spool.close()


def test_close_syncs_what_is_unsynced_and_releases_the_segment(tmp_path: Path, fake: Callable[..., FakeSync]) -> None:
    sync = fake(blocked=True)
    spool = make(tmp_path)
    spool.append(4, b"last words")
    (seg,) = segments(tmp_path)
    closed = threading.Event()

    def close() -> None:
        spool.close(timeout_s=LIVE_S)
        closed.set()

    threading.Thread(target=close, daemon=True).start()
    assert sync.synced(seg)
    assert not closed.is_set()  # close waits for the sync
    sync.gate.set()
    assert closed.wait(LIVE_S)
    assert drain(make(tmp_path)) == [b"last words"]  # closed: the lock is released


def test_close_is_bounded_when_the_sync_does_not_return(tmp_path: Path, fake: Callable[..., FakeSync]) -> None:
    sync = fake(blocked=True)
    spool = make(tmp_path)
    spool.append(1, b"x")
    try:
        assert spool.close(timeout_s=0.05) is False  # gave up waiting; the syncer goes on
    finally:
        sync.gate.set()
    assert spool.close()
    assert drain(make(tmp_path)) == [b"x"]


def test_a_failed_sync_is_warned_about_and_the_segment_still_closed(
    tmp_path: Path, fake: Callable[..., FakeSync], caplog: pytest.LogCaptureFixture
) -> None:
    fake(error=OSError(5, "Input/output error"))
    spool = make(tmp_path)
    with caplog.at_level(logging.WARNING, "otelkit.exporter.spool"):
        assert spool.append(2, b"kept in the page cache")
        assert spool.close()
    assert "cannot sync spool segment" in caplog.text
    assert drain(make(tmp_path)) == [b"kept in the page cache"]
    assert spool.snapshot()["spooled_spans"] == 2


def test_a_forked_child_syncs_its_own_segment_on_a_fresh_syncer(tmp_path: Path, fake: Callable[..., FakeSync]) -> None:
    sync = fake(blocked=True)
    spool = make(tmp_path)
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    try:
        assert returns(lambda: spool.append(1, b"parent"))
        (parent_seg,) = segments(tmp_path)
        assert sync.synced(parent_seg)  # the parent's syncer holds that segment's lock, blocked
        pid = os.fork()
        if pid == 0:
            ok = False
            try:
                spool.append(1, b"child")
                (child_seg,) = segments(tmp_path, os.getpid())
                ok = sync.synced(child_seg) and spool.close()
            finally:
                os.write(ready_w, b"1" if ok else b"0")
                os.read(done_r, 1)
                os._exit(0)
        try:
            assert os.read(ready_r, 1) == b"1"  # the child's syncer synced the child's segment
            sync.gate.set()
            assert spool.close()
            # the child is alive: had it kept its copy of the parent's descriptor, the parent's
            # segment would stay locked and unreplayable
            assert sorted(drain(make(tmp_path))) == [b"child", b"parent"]
        finally:
            os.write(done_w, b"x")
            os.waitpid(pid, 0)
    finally:
        sync.gate.set()


def test_an_export_that_spools_returns_while_the_disk_is_too_busy_to_sync(
    tmp_path: Path, fake: Callable[..., FakeSync]
) -> None:
    from opentelemetry.sdk.trace.export import SpanExportResult

    from otelkit.exporter.http import OtlpHttpSpanExporter
    from otelkit.testing import free_port

    from .conftest import realistic_batch

    sync = fake(blocked=True)
    exp = OtlpHttpSpanExporter(
        endpoint=f"http://127.0.0.1:{free_port()}/v1/traces", timeout=1.0, max_retries=0, spool_dir=str(tmp_path),
        environ={"OTELKIT_SELF_METRICS": "false"},
    )
    results: list[SpanExportResult] = []
    try:
        assert returns(lambda: results.extend(exp.export(realistic_batch(20, seed=s)) for s in range(3)))
        assert results == [SpanExportResult.SUCCESS] * 3 and exp.stats()["spans_spooled"] == 60
    finally:
        sync.gate.set()
    exp.shutdown()


def test_syncer_rejects_a_negative_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        SegmentSyncer(interval_s=-1.0)
