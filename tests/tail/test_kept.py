"""Kept traces leave the tail buffer as their held bytes: spliced, never encoded twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, TraceState

import otelkit.exporter._encoded as encoded
from otelkit.batch import SmartBatchSpanProcessor
from otelkit.exporter._encoded import EncodedSpan, encode_request
from otelkit.tail import TailSamplingProcessor
from otelkit.tail._forward import exportable
from otelkit.tail.policies import ProbabilisticPolicy, StatusCodePolicy
from tests.tail.conftest import make_span


class EncodedSink(SpanExporter):
    """Takes batches as bytes; ``export`` (spans) must not be called."""

    def __init__(self) -> None:
        self.batches: list[list[EncodedSpan]] = []

    def export_encoded(self, spans: Sequence[EncodedSpan]) -> SpanExportResult:
        self.batches.append(list(spans))
        return SpanExportResult.SUCCESS

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise AssertionError("export() called although the exporter takes encoded spans")

    def shutdown(self) -> None:
        pass


def _trace(tid: int = 0xABC) -> list[ReadableSpan]:
    state = TraceState([("ot", "th:c;rv:fffffffffffff0"), ("vendor", "x")])
    return [
        make_span(tid, 2, parent_id=1, name="db", attributes={"otelkit.sampling.adjusted_count": 4.0, "q": "x" * 300},
                  sampled=True, trace_state=state, start_ms=1, end_ms=2, events=2),
        make_span(tid, 1, name="root", status=StatusCode.ERROR, sampled=True, trace_state=state, start_ms=0, end_ms=3),
    ]


def _processor(clock: Any, downstream: Any, policies: Any) -> TailSamplingProcessor:
    return TailSamplingProcessor(downstream, policies, clock=clock, start_worker=False, self_metrics=False,
                                 head_records_all=True)


@pytest.mark.parametrize("policy, label", [(StatusCodePolicy(["ERROR"]), "status_code"),
                                           (ProbabilisticPolicy(50), "probabilistic")])
def test_kept_spans_reach_an_encoded_batcher_as_the_sdk_bytes_of_their_kept_copy(
    clock: Any, monkeypatch: pytest.MonkeyPatch, policy: Any, label: str
) -> None:
    sink = EncodedSink()
    batcher = SmartBatchSpanProcessor(sink, self_metrics=False)
    proc = _processor(clock, batcher, [policy])
    spans = _trace()
    for span in spans:
        proc.on_end(span)

    def no_encoding(span: Any) -> Any:
        raise AssertionError("a kept span was encoded again")

    monkeypatch.setattr(encoded, "_span_body", no_encoding)  # the batcher's encoder from here on
    clock.advance(5)
    assert proc.process_due() == 1
    late = make_span(0xABC, 3, parent_id=1, name="late", sampled=True, trace_state=spans[0].context.trace_state)
    monkeypatch.undo()  # a late span is encoded once, at on_end, and forwarded as those bytes
    proc.on_end(late)
    assert batcher.force_flush(10_000)
    threshold = 0 if label == "status_code" else 1 << 55
    expected = encode_spans([exportable(s, label, threshold) for s in [*spans, late]]).SerializeToString()
    assert b"".join(encode_request(batch) for batch in sink.batches) == expected
    assert proc.stats()["spans_forward_failed"] == 0
    proc.shutdown()


def test_a_stock_downstream_gets_sampled_copies_equal_to_the_kept_copy(clock: Any) -> None:
    exporter = InMemorySpanExporter()
    proc = _processor(clock, SimpleSpanProcessor(exporter), [StatusCodePolicy(["ERROR"])])
    spans = _trace()
    for span in spans:
        proc.on_end(span)
    clock.advance(5)
    proc.process_due()
    got = exporter.get_finished_spans()
    assert all(s.context.trace_flags.sampled for s in got)  # type: ignore[union-attr]
    assert [s.context.trace_state.to_header() for s in got] == ["ot=th:0;rv:fffffffffffff0,vendor=x"] * 2  # type: ignore[union-attr]
    expected = [exportable(s, "status_code", 0) for s in spans]
    assert encode_spans(list(got)).SerializeToString() == encode_spans(expected).SerializeToString()
    assert [s.attributes["otelkit.tail.policy"] for s in got] == ["status_code"] * 2  # type: ignore[index]


def test_a_batcher_subclass_overriding_on_end_gets_spans(clock: Any) -> None:
    seen: list[ReadableSpan] = []

    class Watching(SmartBatchSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            seen.append(span)
            super().on_end(span)

    sink = EncodedSink()
    proc = _processor(clock, Watching(sink, self_metrics=False), [StatusCodePolicy(["ERROR"])])
    assert not proc._forwarder.as_bytes
    for span in _trace():
        proc.on_end(span)
    clock.advance(5)
    proc.process_due()
    assert [s.name for s in seen] == ["db", "root"]
    proc.shutdown()
    assert sum(len(b) for b in sink.batches) == 2


def test_an_encoded_batcher_is_fed_bytes(clock: Any) -> None:
    proc = _processor(clock, SmartBatchSpanProcessor(EncodedSink(), self_metrics=False), [StatusCodePolicy(["ERROR"])])
    assert proc._forwarder.as_bytes
    proc.shutdown()
    stock = _processor(clock, SmartBatchSpanProcessor(InMemorySpanExporter(), self_metrics=False),
                       [StatusCodePolicy(["ERROR"])])
    assert not stock._forwarder.as_bytes
    stock.shutdown()
