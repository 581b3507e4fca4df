"""Exporters and span helpers shared by the batch tests."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit.batch import SmartBatchSpanProcessor


class Recording(SpanExporter):
    """Thread-safe exporter recording names; optional gate (hang) and random failures."""

    def __init__(self, fail_ratio: float = 0.0, seed: int = 1, gate: threading.Event | None = None) -> None:
        self.names: list[str] = []
        self.calls = 0
        self.failed_spans = 0
        self.suppressed: list[bool] = []
        self.shutdowns = 0
        self._fail_ratio = fail_ratio
        self._rng = random.Random(seed)
        self._gate = gate
        self._lock = threading.Lock()
        self.entered = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        if self._gate is not None:
            self._gate.wait(30)
        with self._lock:
            self.calls += 1
            self.suppressed.append(bool(get_value(_SUPPRESS_INSTRUMENTATION_KEY)))
            if self._rng.random() < self._fail_ratio:
                self.failed_spans += len(spans)
                return SpanExportResult.FAILURE
            self.names.extend(s.name for s in spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shutdowns += 1


def pipeline(exporter: SpanExporter, **options: Any) -> tuple[TracerProvider, SmartBatchSpanProcessor]:
    options.setdefault("environ", {})
    options.setdefault("self_metrics", False)
    processor = SmartBatchSpanProcessor(exporter, **options)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, processor


def end_spans(provider: TracerProvider, names: Sequence[str]) -> None:
    tracer = provider.get_tracer("test")
    for name in names:
        tracer.start_span(name).end()


def accounted(stats: dict[str, Any]) -> int:
    return int(stats["spans_exported"] + stats["spans_failed"] + stats["dropped_queue_full"]
               + stats["dropped_shutdown"] + stats["queue_size"])


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` (bounded) - for liveness, never for speed."""
    done = threading.Event()
    deadline = 0.0
    while deadline < timeout:
        if predicate():
            return True
        done.wait(0.005)
        deadline += 0.005
    return bool(predicate())


class FakeClock:
    """A monotonic clock the test moves: ``advance(s)``; with ``step`` each read adds ``step``."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += self.step
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def ended(names: Sequence[str]) -> list[ReadableSpan]:
    """Sampled, ended spans with these names (no processor attached)."""
    tracer = TracerProvider().get_tracer("test")
    out: list[ReadableSpan] = []
    for name in names:
        span = tracer.start_span(name)
        span.end()
        out.append(span)  # type: ignore[arg-type]
    return out


def names_of(spans: Sequence[ReadableSpan]) -> list[str]:
    return [s.name for s in spans]
