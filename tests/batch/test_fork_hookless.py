"""A fork that skips Python's at-fork hooks (uWSGI prefork without ``--py-call-osafterfork``).

libc's ``fork`` called through ``ctypes.PyDLL`` (which keeps the GIL across the call) runs
none of ``os.register_at_fork``'s callbacks, exactly like a C host forking the interpreter.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import threading
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._helpers import end_spans, pipeline, wait_until

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

_CHILD_SPANS = 200


class _ParentHangs(SpanExporter):
    """Records names; in the process that made it, ``export`` waits for ``gate`` (a hung
    collector), so the parent's later spans stay queued at fork time."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self._owner = os.getpid()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        if os.getpid() == self._owner:
            self.gate.wait(30)
        self.names.extend(s.name for s in spans)
        return SpanExportResult.SUCCESS


def _hookless_fork() -> int:
    return int(ctypes.PyDLL(None).fork())


def _read_all(fd: int, pid: int, timeout_s: float = 60.0) -> bytes:
    """The child's report; a child that has not closed the pipe within ``timeout_s`` (a lock
    inherited held from another thread: the hazard of any fork without hooks) is killed, so
    the test fails instead of hanging the suite."""
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], timeout_s)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def test_quiet_child_of_a_hookless_fork_exports_its_own_spans_only() -> None:
    exporter = _ParentHangs()
    # A wake mark above what the child ends (min_batch): only a per-span PID check notices.
    provider, processor = pipeline(exporter, max_concurrent_exports=1, min_batch=1000,
                                   freshness_ms=20, startup_ms=10)
    end_spans(provider, ["parent-0"])
    assert exporter.entered.wait(10)  # parent-0 holds the only export slot
    end_spans(provider, [f"parent-{i}" for i in range(1, 6)])  # queued behind it
    # Without PyOS_AfterFork_Child, CPython itself does not re-make the GIL in the child: a
    # fork landing while another thread holds the GIL's internal mutex leaves the child
    # blocked inside the interpreter, before any otelkit code runs (seen under heavy load,
    # py-spy: 0 CPU, stuck allocating). Such a child is killed and the fork tried again;
    # a child that runs reports what it exported.
    for _attempt in range(3):
        read_fd, write_fd = os.pipe()
        pid = _hookless_fork()
        if pid == 0:  # child: no at-fork hook ran
            code = 1
            try:
                os.close(read_fd)
                end_spans(provider, [f"child-{i}" for i in range(_CHILD_SPANS)])
                wait_until(lambda: len(exporter.names) >= _CHILD_SPANS, timeout=10)  # no flush: a quiet child
                report = {"names": exporter.names, "stats": processor.stats()}
                os.write(write_fd, json.dumps(report).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        report = json.loads(_read_all(read_fd, pid, timeout_s=20.0) or b"{}")
        _, status = os.waitpid(pid, 0)
        if report:
            break
    exporter.gate.set()
    assert os.waitstatus_to_exitcode(status) == 0
    assert report["names"] == [f"child-{i}" for i in range(_CHILD_SPANS)]  # never the parent's
    assert report["stats"]["spans_received"] == report["stats"]["spans_exported"] == _CHILD_SPANS
    assert processor.force_flush(10_000)
    assert exporter.names == [f"parent-{i}" for i in range(6)]  # the parent is untouched
    provider.shutdown()
