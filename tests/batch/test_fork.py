from __future__ import annotations

import json
import multiprocessing
import os
import queue as queue_mod
from typing import Any

from ._helpers import Recording, end_spans, pipeline

# Long waits keep the parent's spans queued at fork time, so a child that did not reset
# would export them.
_SLOW = {"freshness_ms": 60_000, "startup_ms": 60_000, "min_batch": 1000, "schedule_delay_millis": 60_000}


def _child_report(provider: Any, processor: Any, exporter: Recording) -> dict[str, Any]:
    before = processor.stats()
    end_spans(provider, ["child-1", "child-2"])
    flushed = processor.force_flush(10_000)
    return {"before": before, "flushed": flushed, "names": list(exporter.names), "after": processor.stats()}


def test_os_fork_child_exports_its_own_spans_and_parent_is_unaffected() -> None:
    exporter = Recording()
    provider, processor = pipeline(exporter, **_SLOW)
    end_spans(provider, ["parent-1", "parent-2"])
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read_fd)
            report = _child_report(provider, processor, exporter)
            os.write(write_fd, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    report = json.loads(b"".join(chunks))
    assert report["before"]["queue_size"] == 0 and report["before"]["spans_received"] == 0
    assert report["flushed"] is True
    assert report["names"] == ["child-1", "child-2"]  # not the parent's queued spans
    assert report["after"]["spans_exported"] == 2
    # parent: its queue and counters untouched by the child
    assert processor.stats()["spans_received"] == 2
    assert processor.force_flush(10_000)
    assert exporter.names == ["parent-1", "parent-2"]
    provider.shutdown()


_MP: dict[str, Any] = {}


def _mp_child(out: Any) -> None:
    out.put(_child_report(_MP["provider"], _MP["processor"], _MP["exporter"]))


def test_multiprocessing_fork_child_gets_a_fresh_processor() -> None:
    exporter = Recording()
    provider, processor = pipeline(exporter, **_SLOW)
    _MP.update(provider=provider, processor=processor, exporter=exporter)
    end_spans(provider, ["parent-1"])
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_mp_child, args=(out,))
    child.start()
    try:
        report = out.get(timeout=30)
    except queue_mod.Empty:  # pragma: no cover - reported as a failure below
        report = None
    child.join(30)
    assert report is not None and child.exitcode == 0
    assert report["before"]["spans_received"] == 0
    assert report["names"] == ["child-1", "child-2"]
    assert processor.force_flush(10_000) and exporter.names == ["parent-1"]
    provider.shutdown()
    _MP.clear()
