from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from otelkit.tail import StatusCodePolicy, TailSamplingProcessor
from otelkit.tail import _metrics as tail_metrics


def test_self_metrics_mirror_stats(clock, span, monkeypatch) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(tail_metrics.metrics, "get_meter", provider.get_meter)
    proc = TailSamplingProcessor(SimpleSpanProcessor(InMemorySpanExporter()), [StatusCodePolicy(["ERROR"], name="errors")],
                                 clock=clock, start_worker=False, self_metrics=True)
    proc.on_end(span(trace_id=1, status=StatusCode.ERROR))
    proc.on_end(span(trace_id=2))
    proc.on_end(span(trace_id=3, span_id=2, parent_id=1))
    clock.advance(1)
    proc.process_due()
    points = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for dp in metric.data.data_points:
                    points[(metric.name, tuple(sorted(dp.attributes.items())))] = dp.value if hasattr(dp, "value") else dp.count
    assert points[("otelkit.tail.traces", (("decision", "kept"), ("policy", "errors")))] == 1
    assert points[("otelkit.tail.traces", (("decision", "dropped"), ("policy", "no_match")))] == 1
    assert points[("otelkit.tail.buffered.spans", ())] == 1
    assert points[("otelkit.tail.decision.duration", ())] == 2
    assert ("otelkit.tail.late_spans", (("outcome", "kept"),)) in points
