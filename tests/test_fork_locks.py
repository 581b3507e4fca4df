"""Locks otelkit owns are re-made in a forked child (issue 12, bug 8).

Another thread takes the lock in a tight loop while the main thread forks again and again;
a child that inherited the lock held would block forever on its first use. Every child must
exit within a bounded wait (a hung one is killed and reported, never waited for forever).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit._fork import ForkSafeLock, fresh_event
from otelkit._warn import warn_limited
from otelkit.exporter._stats import ExportStats
from otelkit.pool.buffer import BufferPool

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

_FORKS = 30
_CHILD_JOIN_S = 5.0


def _exit_code_within(pid: int, seconds: float) -> int | None:
    """The child's exit code, or None (after killing it) when it did not exit in time."""
    tick = threading.Event()
    waited = 0.0
    while waited < seconds:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        tick.wait(0.01)
        waited += 0.01
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def _fork_while_hammering(hammer: Callable[[], object], in_child: Callable[[], object]) -> list[int | None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            hammer()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    codes: list[int | None] = []
    try:
        for _ in range(_FORKS):
            pid = os.fork()
            if pid == 0:  # child: use the lock once, then leave without cleanup
                code = 1
                try:
                    in_child()
                    code = 0
                finally:
                    os._exit(code)
            codes.append(_exit_code_within(pid, _CHILD_JOIN_S))
            if codes[-1] is None:
                break  # one hung child proves the bug; do not pay the wait 30 times
    finally:
        stop.set()
        thread.join(10)
    return codes


def test_export_stats_lock_is_fresh_in_a_child_while_another_thread_reads_stats() -> None:
    stats = ExportStats("test/0", self_metrics=False)

    def hammer() -> None:
        stats.snapshot()
        stats.spans(exported=1)

    codes = _fork_while_hammering(hammer, lambda: (stats.spans(exported=1), stats.snapshot()))
    assert codes == [0] * _FORKS


def test_warning_limiter_lock_is_fresh_in_a_child_while_another_thread_warns() -> None:
    logger = logging.getLogger("otelkit.test.fork-locks")
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    codes = _fork_while_hammering(
        lambda: warn_limited(logger, "fork-locks", "hammer %d", 1),
        lambda: warn_limited(logger, "fork-locks-child", "child %d", 2),
    )
    assert codes == [0] * _FORKS


def test_buffer_pool_lock_is_fresh_in_a_child_while_another_thread_uses_it() -> None:
    pool = BufferPool()

    def hammer() -> None:
        pool.release(pool.acquire(100))

    codes = _fork_while_hammering(hammer, lambda: pool.release(pool.acquire(100)))
    assert codes == [0] * _FORKS


def _holding(lock: ForkSafeLock) -> Callable[[], object]:
    """Hold ``lock`` across a GIL release, so a fork often happens while it is held."""
    pause = threading.Event()

    def hold() -> None:
        with lock:
            pause.wait(0.0005)

    return hold


def test_fork_safe_lock_is_fresh_in_a_child_while_another_thread_holds_it() -> None:
    lock = ForkSafeLock()

    def use() -> None:
        with lock:
            pass

    assert _fork_while_hammering(_holding(lock), use) == [0] * _FORKS


def test_fresh_event_keeps_the_state_in_a_new_object() -> None:
    on, off = threading.Event(), threading.Event()
    on.set()
    assert fresh_event(on).is_set() and fresh_event(on) is not on
    assert not fresh_event(off).is_set()


def test_http_exporter_shutdown_event_is_fresh_in_a_child_and_its_sender_watches_it() -> None:
    """The exporter's shutdown event (its lock held by a parent thread at fork: here the
    main thread holds it, deterministically) is re-made in the child, and the sender's
    backoff waits on the child's event: the child's shutdown cuts a retry wait short."""
    from otelkit.exporter.http import OtlpHttpSpanExporter
    from otelkit.testing import free_port

    # nothing listens: a refused connection is retried after a 30 s backoff
    exp = OtlpHttpSpanExporter(endpoint=f"http://127.0.0.1:{free_port()}/v1/traces", timeout=120,
                               retry_initial=30, max_retries=3, environ={"OTELKIT_SELF_METRICS": "false"})
    lock = exp._shutdown._cond  # CPython's Event: a Condition over a plain Lock
    with lock:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                exp.shutdown()
                outcome = exp._sender.send(1, b"\x0a\x00", time.monotonic() + 120)
                code = 0 if outcome.error == "shutdown" and exp.export([]) == SpanExportResult.FAILURE else 2
            finally:
                os._exit(code)
    assert _exit_code_within(pid, _CHILD_JOIN_S) == 0
    assert not exp._shutdown.is_set()  # the parent's exporter is not shut down by its child
    exp.shutdown()


def test_spool_replayer_stop_event_is_fresh_in_a_child(tmp_path: Path) -> None:
    """Same for the spool replayer: a child stops its replayer (an exporter's shutdown) even
    when the parent's stop event was locked at fork time, and its wait watches the new event."""
    from otelkit.exporter._spool import Spool
    from otelkit.exporter._spool_replay import Replayer

    spool = Spool(str(tmp_path), "otlp_http", max_bytes=1 << 20, max_age_s=3600.0)
    replayer = Replayer(spool, lambda record: None, spans_per_s=1000)  # type: ignore[arg-type,return-value]
    with replayer._stop._cond:  # CPython's Event: a Condition over a plain Lock
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                replayer.stop()
                code = 0 if replayer._wait(60) else 2  # stopped: the wait returns at once
            finally:
                os._exit(code)
    assert _exit_code_within(pid, _CHILD_JOIN_S) == 0
    assert not replayer._stop.is_set()
    replayer.stop()
