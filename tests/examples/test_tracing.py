"""The example servers' tracing switch: span counting, middleware choice, stats."""

from __future__ import annotations

import importlib.util

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased

from examples.tracing import Tracing, setup_tracing
from otelkit.receiver import OtlpReceiver


async def _app(scope: object, receive: object, send: object) -> None:
    return None


@pytest.mark.parametrize(
    "sampler, created, sampled",
    [(ALWAYS_ON, 10, 10), (ALWAYS_OFF, 0, 0), (ParentBased(TraceIdRatioBased(0.0)), 0, 0)],
)
def test_span_counter_counts_recorded_and_sampled_spans(sampler: object, created: int, sampled: int) -> None:
    tracing = Tracing("otelkit", TracerProvider(sampler=sampler))  # type: ignore[arg-type]
    tracer = tracing.tracer("t")
    for _ in range(10):
        with tracer.start_as_current_span("s"):
            pass
    stats = tracing.stats()
    assert (stats["spans_created"], stats["spans_sampled"]) == (created, sampled)
    assert stats["cpu_seconds"] > 0 and stats["mode"] == "otelkit"


def test_sampled_roots_count_each_trace_once() -> None:
    # the live-room's message trace has two local roots under remote parents: the server span
    # (the client's traceparent) and the consumer's process span (the producer's, via Kafka)
    tracing = Tracing("stock", TracerProvider(sampler=ALWAYS_ON))
    tracer = tracing.tracer("t")
    remote = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
        trace_id=7, span_id=1, is_remote=True, trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED))))
    for name in ("room message", "process"):
        with tracer.start_as_current_span(name, context=remote):
            with tracer.start_as_current_span("child"):
                pass
    with tracer.start_as_current_span("another trace"):
        pass
    stats = tracing.stats()
    assert (stats["spans_created"], stats["roots_sampled"]) == (5, 2)


def test_off_mode_has_no_provider_and_leaves_the_app_alone() -> None:
    tracing = setup_tracing("svc", {"OTELKIT_EXAMPLE_TRACING": "off"})
    assert tracing.provider is None
    assert tracing.wrap_asgi(_app) is _app
    assert tracing.flush() is True
    assert tracing.stats()["spans_created"] == 0


def test_stock_mode_uses_contrib_middleware_at_its_defaults() -> None:
    tracing = Tracing("stock", TracerProvider())
    wrapped = tracing.wrap_asgi(_app)
    assert isinstance(wrapped, OpenTelemetryMiddleware)
    assert tracing.middleware == "contrib"
    assert wrapped.exclude_receive_span is False and wrapped.exclude_send_span is False


def test_otelkit_mode_uses_the_otelkit_middleware_when_installed() -> None:
    tracing = Tracing("otelkit", TracerProvider())
    wrapped = tracing.wrap_asgi(_app)
    if importlib.util.find_spec("otelkit.middleware.asgi") is not None:
        assert tracing.middleware == "otelkit"
    else:  # contrib's, without its per-message receive/send spans
        assert tracing.middleware == "contrib"
        assert isinstance(wrapped, OpenTelemetryMiddleware)
        assert wrapped.exclude_receive_span and wrapped.exclude_send_span


def test_unknown_mode_warns_and_uses_otelkit(caplog: pytest.LogCaptureFixture) -> None:
    from examples import settings

    assert settings.OTELKIT_EXAMPLE_TRACING.get({"OTELKIT_EXAMPLE_TRACING": "fancy"}) == "otelkit"
    assert "OTELKIT_EXAMPLE_TRACING='fancy' is invalid" in caplog.text


def test_fastotel_mode_exports_through_fastotel_with_contrib_middleware(
    sink: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.endpoint)  # fastotel reads the process env
    env = {"OTELKIT_EXAMPLE_TRACING": "fastotel"}
    tracing = setup_tracing("svc", environ=env)
    try:
        assert tracing.mode == "fastotel" and tracing.pipeline is None
        for i in range(5):
            tracing.tracer("t").start_span(f"s{i}").end()
        assert tracing.flush()
        assert sink.wait_for_spans(5, timeout=10)
        stats = tracing.stats()
        assert stats["processor0"] == {"dropped_queue_full": 0}
        assert stats["exporter0"] == {"spans_failed": 0, "spans_rejected": 0}
        assert stats["spans_created"] == 5 and stats["mode"] == "fastotel"
        tracing.wrap_asgi(_app)
        assert tracing.middleware == "contrib"
    finally:
        tracing.shutdown()
