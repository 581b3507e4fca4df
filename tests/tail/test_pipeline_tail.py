"""The pipeline's tail-sampling plug-in points (otelkit/pipeline.py: _wrap_tail, _wrap_head_for_tail)."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelkit import pipeline as pl
from otelkit.batch import SmartBatchSpanProcessor
from otelkit.tail import RecordForTailSampler, TailSamplingProcessor


def test_tail_enabled_wraps_head_sampler_and_export_processor() -> None:
    env = {"OTELKIT_TAIL_ENABLED": "true", "OTELKIT_SELF_METRICS": "false", "OTEL_TRACES_SAMPLER": "always_off",
           "OTELKIT_TAIL_POLICIES": "always_sample"}
    with pl.configure(environ=env, set_global=False, exporters=[InMemorySpanExporter()]) as p:
        assert isinstance(p.sampler, RecordForTailSampler)
        [proc] = p.processors
        assert isinstance(proc, TailSamplingProcessor)
        assert isinstance(proc.downstream, SmartBatchSpanProcessor)
        with p.tracer().start_as_current_span("work"):
            pass
        assert p.force_flush()
        assert p.stats()["processor0"]["traces_kept"] == 1
    assert p.exporters[0].get_finished_spans()[0].name == "work"


def test_tail_disabled_leaves_the_pipeline_alone() -> None:
    with pl.configure(environ={}, set_global=False, exporters=[InMemorySpanExporter()]) as p:
        assert not isinstance(p.sampler, RecordForTailSampler)
        assert not isinstance(p.processors[0], TailSamplingProcessor)
