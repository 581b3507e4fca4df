"""A traced application for the fault suite, run as a subprocess: ends spans at a steady rate
through SmartBatchSpanProcessor and an otelkit exporter configured from its environment
(``OTEL_TRACES_EXPORTER``, ``OTELKIT_SPOOL_DIR``, ...), and reports what it did.

Usage: python _app.py STATE_DIR RATE_SPANS_PER_S SECONDS SPANS_PER_TRACE

Writes ``STATE_DIR/ids`` (the hex trace ID of every trace ended, flushed every 0.1 s, so a
SIGKILLed run leaves what it ended) and ``STATE_DIR/status.json`` every 0.2 s: spans ended,
exporter and processor stats, resident set size (``rss_kb``) and, at the end, ``done``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import set_span_in_context

from otelkit.batch import SmartBatchSpanProcessor
from otelkit.pipeline import build_exporters


def rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def write_status(path: Path, status: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    os.replace(tmp, path)


def main() -> None:
    state, rate, seconds, per_trace = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    (exporter,) = build_exporters(dict(os.environ))
    bsp = SmartBatchSpanProcessor(exporter)
    provider = TracerProvider(resource=Resource.create({"service.name": "faults-app"}))
    provider.add_span_processor(bsp)
    tracer = provider.get_tracer("faults")
    ids = open(state / "ids", "w")  # noqa: SIM115 - flushed as we go, closed at the end
    status_path = state / "status.json"
    ended = 0
    start = time.monotonic()
    last_flush = last_report = 0.0
    peak = base = rss_kb()

    def report(**extra: Any) -> None:
        # Counts first, then the IDs to disk: every span a status counts (spooled, exported)
        # has its trace ID in ``ids`` before the status is written, so a test reading the
        # status and then SIGKILLing the app compares like with like (the IDs written since
        # the last 0.1 s flush were otherwise lost with the process while already counted).
        stats = {"exporter": exporter.stats(), "bsp": bsp.stats()}
        if not ids.closed:
            ids.flush()
        write_status(status_path, {"ended": ended, **stats, "rss_kb": rss_kb(), "rss_base_kb": base,
                                   "rss_peak_kb": peak, **extra})

    while (elapsed := time.monotonic() - start) < seconds:
        while ended < rate * elapsed:
            root = tracer.start_span("GET /orders/{id}", attributes={"http.request.method": "GET", "i": ended})
            with_ctx = set_span_in_context(root)
            for c in range(per_trace - 1):
                tracer.start_span(f"db.query {c}", context=with_ctx, attributes={"db.system": "postgresql"}).end()
            root.end()
            ended += per_trace
            ids.write(format(root.get_span_context().trace_id, "032x") + "\n")
        if elapsed - last_flush >= 0.1:
            ids.flush()
            peak = max(peak, rss_kb())
            last_flush = elapsed
        if elapsed - last_report >= 0.2:
            report()
            last_report = elapsed
        time.sleep(0.005)
    ids.close()
    ok = provider.force_flush(30_000)
    provider.shutdown()
    report(done=True, flushed=ok)


if __name__ == "__main__":
    main()
