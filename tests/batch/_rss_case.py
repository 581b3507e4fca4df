"""Run one RSS case of ``test_rss_caps.py`` in a fresh process; print its figures as JSON.

Usage: ``python tests/batch/_rss_case.py CASE SPANS`` with ``OTELKIT_BATCH_MAX_QUEUE_BYTES``
in the environment. A ``SmartBatchSpanProcessor`` (its byte budget read from the environment)
exports to an exporter with ``export_encoded`` that is stuck (``event``, ``tuple``, ``mb``:
every call blocks until the case ends) or slow (``slow``: 20 ms per batch, building the
request as a real exporter does), so the queue fills. Every payload string is distinct, so
nothing is shared between spans: what the batcher holds is what RSS shows. After the peak is
measured the exporter is released and the processor shut down, so every span ended reaches an
outcome that ``stats()`` counts.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit.batch import SmartBatchSpanProcessor
from otelkit.exporter._encoded import EncodedSpan, encode_request, split_requests

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class HeldExporter(SpanExporter):
    """Takes encoded batches: blocks while ``released`` is clear, then builds each request
    (at most 4 MiB, as otelkit's exporters split them) and sleeps ``delay_s`` per batch."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.released = threading.Event()
        self.released.set()
        self._lock = threading.Lock()
        self.exported = 0

    def export_encoded(self, spans: Sequence[EncodedSpan]) -> SpanExportResult:
        self.released.wait(60)
        for run in split_requests(spans, 4 << 20):
            request = encode_request(run)  # what a real exporter sends
            del request
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise AssertionError("export() called although the exporter takes encoded spans")


def payload(i: int, n: int) -> str:
    return f"{i:08d}" + "x" * (n - 8)  # a new string object each time


def main(case: str, total: int) -> dict[str, Any]:
    exporter = HeldExporter(0.02 if case == "slow" else 0.0)
    proc = SmartBatchSpanProcessor(exporter, self_metrics=False)
    provider = TracerProvider()
    provider.add_span_processor(proc)
    tracer = provider.get_tracer("rss")
    ended = 0

    def one(i: int, warm: bool = False) -> None:
        nonlocal ended
        with tracer.start_as_current_span("work") as span:
            if warm:
                span.set_attribute("body", payload(i, 100))
            elif case == "event":
                span.add_event("payload", {"body": payload(i, 100_000)})
            elif case == "tuple":
                span.set_attribute("parts", tuple(payload(i * 10 + k, 10_000) for k in range(10)))
            elif case == "mb":
                span.set_attribute("blob", payload(i, 1_000_000))
            else:  # slow
                span.set_attribute("body", payload(i, 4_000))
        ended += 1

    for i in range(50):  # warm-up (small spans, exported): imports, caches, worker and export threads
        one(i, warm=True)
    assert proc.force_flush(10_000)
    if case != "slow":
        exporter.released.clear()  # from now on every export call blocks
    gc.collect()
    base = peak = rss()
    for i in range(total):
        one(i)
        if i % 10 == 0:
            peak = max(peak, rss())
    peak = max(peak, rss())
    held = proc.stats()["queue_bytes"]
    exporter.released.set()
    provider.shutdown()
    stats = proc.stats()
    return {"growth": peak - base, "held": held, "ended": ended, "exporter_got": exporter.exported,
            **{k: stats[k] for k in ("spans_received", "spans_exported", "spans_failed", "dropped_queue_full",
                                     "dropped_shutdown", "queue_size")}}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))), flush=True)
    os._exit(0)
