"""Tail worker: CPU per span of one worker's decode + decide + export path, in process.

``tail-worker: x1000 spans`` (200 traces x 5 spans, errors/slow/10% policies, kept spans to
a no-op exporter), two paths in one session:

* ``in_process``: the SDK spans into ``TailSamplingProcessor.on_end`` and ``process_due``
  (what one service pays for tail sampling its own spans);
* ``worker``: the same traces as Kafka message values (one ``ExportTraceServiceRequest``
  per trace, as ``otelkit_kafka`` writes them) through the worker's decode, per-partition
  buffer, decision and offset accounting (``otelkit.tailworker._partition.Partition``), kept
  spans to the exporter. No broker: this is the worker's CPU floor per span.

``extra_info["per_span_us"]`` is the median per span. The broker round trip, multi-worker
scaling and a fleet throughput are not measured here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from otelkit.exporter.encoder import SpanEncoder
from otelkit.tail import TailSamplingProcessor
from otelkit.tail.policy_config import policies_from_string
from otelkit.tailworker._decode import decode
from otelkit.tailworker._partition import Partition

TRACES = 200
POLICIES = "errors=status_code(status_codes=ERROR);slow=latency(threshold_ms=1000);probabilistic(sampling_percentage=10)"


def default_policies() -> list[Any]:
    return policies_from_string(POLICIES)


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _spans(traces: int, seed: int = 1) -> list[ReadableSpan]:
    """A root and 4 children per trace, 4 attributes each, 2% of children failed."""
    out = Collect()
    provider = TracerProvider()
    provider.add_span_processor(out)
    tracer = provider.get_tracer("bench")
    rng = random.Random(seed)
    for i in range(traces):
        with tracer.start_as_current_span("GET /users/{id}") as root:
            root.set_attribute("http.request.method", "GET")
            root.set_attribute("http.route", "/users/{id}")
            root.set_attribute("http.response.status_code", 200)
            root.set_attribute("user.index", i)
            for k in range(4):
                with tracer.start_as_current_span("SELECT users") as child:
                    child.set_attribute("db.system.name", "postgresql")
                    child.set_attribute("db.operation.name", "SELECT")
                    child.set_attribute("db.collection.name", "users")
                    child.set_attribute("step", k)
                    if rng.random() < 0.02:
                        child.set_status(StatusCode.ERROR)
    return out.spans


class Collect(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def _messages(spans: Sequence[ReadableSpan]) -> list[bytes]:
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        assert span.context is not None
        by_trace.setdefault(span.context.trace_id, []).append(span)
    encoder = SpanEncoder()
    return [encoder.encode(group) for group in by_trace.values()]


@pytest.mark.benchmark(group="tail-worker: x1000 spans")
@pytest.mark.parametrize("path", ["in_process", "worker"])
def test_decide_path(benchmark: Any, path: str) -> None:
    spans = _spans(TRACES)
    messages = _messages(spans)
    exporter = NoopExporter()
    now = [0.0]

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if path == "in_process":
            collect = Collect()
            proc = TailSamplingProcessor(collect, default_policies(), start_worker=False, self_metrics=False,
                                         max_spans=10**6, clock=lambda: now[0])
            return (proc, collect), {}
        part = Partition(default_policies(), ttl_s=300, cache_size=10**5, environ={"OTELKIT_TAIL_MAX_SPANS": "1000000"},
                         clock=lambda: now[0])
        return (part, None), {}

    def run(target: Any, collect: Collect | None) -> None:
        now[0] += 1000.0
        if collect is not None:
            for span in spans:
                target.on_end(span)
            now[0] += 100.0
            target.process_due()
            exporter.export(collect.spans)
            return
        for offset, value in enumerate(messages):
            target.add(offset, decode(value, 1 << 24))
        now[0] += 100.0
        for outcome in target.decide():
            if outcome.spans:
                exporter.export(outcome.spans)
            target.release(outcome.offsets)
        assert target.committable() == len(messages)

    benchmark.extra_info["side"] = path
    benchmark.pedantic(run, setup=setup, rounds=15, iterations=1, warmup_rounds=1)
    try:
        benchmark.extra_info["per_span_us"] = round(benchmark.stats.stats.median / len(spans) * 1e6, 2)
    except AttributeError:  # --benchmark-disable
        pass
