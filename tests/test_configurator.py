"""The otelkit distro and configurator pick trace exporters exactly as ``configure()`` does."""

from __future__ import annotations

import os
from typing import Any

import pytest
from opentelemetry.sdk._configuration import _get_exporter_names, _import_exporters

from otelkit import configurator
from otelkit import pipeline as pl

_TOUCHED = (
    "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED", "OTELKIT_TAIL_ENABLED", "OTEL_TRACES_SAMPLER",
)


_GRPC = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter"
_HTTP = "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter"


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """os.environ without the variables under test; monkeypatch restores them afterwards."""
    for name in _TOUCHED:
        monkeypatch.setenv(name, "")  # records the original value (or its absence) for the undo
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "otelkit_otlp"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "otlp_proto_grpc"),  # otelkit_otlp is HTTP only
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, "otlp_proto_grpc"),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "otlp_proto_http"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_TRACES_EXPORTER": "console"}, "console"),  # user's choice kept
    ],
)
def test_distro_default_exporter_follows_the_protocol(
    environ: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        environ.setenv(name, value)
    configurator.OtelkitDistro()._configure()
    assert os.environ["OTEL_TRACES_EXPORTER"] == expected
    assert os.environ["OTEL_METRICS_EXPORTER"] == "none"


@pytest.mark.parametrize(
    ("env", "classes"),
    [
        ({}, ["otelkit.exporter.http.OtlpHttpSpanExporter"]),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, [_GRPC]),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json", "OTEL_TRACES_EXPORTER": "otlp"},
         [_HTTP]),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, [_HTTP]),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
    ],
)
def test_configurator_hands_the_sdk_the_exporters_configure_would_build(
    environ: pytest.MonkeyPatch, env: dict[str, str], classes: list[str]
) -> None:
    for name, value in env.items():
        environ.setenv(name, value)
    expected = pl.exporter_names(env)
    seen: dict[str, Any] = {}

    def fake_initialize_components(**kwargs: Any) -> None:
        # what the SDK itself would instantiate from the environment it is handed
        names = list(kwargs.get("trace_exporter_names") or []) + _get_exporter_names("traces")
        seen["names"] = names
        seen["classes"] = [f"{c.__module__}.{c.__qualname__}" for c in _import_exporters(names, [], [])[0].values()]

    environ.setattr(configurator, "_initialize_components", fake_initialize_components)
    configurator.OtelkitConfigurator()._configure()
    assert seen["names"] == expected
    assert seen["classes"] == classes

