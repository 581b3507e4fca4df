"""Tail sampling: on_end cost per span next to the stock BatchSpanProcessor, decision throughput.

* ``tail: on_end x1000`` - 1000 ``on_end`` calls (200 traces x 5 spans) into the stock
  ``BatchSpanProcessor`` (reference) and into ``TailSamplingProcessor`` (append to the
  trace's buffer). ``extra_info["per_span_us"]`` is the median per span.
* ``tail: span lifecycle x1000`` - start/end 1000 spans through a provider: stock
  ``ALWAYS_ON`` + batcher vs ``RecordForTailSampler(ALWAYS_ON)`` + tail + batcher.
* ``tail: decisions x1000 traces`` - ``process_due`` deciding 1000 buffered 5-span traces
  with errors/slow/10% policies, forwarding kept ones to a batcher with a no-op exporter;
  ``extra_info["traces_per_s"]``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import StatusCode

from otelkit.tail import RecordForTailSampler, TailSamplingProcessor
from otelkit.tail.policy_config import policies_from_string

TRACES, SPANS_PER_TRACE = 200, 5
# errors, slow and 10% of the rest: the spans here are all head-sampled (ALWAYS_ON), so the
# default set (which keeps what the head kept) would keep every trace.
POLICIES = "errors=status_code(status_codes=ERROR);slow=latency(threshold_ms=1000);probabilistic(sampling_percentage=10)"


def default_policies() -> list[Any]:
    return policies_from_string(POLICIES)


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _spans(traces: int, seed: int = 1) -> list[ReadableSpan]:
    """Real SDK spans: a root and children per trace, 4 attributes each, some errors."""
    out: list[ReadableSpan] = []

    class Keep(BatchSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            out.append(span)

    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(Keep(NoopExporter()))
    tracer = provider.get_tracer("bench")
    rng = random.Random(seed)
    for i in range(traces):
        with tracer.start_as_current_span("GET /users/{id}") as root:
            root.set_attribute("http.request.method", "GET")
            root.set_attribute("http.route", "/users/{id}")
            root.set_attribute("http.response.status_code", 200)
            root.set_attribute("user.index", i)
            for k in range(SPANS_PER_TRACE - 1):
                with tracer.start_as_current_span("SELECT users") as child:
                    child.set_attribute("db.system.name", "postgresql")
                    child.set_attribute("db.operation.name", "SELECT")
                    child.set_attribute("db.collection.name", "users")
                    child.set_attribute("step", k)
                    if rng.random() < 0.02:
                        child.set_status(StatusCode.ERROR)
    provider.shutdown()
    return out


def _per_span_us(benchmark: Any, n: int) -> None:
    try:
        benchmark.extra_info["per_span_us"] = round(benchmark.stats.stats.median / n * 1e6, 3)
    except AttributeError:  # --benchmark-disable
        pass


@pytest.mark.benchmark(group="tail: on_end x1000")
def test_on_end(benchmark: Any, side: str) -> None:
    spans = _spans(TRACES)

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if side == "stock":
            return (BatchSpanProcessor(NoopExporter(), max_queue_size=len(spans) * 2),), {}
        proc = TailSamplingProcessor(BatchSpanProcessor(NoopExporter()), default_policies(), start_worker=False,
                                     self_metrics=False, max_spans=10**6)
        return (proc,), {}

    def run(proc: Any) -> None:
        on_end = proc.on_end
        for span in spans:
            on_end(span)

    benchmark.extra_info["side"] = side
    benchmark.pedantic(run, setup=setup, rounds=40, iterations=1, warmup_rounds=2)
    _per_span_us(benchmark, len(spans))


@pytest.mark.benchmark(group="tail: span lifecycle x1000")
def test_span_lifecycle(benchmark: Any, side: str) -> None:
    if side == "stock":
        provider = TracerProvider(sampler=ALWAYS_ON)
        provider.add_span_processor(BatchSpanProcessor(NoopExporter()))
    else:
        provider = TracerProvider(sampler=RecordForTailSampler(ALWAYS_ON))
        provider.add_span_processor(
            TailSamplingProcessor(BatchSpanProcessor(NoopExporter()), default_policies(), self_metrics=False,
                                  decision_wait_ms=50)
        )
    tracer = provider.get_tracer("bench")

    def run() -> None:
        for _ in range(TRACES):
            with tracer.start_as_current_span("GET /users/{id}") as root:
                root.set_attribute("http.route", "/users/{id}")
                for _ in range(SPANS_PER_TRACE - 1):
                    with tracer.start_as_current_span("SELECT users", context=trace.set_span_in_context(root)):
                        pass

    benchmark.extra_info["side"] = side
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    provider.shutdown()


@pytest.mark.benchmark(group="tail: decisions x1000 traces")
def test_decision_throughput(benchmark: Any) -> None:
    spans = _spans(1000, seed=2)
    downstream = BatchSpanProcessor(NoopExporter())

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        proc = TailSamplingProcessor(downstream, default_policies(), start_worker=False, self_metrics=False,
                                     max_spans=10**6)
        for span in spans:
            proc.on_end(span)
        return (proc,), {}

    def run(proc: TailSamplingProcessor) -> None:
        assert proc.process_due(everything=True) == 1000

    benchmark.extra_info["side"] = "otelkit"
    benchmark.pedantic(run, setup=setup, rounds=15, iterations=1, warmup_rounds=1)
    try:
        benchmark.extra_info["traces_per_s"] = round(1000 / benchmark.stats.stats.median)
    except AttributeError:
        pass
    downstream.shutdown()
