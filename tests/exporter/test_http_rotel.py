"""End to end through a real collector: otelkit exporter -> Rotel -> sink."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.receiver import OtlpReceiver
from otelkit.testing import Rotel

from .conftest import realistic_batch

pytestmark = pytest.mark.peers


@pytest.mark.parametrize("compression", ["gzip", "none"])  # what Rotel's receiver accepts
def test_every_span_arrives_intact_through_rotel(compression: str, rotel: Rotel, sink: OtlpReceiver) -> None:
    spans = realistic_batch(600, seed=11)
    exp = OtlpHttpSpanExporter(
        endpoint=rotel.http_endpoint, compression=compression, max_request_bytes=128 * 1024,
        environ={"OTELKIT_SELF_METRICS": "false"},
    )
    assert exp.export(spans[:500]) == SpanExportResult.SUCCESS  # split into several requests
    assert exp.export(spans[500:]) == SpanExportResult.SUCCESS
    assert sink.wait_for_spans(600, timeout=20)
    got = {r.span.span_id: r for r in sink.spans()}
    assert len(got) == 600
    for span in spans:
        ctx = span.get_span_context()
        assert ctx is not None
        received = got[ctx.span_id.to_bytes(8, "big")]
        assert received.span.trace_id == ctx.trace_id.to_bytes(16, "big")
        assert received.span.name == span.name
        assert received.attributes == dict(span.attributes)
        assert received.span.events[0].name == "request.received"
        assert received.resource["service.name"] == "checkout"
    stats = exp.stats()
    assert stats["spans_exported"] == 600 and stats["spans_failed"] == 0 and stats["requests"] >= 3
    exp.shutdown()
