"""The batch queue's byte budget holds in RSS (issue 15), measured in a fresh process per case.

Each case (``tests/batch/_rss_case.py``) ends spans with large, distinct payloads into a
``SmartBatchSpanProcessor`` with ``OTELKIT_BATCH_MAX_QUEUE_BYTES`` = 16 MiB whose exporter
(``export_encoded``) is stuck (100 KB event attributes, tuples of ten 10 KB strings, 1 MB
attribute values) or slow (20 ms per batch of at most 100 spans of 4 KB, under sustained
load), and samples ``/proc/self/statm``. RSS growth over the warmed-up process must stay under
the budget plus a stated overhead:

* 4 MiB for the interpreter, the allocator, the spans in flight through the SDK and the
  requests the exporter builds (4 KB to 100 KB spans);
* 8 MiB with 1 MB values: encoding a value and building a request make a few transient
  copies, and glibc's dynamic mmap threshold keeps such freed blocks in the heap.

The budget counts the batches in an export call as well as the queued spans. Before it did
(the queue released a batch's bytes when the worker took it), a stuck exporter held up to a
batch per export slot on top of a full queue: +53 MB in the 1 MB case, +21 MB in the event
and tuple cases. With no budget (2**62) the cases grow +60, +60, +154 and +52 MB.

Every span ended is accounted for once the exporter is released and the processor shut
down: ``exported + failed + dropped by reason + queued == ended``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]


def run_case(case: str, budget: int, spans: int) -> dict[str, int]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)),
           "OTEL_SDK_DISABLED": "false", "OTELKIT_BATCH_MAX_QUEUE_BYTES": str(budget)}
    if case == "slow":
        env["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "100"  # 2 slots x 100 spans / 20 ms: slower than the producer
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "batch" / "_rss_case.py"), case, str(spans)],
                         capture_output=True, text=True, timeout=60, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("case, spans, overhead", [
    ("event", 600, 4 * MiB),    # one event with a 100 KB attribute per span: 60 MB offered
    ("tuple", 600, 4 * MiB),    # a tuple of ten 10 KB strings per span: 60 MB offered
    ("mb", 150, 8 * MiB),       # a 1 MB attribute per span: 150 MB offered
    ("slow", 20000, 4 * MiB),   # 4 KB spans, 20 ms per exported batch: 80 MB offered
])
def test_rss_growth_stays_under_the_budget_plus_overhead(case: str, spans: int, overhead: int) -> None:
    budget = 16 * MiB
    got = run_case(case, budget, spans)
    assert got["held"] <= budget  # queued + in export calls, as counted
    assert got["dropped_queue_full"] > 0  # the budget, not the exporter, bounded the queue
    assert got["growth"] <= budget + overhead, f"{case}: RSS grew {got['growth'] / MiB:.1f} MiB, budget 16 MiB"
    assert got["spans_received"] == got["ended"] == spans + 50  # 50 warm-up spans
    assert got["spans_exported"] == got["exporter_got"]
    assert (got["spans_exported"] + got["spans_failed"] + got["dropped_queue_full"] + got["dropped_shutdown"]
            + got["queue_size"]) == got["ended"]


def test_a_batch_in_a_stuck_export_call_counts_against_the_budget_until_the_call_returns() -> None:
    import threading

    from ._helpers import accounted, end_spans, pipeline, wait_until
    from .test_encoded import EncodedRecording

    gate = threading.Event()
    exporter = EncodedRecording(gate=gate)
    provider, processor = pipeline(exporter, max_concurrent_exports=1, min_batch=1, max_queue_bytes=64 * 1024)
    end_spans(provider, ["first"])
    assert exporter.entered.wait(10)
    stats = processor.stats()
    assert stats["queue_size"] == 0 and stats["queue_bytes"] > 0  # held by the stuck export call
    end_spans(provider, [f"s{i}" for i in range(5000)])
    stats = processor.stats()
    assert stats["queue_bytes"] <= 64 * 1024 and stats["dropped_queue_full"] > 0
    gate.set()
    assert processor.force_flush(10_000)
    assert wait_until(lambda: processor.stats()["queue_bytes"] == 0)  # released as the call returned
    provider.shutdown()
    assert accounted(processor.stats()) == 5001
