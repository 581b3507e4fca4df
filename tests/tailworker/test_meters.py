"""The tail-worker command's own meter provider, from the standard OTEL_METRICS_* variables."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Grpc
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Http
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

from otelkit.tailworker._meters import meter_provider


def _exporters(provider: object) -> list[type]:
    readers = provider._metric_readers  # type: ignore[attr-defined]
    return [type(r._exporter) for r in readers]


@pytest.mark.parametrize(("env", "want"), [
    ({}, [Http]),
    ({"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"}, [Grpc]),
    ({"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, [Grpc]),
    ({"OTEL_METRICS_EXPORTER": " Console , otlp"}, [ConsoleMetricExporter, Http]),
])
def test_exporters_follow_the_standard_variables(env: dict[str, str], want: list[type],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # the SDK's exporters read their endpoint from os.environ: a closed loopback port
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:9/v1/metrics")
    provider = meter_provider({**env, "OTEL_METRIC_EXPORT_INTERVAL": "60000"})
    try:
        assert _exporters(provider) == want
        assert provider._sdk_config.resource.attributes["service.name"] == "otelkit-tail-worker"
    finally:
        provider.shutdown(timeout_millis=10_000)  # nothing recorded: returns at once; 1 ms flaked under load (a second reader found the deadline spent and the SDK raised)


def test_none_builds_no_provider() -> None:
    assert meter_provider({"OTEL_METRICS_EXPORTER": "none"}) is None
    assert meter_provider({"OTEL_METRICS_EXPORTER": "console,none"}) is None


def test_unknown_exporter_is_named_and_left_out(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        assert meter_provider({"OTEL_METRICS_EXPORTER": "prometheus"}) is None
    assert "OTEL_METRICS_EXPORTER names 'prometheus'; allowed: otlp, console, none" in caplog.text


def test_service_name_comes_from_otel_service_name() -> None:
    provider = meter_provider({"OTEL_METRICS_EXPORTER": "console", "OTEL_SERVICE_NAME": "tail-eu"})
    try:
        assert provider._sdk_config.resource.attributes["service.name"] == "tail-eu"
    finally:
        provider.shutdown(timeout_millis=10_000)  # nothing recorded: returns at once; 1 ms flaked under load (a second reader found the deadline spent and the SDK raised)
