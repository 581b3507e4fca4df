"""The tail processor in the child of a fork that skips Python's at-fork hooks.

uWSGI prefork without ``--py-call-osafterfork`` forks like this: libc's ``fork`` through
``ctypes.PyDLL`` (which keeps the GIL) runs none of ``os.register_at_fork``'s callbacks, so
the child has the parent's buffer and no decision thread.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otelkit.tail import StatusCodePolicy, TailSamplingProcessor

from .conftest import make_span

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def test_child_of_a_hookless_fork_decides_its_own_traces_only() -> None:
    exporter = InMemorySpanExporter()
    arrived = threading.Event()

    class Signal(SimpleSpanProcessor):
        def on_end(self, span):  # type: ignore[no-untyped-def]
            super().on_end(span)
            arrived.set()

    proc = TailSamplingProcessor(Signal(exporter), [StatusCodePolicy(["ERROR"])], decision_wait_ms=0,
                                 self_metrics=False)
    # the parent's trace in progress (no local root yet): buffered when the child is made
    proc.on_end(make_span(0xAAAA, 2, parent_id=1, name="parent-child", status=StatusCode.ERROR))
    read_fd, write_fd = os.pipe()
    pid = int(ctypes.PyDLL(None).fork())
    if pid == 0:  # child: no at-fork hook ran
        code = 1
        try:
            os.close(read_fd)
            proc.on_end(make_span(0xBBBB, 1, name="child-root", status=StatusCode.ERROR))
            arrived.wait(10)  # liveness only: the child's own decision thread forwards it
            report = {"names": [s.name for s in exporter.get_finished_spans()], "stats": proc.stats()}
            os.write(write_fd, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    report = json.loads(_read_all(read_fd) or b"{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report["names"] == ["child-root"]  # never the parent's buffered span
    assert report["stats"]["buffered_spans"] == 0
    proc.shutdown()  # the parent decides its own trace at shutdown
    assert [s.name for s in exporter.get_finished_spans()] == ["parent-child"]


def test_shutdown_in_a_hookless_child_does_not_export_the_parents_traces() -> None:
    exporter = InMemorySpanExporter()
    proc = TailSamplingProcessor(SimpleSpanProcessor(exporter), [StatusCodePolicy(["ERROR"])], start_worker=False,
                                 self_metrics=False)
    proc.on_end(make_span(0xAAAA, 2, parent_id=1, name="parent-child", status=StatusCode.ERROR))
    read_fd, write_fd = os.pipe()
    pid = int(ctypes.PyDLL(None).fork())
    if pid == 0:  # child: no at-fork hook ran, and no span ends before the app shuts down
        code = 1
        try:
            os.close(read_fd)
            proc.shutdown()
            os.write(write_fd, json.dumps([s.name for s in exporter.get_finished_spans()]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    names = json.loads(_read_all(read_fd) or b"null")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert names == []  # the parent's span is the parent's to export
    proc.shutdown()
    assert [s.name for s in exporter.get_finished_spans()] == ["parent-child"]
