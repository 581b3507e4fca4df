"""Outbound: decisions published, dropped traces released, kept ones exported after the flush."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit.tailworker._exports import KeptExports
from otelkit.tailworker._outbound import Outbound
from otelkit.tailworker._partition import Outcome, Verdict


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.counts: dict[str, int] = {}

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


class Producer:
    def __init__(self, log: Log, refuse: bool = False) -> None:
        self.log, self.refuse = log, refuse

    def produce(self, topic: str, value: bytes, key: bytes, **kw: Any) -> None:
        if self.refuse:
            raise BufferError("queue full")
        self.log.lines.append(f"produce {topic}[{kw['partition']}] {key.decode()[-2:]}")

    def flush(self, timeout: float) -> int:
        self.log.lines.append("flush")
        return 0


class Exporter(SpanExporter):
    def __init__(self, log: Log) -> None:
        self.log = log

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.log.lines.append(f"export {len(spans)}")
        return SpanExportResult.SUCCESS


class Part:
    def __init__(self) -> None:
        self.released: list[int] = []

    def release(self, offsets: list[int]) -> None:
        self.released.extend(offsets)


def outbound(log: Log, refuse: bool = False) -> Outbound:
    out = Outbound("spans_decisions", "host:1", KeptExports([Exporter(log)], log.count), log.count, 1.0)
    out.producer = Producer(log, refuse)
    return out


def outcome(trace_id: int, keep: bool, offsets: list[int], publish: bool = True) -> Outcome:
    return Outcome(trace_id, Verdict(keep, "errors" if keep else "", None, 0.0), [], offsets, publish)


def test_settle_publishes_decisions_counts_them_and_releases_what_is_not_exported() -> None:
    log, part = Log(), Part()
    out = outbound(log)
    kept_trace = outcome(0x11, True, [1])
    kept_trace.spans = [(b"", 0)]
    late = outcome(0x22, True, [2], publish=False)  # follows an earlier decision: not published again
    kept = out.settle(3, part, [kept_trace, outcome(0x33, False, [3]), late])  # type: ignore[arg-type]
    assert kept == [kept_trace] and part.released == [3, 2]  # no spans to export: released
    assert log.lines == ["produce spans_decisions[3] 11", "produce spans_decisions[3] 33"]
    assert log.counts == {"decisions_published": 2, "kept_by_policy.errors": 1, "traces_dropped": 1}


def test_send_flushes_the_decisions_before_exporting_and_skips_partitions_gone() -> None:
    log, part = Log(), Part()
    out = outbound(log)
    first, gone = outcome(1, True, [5]), outcome(2, True, [6])
    first.spans = gone.spans = []
    out.send([(0, [first]), (1, [gone])], {0: part})  # type: ignore[dict-item]
    assert log.lines == ["flush", "export 0"] and part.released == [5]
    log.lines.clear()
    out.send([(0, [])], {0: part})  # type: ignore[dict-item]
    assert log.lines == []  # nothing kept: no flush


def test_a_refused_decision_is_counted_not_raised() -> None:
    log = Log()
    outbound(log, refuse=True).settle(0, Part(), [outcome(1, False, [0])])  # type: ignore[arg-type]
    assert log.counts["decisions_failed"] == 1 and "decisions_published" not in log.counts
