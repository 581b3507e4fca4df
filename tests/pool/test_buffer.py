"""BufferPool: size classes, reuse, bounds and stats."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from otelkit.pool.buffer import DEFAULT_SIZE_CLASSES, BufferPool


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, 16384), (1, 16384), (16384, 16384), (16385, 32768), (270_000, 524288), (8 << 20, 8 << 20)],
)
def test_acquire_returns_the_smallest_class(size: int, expected: int) -> None:
    assert len(BufferPool().acquire(size)) == expected


def test_release_then_acquire_reuses_the_same_buffer() -> None:
    pool = BufferPool()
    buf = pool.acquire(100_000)
    pool.release(buf)
    assert pool.stats()["retained_bytes"] == len(buf)
    again = pool.acquire(90_000)
    assert again is buf
    assert pool.stats() == {"hits": 1, "misses": 1, "oversize": 0, "discarded": 0, "retained_bytes": 0}


def test_oversize_buffers_are_exact_and_never_kept() -> None:
    pool = BufferPool(size_classes=(1024, 4096))
    buf = pool.acquire(5000)
    assert len(buf) == 5000
    pool.release(buf)
    assert pool.stats()["oversize"] == 1 and pool.stats()["discarded"] == 1
    assert pool.stats()["retained_bytes"] == 0


def test_a_buffer_that_grew_is_dropped() -> None:
    pool = BufferPool(size_classes=(1024, 4096))
    buf = pool.acquire(1000)
    buf.extend(b"x" * 10)
    pool.release(buf)
    assert pool.stats()["retained_bytes"] == 0


def test_retained_bytes_are_bounded() -> None:
    pool = BufferPool(size_classes=(1024, 4096), max_retained_bytes=6000, max_per_class=10)
    bufs = [pool.acquire(4096) for _ in range(3)]
    for b in bufs:
        pool.release(b)
    assert pool.stats()["retained_bytes"] == 4096
    small = [pool.acquire(1024) for _ in range(3)]
    for b in small:
        pool.release(b)
    assert pool.stats()["retained_bytes"] == 4096 + 1024
    pool.clear()
    assert pool.stats()["retained_bytes"] == 0


def test_per_class_bound() -> None:
    pool = BufferPool(size_classes=(1024,), max_per_class=2)
    bufs = [pool.acquire(10) for _ in range(4)]
    for b in bufs:
        pool.release(b)
    assert pool.stats()["retained_bytes"] == 2048 and pool.stats()["discarded"] == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size_classes": ()}, "size_classes"),
        ({"size_classes": (4096, 1024)}, "size_classes"),
        ({"size_classes": (0, 1024)}, "size_classes"),
        ({"max_retained_bytes": -1}, "max_retained_bytes=-1"),
        ({"max_per_class": 0}, "max_per_class=0"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BufferPool(**kwargs)  # type: ignore[arg-type]


def test_threads_never_share_a_buffer() -> None:
    pool = BufferPool(size_classes=DEFAULT_SIZE_CLASSES[:2])
    errors: list[str] = []

    def work(tag: int) -> None:
        for _ in range(200):
            buf = pool.acquire(1000)
            buf[0] = tag
            buf[1] = tag
            if buf[0] != tag or buf[1] != tag:
                errors.append("shared")
            pool.release(buf)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stats = pool.stats()
    assert stats["hits"] + stats["misses"] == 800
    assert stats["retained_bytes"] <= 4 * 16384


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_never_inherits_a_held_lock() -> None:
    pool = BufferPool()
    pool.release(pool.acquire(1000))
    pool._lock.acquire()  # as if another thread were mid-acquire at fork time
    try:
        pid = os.fork()
        if pid == 0:  # child: must not block; starts with empty free lists
            signal.alarm(10)
            empty = pool.stats()["retained_bytes"] == 0
            pool.release(pool.acquire(1000))
            os._exit(0 if empty and pool.stats()["retained_bytes"] == 16 * 1024 else 1)
    finally:
        pool._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
