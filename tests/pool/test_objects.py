from __future__ import annotations

import threading
from typing import Any

import pytest

from otelkit.pool import ObjectPool
from otelkit.pool.objects import ObjectPool as DirectObjectPool


def test_the_package_re_exports_the_pool() -> None:
    assert ObjectPool is DirectObjectPool


class _Record:
    def __init__(self) -> None:
        self.items: list[int] = []


def _reset(record: _Record) -> None:
    record.items.clear()


def test_acquire_builds_then_reuses_released_objects() -> None:
    pool = ObjectPool(_Record, _reset)
    first = pool.acquire()
    first.items.append(1)
    pool.release(first)
    again = pool.acquire()
    assert again is first and again.items == []
    assert pool.stats() == {"hits": 1, "misses": 1, "discarded": 0, "free": 0, "max_free": 256}


def test_free_list_is_bounded() -> None:
    pool = ObjectPool(_Record, max_free=2)
    objs = [pool.acquire() for _ in range(3)]
    for obj in objs:
        pool.release(obj)
    assert len(pool) == 2 and pool.stats()["discarded"] == 1


def test_reset_that_raises_discards_the_object() -> None:
    def bad_reset(_: _Record) -> None:
        raise RuntimeError("nope")

    pool = ObjectPool(_Record, bad_reset)
    pool.release(_Record())
    assert len(pool) == 0 and pool.stats()["discarded"] == 1


def test_clear_drops_kept_objects() -> None:
    pool = ObjectPool(_Record)
    pool.release(pool.acquire())
    pool.clear()
    assert len(pool) == 0
    pool.acquire()
    assert pool.stats()["misses"] == 2


@pytest.mark.parametrize(("kw", "named"), [
    ({"factory": None}, "factory=None"),
    ({"factory": _Record, "max_free": -1}, "max_free=-1"),
    ({"factory": _Record, "max_free": True}, "max_free=True"),
])
def test_bad_arguments_raise(kw: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ObjectPool(**kw)


def test_threads_never_share_an_object() -> None:
    pool = ObjectPool(_Record, _reset, max_free=8)
    seen_twice = []
    owners: dict[int, int] = {}
    lock = threading.Lock()

    def work(me: int) -> None:
        for _ in range(2000):
            obj = pool.acquire()
            with lock:
                if id(obj) in owners:
                    seen_twice.append(id(obj))
                owners[id(obj)] = me
            with lock:
                del owners[id(obj)]
            pool.release(obj)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen_twice == []
    assert len(pool) <= 8
