"""Spans and exports racing ``shutdown`` (issue 12, bug 10): counted by reason, never lost,
and no export call after the final drain."""

from __future__ import annotations

import sys
import time
from collections import deque
from types import FrameType
from typing import Any

from ._helpers import Recording, accounted, end_spans, pipeline


def test_span_appended_after_the_final_drain_is_counted_as_dropped_shutdown() -> None:
    exporter = Recording()
    provider, processor = pipeline(exporter)
    end_spans(provider, ["before"])
    racer = provider.get_tracer("t").start_span("racer")
    fired: list[bool] = []

    def shutdown_before_the_append(frame: FrameType, event: str, arg: Any) -> None:
        # The racer has passed the queue's length check; the whole shutdown (close, drain,
        # seal) runs before its append, as when another thread shuts down at that instant.
        if (event == "c_call" and not fired and getattr(arg, "__name__", "") == "append"
                and isinstance(getattr(arg, "__self__", None), deque)
                and frame.f_code.co_name in ("on_end", "put")):
            fired.append(True)
            processor.shutdown()

    sys.setprofile(shutdown_before_the_append)
    try:
        racer.end()
    finally:
        sys.setprofile(None)
    assert fired
    stats = processor.stats()
    assert stats["queue_size"] == 0 and stats["dropped_shutdown"] == 1
    assert stats["spans_exported"] == 1 and exporter.names == ["before"]
    assert accounted(stats) == stats["spans_received"] == 2


def test_a_late_worker_step_after_the_final_drain_starts_no_export() -> None:
    # The worker decided to dispatch just before the shutdown deadline; the shutdown thread
    # then stopped the slots, sealed the queue and shut the exporter down.
    exporter = Recording()
    provider, processor = pipeline(exporter)
    end_spans(provider, ["a"])
    processor.shutdown()
    calls = exporter.calls
    assert exporter.shutdowns == 1
    assert processor._worker.dispatch(time.monotonic()) is False
    assert processor.stats()["exports_in_flight"] == 0  # nothing submitted, so nothing can call export
    assert exporter.calls == calls
