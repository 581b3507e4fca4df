"""The one fork helper: every lock or per-process state otelkit owns is re-made in a child.

``after_fork(obj._after_fork)`` registers a bound method to run in a forked child while its
object is alive (held weakly, so registering never keeps an object alive); a plain function
is held strongly (module-level state). ``ForkGuard`` covers forks that skip Python's at-fork
hooks (uWSGI prefork without ``--py-call-osafterfork``): a cheap PID check at the points that
matter re-makes the state once per new process.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from types import MethodType

__all__ = ["ForkGuard", "after_fork"]


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


class ForkGuard:
    """Detects that this process is not the one that made the state, without at-fork hooks.

    ``check()`` is one ``os.getpid()`` comparison; when the PID changed it calls ``on_fork``
    once for the new process and returns True.
    """

    __slots__ = ("_on_fork", "_pid")

    def __init__(self, on_fork: Callable[[], object]) -> None:
        self._pid = os.getpid()
        self._on_fork = on_fork

    def reset(self) -> None:
        """Mark the state as made by this process (call from an at-fork hook that re-made it)."""
        self._pid = os.getpid()

    def check(self) -> bool:
        pid = os.getpid()
        if pid == self._pid:
            return False
        self._pid = pid
        self._on_fork()
        return True
