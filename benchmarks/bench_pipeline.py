"""Span lifecycle through the whole configured pipeline, stock SDK set-up vs otelkit.configure().

Both sides use a no-op exporter so only in-process cost is measured.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

import otelkit

SPANS = 2000


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _provider(side: str) -> tuple[TracerProvider, object]:
    if side == "stock":
        tp = TracerProvider(sampler=ParentBased(ALWAYS_ON))
        tp.add_span_processor(BatchSpanProcessor(NoopExporter()))
        return tp, tp
    p = otelkit.configure(exporters=[NoopExporter()], set_global=False, environ={"OTEL_TRACES_SAMPLER": "parentbased_always_on"})
    return p.provider, p


@pytest.mark.benchmark(group="pipeline: span lifecycle x2000")
def test_span_lifecycle(benchmark: pytest.FixtureRequest, side: str) -> None:
    tp, handle = _provider(side)
    tracer = tp.get_tracer("bench")

    def run() -> None:
        for i in range(SPANS):
            span = tracer.start_span("GET /users/{id}")
            span.set_attribute("http.request.method", "GET")
            span.set_attribute("http.route", "/users/{id}")
            span.set_attribute("http.response.status_code", 200)
            span.set_attribute("user.index", i)
            span.end()

    benchmark.extra_info["side"] = side
    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    handle.shutdown()  # type: ignore[attr-defined]
