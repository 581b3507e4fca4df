"""otelkit._fork.ForkGuard: notices a fork that ran no at-fork hook, at a hot path's cost."""

from __future__ import annotations

import ctypes
import os

import pytest

from otelkit._fork import ForkGuard, _PidMark

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _in_hookless_child(probe: ForkGuard) -> int:
    """Exit code of a child made by libc's fork (no at-fork hook): 10 + mark[0] + 2*check()."""
    pid = int(ctypes.PyDLL(None).fork())
    if pid == 0:
        code = 1
        try:
            mark = int(bool(probe.mark[0]))
            checked = probe.check()
            code = 10 + mark + 2 * int(checked) + 4 * int(bool(probe.mark[0]))
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_mark_reads_zero_in_a_hookless_child_and_check_calls_on_fork_once() -> None:
    calls: list[int] = []
    guard = ForkGuard(lambda: calls.append(os.getpid()))
    assert guard.mark[0] and guard.check() is False and calls == []
    # child: mark 0, check() True (on_fork ran), mark re-armed -> 10 + 0 + 2 + 4
    assert _in_hookless_child(guard) == 16
    assert guard.mark[0] and calls == []  # the parent is untouched


def test_pid_fallback_mark_compares_the_pid() -> None:
    mark = _PidMark()
    assert mark[0] == 1
    mark.pid = -1  # as seen from a child
    assert mark[0] == 0
    mark[0] = 1
    assert mark[0] == 1 and mark.pid == os.getpid()
