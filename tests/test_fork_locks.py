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
from collections.abc import Callable

import pytest

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
