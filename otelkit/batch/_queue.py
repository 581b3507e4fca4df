"""The smart batcher's span queue: one owner for the deque, its bound, the wake mark and the fork check.

:class:`SpanQueue` is what ``on_end`` appends to and what the worker takes batches from.

Invariants (``q`` = this queue):

* ``q.received == q.taken + len(q) + q.dropped_full + q.refused_closed + q.discarded +
  q.encode_failed`` at any quiescent point: every span offered is taken by the worker, still
  queued, or refused/discarded, counted by reason.
* ``len(q) <= capacity``, exactly, however many producers race (see "Slots" below).
* Encoded mode (``encode`` given; :meth:`put_encoded`): the queue holds each span as its
  ``Span`` bytes plus a small-int route (``encode`` returns both, see
  ``otelkit.exporter._encoded.encode_held``) in two parallel deques, so nothing it holds is
  a container the cyclic GC tracks; ``held_bytes`` (the sizes plus :data:`HELD_OVERHEAD`
  each, of the spans queued and of the batches taken and still in an export call, until
  :meth:`release`) never exceeds ``max_bytes``: the check and the append happen
  under the lock, so the budget is exact and bounds what a stuck exporter holds too.
  :meth:`take` returns an ``EncodedBatch``.
* Once :meth:`close` ran, :meth:`put` refuses (``refused_closed``); once :meth:`seal` ran,
  nothing stays queued: a span appended by a producer that passed the length check before
  the close is counted as ``refused_closed`` at the next :meth:`snapshot` or :meth:`put`.
* In a process other than the one that filled it (a fork that skipped Python's at-fork
  hooks), the first :meth:`put` calls ``on_fork`` before anything else, so the child never
  sees the parent's queued spans (``on_fork`` is expected to call :meth:`reset`).

``put`` appends without a lock (``deque.append`` and ``popleft`` are atomic under the GIL);
the counters and the closed/sealed state change under the queue's own lock.

Slots: a length check before a lock-free append let every producer that checked before
the others appended through (the queue overshot by up to one span per producer thread).
Instead, :meth:`put` takes a free slot first: ``_free`` is a deque of ``capacity`` tokens
(``None``), a put pops one (``deque.pop`` is atomic; a truth test and a pop cost what the
length check did) or, when none is left, is refused; :meth:`take` gives the taken spans' slots back under the lock,
:meth:`close` empties ``_free``. So ``free + queued + puts between pop and append ==
capacity`` while open, and the bound is exact. The tokens cost 8 bytes per slot (512 KiB
at the default 65536). Encoded mode checks count and bytes under the lock and has no slots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import repeat
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import TraceFlags

from otelkit._fork import ForkGuard
from otelkit._pressure import EXPORT_PRESSURE
from otelkit._warn import warn_limited

__all__ = ["SpanQueue", "NEVER", "HELD_OVERHEAD"]

_logger = logging.getLogger("otelkit.batch")

NEVER = 1 << 62
"""A wake mark the queue never reaches."""

_SAMPLED = int(TraceFlags.SAMPLED)

_SPINS = 64
"""GIL yields a producer makes for a contended queue lock before it waits on the lock."""

HELD_OVERHEAD = 64
"""Bytes charged per encoded span on top of its encoded size: the ``bytes`` header (33) and
its allocator rounding (up to 15), the two deque slots (bytes and route, 16); so the byte
budget bounds what the queue really holds (routes are small ints, shared)."""


def _cost(datas: Any) -> int:
    return sum(map(len, datas)) + HELD_OVERHEAD * len(datas)


class SpanQueue:
    """Bounded FIFO of sampled ended spans with a wake mark for one consumer.

    Args:
        capacity: spans held at most (>= 1).
        block_timeout_s: with a full queue, :meth:`put` waits up to this long for space
            (0 = drop the newest at once).
        on_fork: called once in a process that forked without Python's at-fork hooks,
            before the span that noticed it is queued.
        clock: monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        capacity: int,
        block_timeout_s: float = 0.0,
        on_fork: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int | None = None,
        encode: Callable[[ReadableSpan], tuple[bytes, Any] | None] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity={capacity!r} is invalid: expected an integer >= 1")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError(f"max_bytes={max_bytes!r} is invalid: expected an integer >= 1")
        self.capacity = capacity
        self.max_bytes = max_bytes if max_bytes is not None else 1 << 62
        self._encode = encode
        self._batch: Callable[[list[bytes], list[Any]], Any] | None = None
        if encode is not None:
            from otelkit.exporter._encoded import EncodedBatch

            self._batch = EncodedBatch
        self._block_s = block_timeout_s
        self._clock = clock
        self._guard = ForkGuard(on_fork if on_fork is not None else self.reset)
        self._fork_mark = self._guard.mark
        self.reset()

    def reset(self, closed: bool = False) -> None:
        """Empty, zero counts, fresh locks, this process's: at construction and in a forked
        child (``closed``: a child of a shut-down processor stays shut down)."""
        self._items: deque[Any] = deque()
        self._routes: deque[Any] = deque()  # encoded mode: the route of each item
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._wake_at = 1
        self._closed = self._sealed = closed
        self._limit = 0 if closed else self.capacity  # 0 routes every put to _refuse
        # object mode: one token per free slot (see "Slots" in the module docstring)
        self._free: deque[None] | None = deque(repeat(None, self._limit)) if self._encode is None else None
        self.taken = self.dropped_full = self.refused_closed = self.discarded = self.encode_failed = 0
        self.held_bytes = 0  # encoded mode: bytes of the queued spans, HELD_OVERHEAD included
        self.blocked = 0  # producers waiting for space now (block policy)
        self._guard.reset()

    # ------------------------------------------------------------------ producer side

    def put(self, span: ReadableSpan) -> None:
        """Queue an ended span if it is sampled (others, and spans without a context, are
        ignored, as by the SDK's processors): a flag test, a fork check, a length check and
        an append; never raises. Waits only under the block policy, at most
        ``block_timeout_s``. The processor binds this as its ``on_end``."""
        try:
            if not span.context.trace_flags & _SAMPLED:  # the int test: no .sampled call
                return
        except AttributeError:  # no context (None): ignored, as by the SDK
            return
        if not self._fork_mark[0]:  # 0 in a forked child (no system call: see ForkGuard)
            self._guard.check()
        free = self._free
        if not free:  # no free slot: full or closed (None: encoded mode, put_encoded's queue)
            self._refuse(span)
            return
        try:
            free.pop()
        except IndexError:  # another producer took the last slot meanwhile
            self._refuse(span)
            return
        items = self._items
        items.append(span)
        if len(items) >= self._wake_at:
            self._wake_at = NEVER  # lifted until the consumer arms it again
            self._wake.set()

    def _refuse(self, item: Any, cost: int = 0) -> None:
        if self._block_s > 0 and self._wait_for_space(item, cost):
            return
        with self._lock:
            self._sweep()
            if self._closed:
                self.refused_closed += 1
            else:
                self.dropped_full += 1
        if not self._closed:
            EXPORT_PRESSURE.report_drop()  # the head sampler raises its thresholds

    def _wait_for_space(self, item: Any, cost: int) -> bool:
        """Block policy: wait up to ``block_timeout_s`` for room, then queue ``item``."""
        deadline = self._clock() + self._block_s
        self._wake.set()
        with self._space:
            self.blocked += 1
            try:
                while not self._closed:
                    if self.held_bytes + cost <= self.max_bytes and self._slot():
                        if self._batch is not None:  # encoded: (bytes, route)
                            self._routes.append(item[1])
                            item = item[0]
                        self._items.append(item)
                        self.held_bytes += cost
                        self._wake.set()
                        return True
                    left = deadline - self._clock()
                    if left <= 0:
                        return False
                    self._space.wait(left)
                return False
            finally:
                self.blocked -= 1

    def _slot(self) -> bool:
        # Under the lock: take a free slot (object mode) or check the count (encoded mode).
        if self._free is None:
            return len(self._items) < self.capacity
        if not self._free:
            return False
        self._free.pop()
        return True

    def put_encoded(self, span: ReadableSpan) -> None:
        """Encoded mode (``encode`` given): queue the sampled span as its encoded bytes and
        route, so the span object is freed at once; refused (counted ``dropped_full``) when the count or
        the byte budget would be exceeded. ``encode`` does the sampled check: it returns
        ``None`` for a span to ignore (not sampled, no context), as the SDK's processors do;
        ``otelkit.exporter._encoded.encode_sampled`` reads the flags with no property call. A
        span that cannot be encoded is counted ``encode_failed``. The processor binds this as
        its ``on_end``; never raises."""
        if not self._fork_mark[0]:
            self._guard.check()
        if not self._limit:  # closed: no need to encode
            try:
                if span.context.trace_flags & _SAMPLED:
                    self._refuse(None)
            except AttributeError:  # no context (None): ignored, as by the SDK
                pass
            return
        try:
            held = self._encode(span)  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - never raise into on_end
            with self._lock:
                self.encode_failed += 1
            warn_limited(_logger, "batch:encode", "cannot encode span %r: %r; dropping it",
                         getattr(span, "name", "?"), exc)
            return
        if held is not None:
            self._hold(*held)

    def put_held(self, data: bytes, route: Any) -> None:
        """Encoded mode: queue a span already encoded (``Span`` bytes and route, sampled by
        whoever encoded it), under the same count and byte budget as :meth:`put_encoded`."""
        if not self._fork_mark[0]:
            self._guard.check()
        self._hold(data, route)

    def _hold(self, data: bytes, route: Any) -> None:
        """Queue one encoded span within the count and byte budget, else refuse it (counted)."""
        cost = len(data) + HELD_OVERHEAD
        items = self._items
        lock = self._lock
        if not lock.acquire(False):
            self._lock_contended()
        try:
            if len(items) < self._limit and self.held_bytes + cost <= self.max_bytes:
                items.append(data)
                self._routes.append(route)
                self.held_bytes += cost
                if len(items) >= self._wake_at:
                    self._wake_at = NEVER
                    self._wake.set()
                return
        finally:
            lock.release()
        self._refuse((data, route), cost)

    def _lock_contended(self) -> None:
        """Take the lock another thread holds, without a lock convoy: a producer that sleeps
        in ``acquire()`` wakes up *owning* the lock but not the GIL, so every other producer
        then blocks on the lock and each span costs a GIL hand-off (measured on 4 producer
        threads: 103 µs of CPU per span, 55 µs with this). Yielding the GIL until the lock
        is free lets its holder finish; after :data:`_SPINS` yields (a long ``take``), wait
        for it."""
        lock = self._lock
        for _ in range(_SPINS):
            time.sleep(0)  # hands the GIL to the holder, which may be waiting for it
            if lock.acquire(False):
                return
        lock.acquire()

    def _sweep(self) -> None:
        # Under the lock: after the final drain, spans of producers that raced the close
        # are refused here, so nothing waits in a queue nobody takes from.
        if self._sealed and self._items:
            self.refused_closed += len(self._items)
            self._drop_items()

    def _drop_items(self) -> None:
        # Under the lock: batches still exporting keep their bytes until released.
        if self._batch is not None:
            self.held_bytes -= _cost(self._items)
        self._items.clear()
        self._routes.clear()

    # ------------------------------------------------------------------ consumer side

    def __len__(self) -> int:
        return len(self._items)

    def fill(self) -> tuple[int, int]:
        """How full the queue is, as (held, capacity) in whichever unit is fuller: spans, or
        bytes when spans are held encoded under a byte budget."""
        held, capacity = len(self._items), self.capacity
        if self.max_bytes < 1 << 62 and self.held_bytes * capacity > held * self.max_bytes:
            return self.held_bytes, self.max_bytes
        return held, capacity

    def take(self, n: int) -> Any:
        """Remove and return up to ``n`` of the oldest spans (the consumer's thread only): a
        list of ``ReadableSpan``s, or an ``EncodedBatch`` in encoded mode."""
        items = self._items
        with self._lock:
            k = min(n, len(items))
            batch = [items.popleft() for _ in range(k)]
            self.taken += k
            if self._free is not None and not self._closed:
                self._free.extend(repeat(None, k))  # their slots are free again
            if self._batch is not None:  # its bytes stay held until release(batch)
                pop = self._routes.popleft
                routes = [pop() for _ in range(k)]
            if self._block_s > 0:
                self._space.notify_all()
        if self._batch is not None:
            return self._batch(batch, routes)
        return batch

    def release(self, batch: Any) -> None:
        """Encoded mode: ``batch`` (from :meth:`take`) is no longer held by an export call,
        so its bytes leave ``held_bytes`` (the budget bounds queued and exporting spans)."""
        if self._batch is None:
            return
        with self._lock:
            self.held_bytes -= _cost(batch.datas)
            if self._block_s > 0:
                self._space.notify_all()

    def arm(self, mark: int) -> None:
        """Ask to be woken once the queue holds ``mark`` spans; clears a pending wake."""
        self._wake.clear()
        self._wake_at = mark

    def wait(self, timeout_s: float | None) -> bool:
        """Sleep until woken (mark reached, :meth:`wake`) or ``timeout_s`` passed; True if woken."""
        return self._wake.wait(timeout_s)

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def closed(self) -> bool:
        return self._closed

    def check_fork(self) -> bool:
        """The PID check of :meth:`put`, for the other entry points; True in a new process."""
        return self._guard.check()

    def close(self) -> bool:
        """Refuse every later span; wake the consumer and blocked producers. False when
        already closed (so exactly one caller runs the shutdown)."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._limit = 0
            if self._free is not None:
                self._free.clear()  # every later put is refused
            self._space.notify_all()
        self._wake.set()
        return True

    def seal(self) -> int:
        """The final drain: discard what is still queued and count it; returns how many."""
        with self._lock:
            self._sealed = True
            n = len(self._items)
            self._drop_items()
            self.discarded += n
            return n

    def snapshot(self) -> dict[str, int]:
        """Counts by reason and the queue length (consistent under the queue's lock)."""
        with self._lock:
            self._sweep()
            queued = len(self._items)
            return {
                "received": self.taken + queued + self.dropped_full + self.refused_closed + self.discarded
                + self.encode_failed,
                "queued": queued,
                "queued_bytes": self.held_bytes,
                "encode_failed": self.encode_failed,
                "dropped_full": self.dropped_full,
                "refused_closed": self.refused_closed,
                "discarded": self.discarded,
            }
