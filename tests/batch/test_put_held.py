"""Spans handed over already encoded (the tail processor's kept spans): same budget, same counts."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.batch._queue import HELD_OVERHEAD, SpanQueue
from otelkit.exporter._encoded import encode_held

from ._helpers import ended


def _held(n: int) -> list[tuple[bytes, object]]:
    return [encode_held(s) for s in ended([f"s{i}" for i in range(n)])]


def test_put_held_queues_within_the_byte_budget_and_counts_refusals() -> None:
    spans = _held(3)
    budget = sum(len(d) for d, _ in spans[:2]) + 2 * HELD_OVERHEAD
    q = SpanQueue(10, max_bytes=budget, encode=encode_held)
    for data, route in spans:
        q.put_held(data, route)
    snap = q.snapshot()
    assert (snap["queued"], snap["dropped_full"], snap["queued_bytes"]) == (2, 1, budget)
    batch = q.take(10)
    assert list(batch.datas) == [d for d, _ in spans[:2]]


def test_put_held_after_close_is_refused_closed() -> None:
    q = SpanQueue(10, max_bytes=10_000, encode=encode_held)
    q.close()
    data, route = _held(1)[0]
    q.put_held(data, route)
    assert q.snapshot()["refused_closed"] == 1 and len(q) == 0


def test_the_processor_takes_held_spans_only_when_it_holds_bytes() -> None:
    from otelkit.batch import SmartBatchSpanProcessor

    from .test_encoded import EncodedRecording

    exporter = EncodedRecording()
    proc = SmartBatchSpanProcessor(exporter, self_metrics=False)
    assert proc.holds_encoded
    held = _held(2)
    for data, route in held:
        proc.on_end_held(data, route)
    assert proc.force_flush(10_000)
    assert [s.data for b in exporter.batches for s in b] == [d for d, _ in held]
    assert proc.stats()["spans_exported"] == 2
    proc.shutdown()
    assert exporter.export_encoded([]) is SpanExportResult.SUCCESS
