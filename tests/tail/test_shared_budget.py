"""One byte budget for undecided traces and traces awaiting a decision (issue 15: a slow
policy let the early-decision queue grow without bound)."""

from __future__ import annotations

import random
from typing import Any

from otelkit.tail._buffer import _TraceBuffer
from tests.tail.test_buffer import limits


def test_a_stalled_decider_keeps_both_pools_within_one_budget(span: Any) -> None:
    """Nobody decides (the worker is stuck in a slow policy): whatever arrives, undecided plus
    awaiting-decision bytes stay within max_bytes (or one trace alone awaits a decision)."""
    rng = random.Random(3)
    max_bytes = 50_000
    buf = _TraceBuffer(limits(max_spans=10_000, max_bytes=max_bytes, max_spans_per_trace=50), lambda: None)
    for i in range(3000):
        tid = rng.randrange(1, 400)
        size = rng.randrange(100, 3000)
        buf.add(tid, span(trace_id=tid, span_id=i + 1), size, rng.random() < 0.1, float(i))
        with buf.lock:
            total = buf._bytes + buf._pool.bytes
            alone = len(buf._pool) == 1
        assert total <= max_bytes or alone
    stats = buf.snapshot()
    assert stats["awaiting_decision_bytes"] > 0 and stats["evicted_traces"] > 0
    assert stats["buffered_bytes"] + stats["awaiting_decision_bytes"] <= max_bytes
