"""Size-classed ``bytearray`` reuse for the encoder and compressors.

A 512-span OTLP request is ~270 KB and a 4096-span one ~2 MB: above glibc's mmap
threshold, so a fresh buffer per batch can mean an ``mmap``/``munmap`` pair and page faults
every export. :class:`BufferPool` hands out buffers whose *length* is a size class
(powers of two from 16 KiB to 8 MiB by default) and takes them back for reuse. Writers
fill a buffer from offset 0 and track how many bytes they wrote (see
``SpanEncoder.encode_into``), so a buffer never shrinks and keeps its allocation.

Retained memory is bounded (``max_retained_bytes``); a buffer released when the budget is
spent, or whose length is not a size class (it grew), is simply dropped. A forked child
starts with a fresh lock and empty free lists (a lock another thread held at fork time
would otherwise block the child's first export forever).

Example::

    pool = BufferPool()
    buf = pool.acquire(300_000)      # len(buf) == 512 KiB
    ...                              # write into buf[:n]
    pool.release(buf)
    pool.stats()                     # {'hits': 0, 'misses': 1, 'retained_bytes': 524288, ...}
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from otelkit._fork import after_fork

__all__ = ["BufferPool", "DEFAULT_SIZE_CLASSES", "DEFAULT_MAX_RETAINED_BYTES"]

DEFAULT_SIZE_CLASSES: tuple[int, ...] = tuple(1 << p for p in range(14, 24))
"""16 KiB, 32 KiB, ... 8 MiB: powers of two covering 32-span to ~16k-span OTLP requests."""

DEFAULT_MAX_RETAINED_BYTES = 32 * 1024 * 1024
"""Upper bound of bytes kept in free lists across all classes (32 MiB)."""


class BufferPool:
    """Thread-safe pool of ``bytearray`` buffers in fixed size classes.

    Args:
        size_classes: buffer lengths in bytes, ascending; default :data:`DEFAULT_SIZE_CLASSES`.
        max_retained_bytes: bound of the bytes kept for reuse; default 32 MiB.
        max_per_class: bound of free buffers kept per class; default 4.
    """

    def __init__(
        self,
        size_classes: Sequence[int] = DEFAULT_SIZE_CLASSES,
        max_retained_bytes: int = DEFAULT_MAX_RETAINED_BYTES,
        max_per_class: int = 4,
    ) -> None:
        classes = tuple(size_classes)
        if not classes or any(not isinstance(c, int) or c <= 0 for c in classes) or list(classes) != sorted(
            set(classes)
        ):
            raise ValueError(
                f"size_classes={classes!r} is invalid: expected strictly ascending positive integers"
            )
        if max_retained_bytes < 0:
            raise ValueError(f"max_retained_bytes={max_retained_bytes!r} is invalid: expected an integer >= 0")
        if max_per_class < 1:
            raise ValueError(f"max_per_class={max_per_class!r} is invalid: expected an integer >= 1")
        self._classes = classes
        self._max_retained = max_retained_bytes
        self._max_per_class = max_per_class
        self._free: dict[int, list[bytearray]] = {c: [] for c in classes}
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._oversize = 0
        self._discarded = 0
        self._retained = 0
        after_fork(self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._free = {c: [] for c in self._classes}
        self._retained = 0

    @property
    def size_classes(self) -> tuple[int, ...]:
        return self._classes

    def class_for(self, size: int) -> int | None:
        """The smallest size class holding ``size`` bytes, or ``None`` above the largest."""
        for c in self._classes:
            if c >= size:
                return c
        return None

    def acquire(self, size: int) -> bytearray:
        """A buffer of length >= ``size`` (its class length; exactly ``size`` when larger
        than every class, and then never pooled). Contents are arbitrary."""
        cls = self.class_for(size)
        if cls is None:
            with self._lock:
                self._oversize += 1
            return bytearray(size)
        with self._lock:
            free = self._free[cls]
            if free:
                self._hits += 1
                self._retained -= cls
                return free.pop()
            self._misses += 1
        return bytearray(cls)

    def release(self, buf: bytearray) -> None:
        """Give ``buf`` back; it is kept only if its length is a class and budget allows."""
        size = len(buf)
        with self._lock:
            free = self._free.get(size)
            if free is None or len(free) >= self._max_per_class or self._retained + size > self._max_retained:
                self._discarded += 1
                return
            free.append(buf)
            self._retained += size

    def clear(self) -> None:
        """Drop every retained buffer."""
        with self._lock:
            for free in self._free.values():
                free.clear()
            self._retained = 0

    def stats(self) -> dict[str, Any]:
        """``hits``, ``misses``, ``oversize`` (beyond the largest class), ``discarded`` and
        ``retained_bytes``."""
        with self._lock:
            return {
                "hits": self._hits,
                "misses": self._misses,
                "oversize": self._oversize,
                "discarded": self._discarded,
                "retained_bytes": self._retained,
            }
