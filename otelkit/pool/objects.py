"""ObjectPool: a bounded free list of reusable objects (off by default everywhere in otelkit).

CPython already keeps free lists for its small built-in types, and a pure-Python
``acquire``/``release`` runs about as much bytecode as a small ``__init__``. The pool only
pays for objects that are expensive to build or to reset-by-rebuilding; ``docs/pools.md``
records the measurements behind the default (off).

Thread-safety: ``acquire``/``release`` rely on ``list.pop``/``list.append``, which are atomic
in CPython (and per-object locked in the free-threaded build), so the pool never hands one
object out twice. The hit/miss counters are plain integers: exact from one thread, and may
undercount slightly when threads race (they are statistics, not accounting).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["ObjectPool"]

T = TypeVar("T")


class ObjectPool(Generic[T]):
    """Bounded free list: ``acquire()`` reuses a released object or builds one with ``factory``.

    Args:
        factory: builds a new object when the free list is empty.
        reset: called on every released object before it is kept (clear lists, zero fields);
            default none. If it raises, the object is discarded, not kept.
        max_free: most objects kept for reuse (default 256); further releases are dropped
            for the garbage collector.

    Raises:
        ValueError: ``max_free`` is negative or ``factory`` is not callable.
    """

    __slots__ = ("_factory", "_reset", "_max_free", "_free", "hits", "misses", "discarded")

    def __init__(self, factory: Callable[[], T], reset: Callable[[T], None] | None = None,
                 max_free: int = 256) -> None:
        if not callable(factory):
            raise ValueError(f"factory={factory!r} is invalid: expected a callable returning a new object")
        if isinstance(max_free, bool) or not isinstance(max_free, int) or max_free < 0:
            raise ValueError(f"max_free={max_free!r} is invalid: expected an integer >= 0")
        self._factory = factory
        self._reset = reset
        self._max_free = max_free
        self._free: list[T] = []
        self.hits = 0
        self.misses = 0
        self.discarded = 0

    def acquire(self) -> T:
        """A reset object from the free list, or a new one from ``factory``."""
        try:
            obj = self._free.pop()
        except IndexError:
            self.misses += 1
            return self._factory()
        self.hits += 1
        return obj

    def release(self, obj: T) -> None:
        """Give ``obj`` back; the caller must not use it afterwards. Never raises."""
        if len(self._free) >= self._max_free:
            self.discarded += 1
            return
        if self._reset is not None:
            try:
                self._reset(obj)
            except Exception:  # noqa: BLE001 - a bad object is dropped, not reused
                self.discarded += 1
                return
        self._free.append(obj)

    def clear(self) -> None:
        """Drop every kept object (e.g. after fork)."""
        self._free.clear()

    def __len__(self) -> int:
        return len(self._free)

    def stats(self) -> dict[str, Any]:
        """Plain-number snapshot: hits, misses, discarded, free, max_free."""
        return {"hits": self.hits, "misses": self.misses, "discarded": self.discarded,
                "free": len(self._free), "max_free": self._max_free}
