"""The one fork helper: every lock or per-process state otelkit owns is re-made in a child.

``after_fork(obj._after_fork)`` registers a bound method to run in a forked child while its
object is alive (held weakly, so registering never keeps an object alive); a plain function
is held strongly (module-level state). ``ForkGuard`` covers forks that skip Python's at-fork
hooks (uWSGI prefork without ``--py-call-osafterfork``): a cheap check at the points that
matter (a byte the kernel wipes on fork, else a PID comparison) re-makes the state once per
new process.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from collections.abc import Callable
from types import MethodType
from typing import Any

__all__ = ["ForkGuard", "ForkSafeLock", "after_fork", "fresh_event"]


def after_fork(callback: Callable[[], object]) -> None:
    """Run ``callback`` in every forked child (before the child's own code runs)."""
    if not hasattr(os, "register_at_fork"):  # pragma: no cover - non-POSIX
        return
    if isinstance(callback, MethodType):
        ref = weakref.WeakMethod(callback)

        def _hook() -> None:
            method = ref()
            if method is not None:
                method()

        os.register_at_fork(after_in_child=_hook)
    else:
        os.register_at_fork(after_in_child=callback)


_MADV_WIPEONFORK = 18
"""Linux (4.14+) ``madvise`` advice: the kernel zero-fills the page in a forked child."""


class _PidMark:
    """Fallback :attr:`ForkGuard.mark` where ``MADV_WIPEONFORK`` is not available:
    ``mark[0]`` compares the PID (a system call, ~0.5 µs on some VMs)."""

    __slots__ = ("pid",)

    def __init__(self) -> None:
        self.pid = os.getpid()

    def __getitem__(self, _index: int) -> int:
        return int(os.getpid() == self.pid)

    def __setitem__(self, _index: int, _value: int) -> None:
        self.pid = os.getpid()


def _fork_mark() -> Any:
    """A byte that reads 1 here and 0 in any forked child, hooks or not: one private
    anonymous page the kernel wipes on fork (reading it costs ~40 ns, no system call)."""
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        page.madvise(getattr(mmap, "MADV_WIPEONFORK", _MADV_WIPEONFORK))
    except (AttributeError, OSError, ValueError):  # not Linux, or a kernel before 4.14
        return _PidMark()
    page[0] = 1
    return page


class ForkGuard:
    """Detects that this process is not the one that made the state, without at-fork hooks.

    ``check()`` is one ``os.getpid()`` comparison; when the PID changed it calls ``on_fork``
    once for the new process and returns True. A hot path reads ``mark[0]`` instead (falsy
    in a forked child: a page the kernel wipes on fork, or a PID comparison where that is not
    available) and calls ``check()`` only when it is falsy.
    """

    __slots__ = ("_on_fork", "pid", "mark")

    def __init__(self, on_fork: Callable[[], object]) -> None:
        self.pid = os.getpid()
        self._on_fork = on_fork
        self.mark = _fork_mark()

    def reset(self) -> None:
        """Mark the state as made by this process (call from an at-fork hook that re-made it)."""
        self.pid = os.getpid()
        self.mark[0] = 1

    def check(self) -> bool:
        pid = os.getpid()
        if pid == self.pid:
            self.mark[0] = 1  # e.g. the fallback mark of a guard made before a hooked fork
            return False
        self.pid = pid
        self.mark[0] = 1
        self._on_fork()
        return True


class ForkSafeLock:
    """A lock for module-level state, re-made in every forked child (a child that inherited
    it held by another thread would block forever). Use as ``with lock: ...``."""

    __slots__ = ("_lock", "__weakref__")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        after_fork(self._renew)

    def _renew(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


def fresh_event(old: threading.Event) -> threading.Event:
    """A new event in the state of ``old``: for an object's at-fork hook (an event's internal
    lock may be held by another thread at fork time)."""
    new = threading.Event()
    if old.is_set():
        new.set()
    return new
