from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

from otelkit import _warn, config
from otelkit import pipeline as pl
from otelkit.batch import SmartBatchSpanProcessor
from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.exporter.kafka import KafkaSpanExporter
from otelkit.receiver import OtlpReceiver


def _configure(env: dict[str, str], **kw: Any) -> pl.Pipeline:
    return pl.configure(environ=env, set_global=False, **kw)


def test_explicit_exporter_receives_spans() -> None:
    exporter = InMemorySpanExporter()
    with _configure({"OTEL_SERVICE_NAME": "svc"}, exporters=[exporter]) as p:
        with p.tracer().start_as_current_span("work"):
            pass
        assert p.force_flush()
    [span] = exporter.get_finished_spans()
    assert span.name == "work"
    assert span.resource.attributes["service.name"] == "svc"


def test_service_name_argument_wins_over_env() -> None:
    p = _configure({"OTEL_SERVICE_NAME": "env-name", "OTEL_RESOURCE_ATTRIBUTES": "team=a,service.name=ra"},
                   service_name="arg-name", exporters=[])
    attrs = p.provider.resource.attributes
    assert attrs["service.name"] == "arg-name"
    assert attrs["team"] == "a"
    p.shutdown()


def test_env_service_name_wins_over_resource_attributes() -> None:
    p = _configure({"OTEL_SERVICE_NAME": "env-name", "OTEL_RESOURCE_ATTRIBUTES": "service.name=ra"}, exporters=[])
    assert p.provider.resource.attributes["service.name"] == "env-name"
    p.shutdown()


def test_configure_builds_the_resource_from_its_environ_not_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's Resource.create reads OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME and
    OTEL_EXPERIMENTAL_RESOURCE_DETECTORS from os.environ: none of them may reach a pipeline
    configured from a mapping."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-os-environ")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "leaked=yes,service.name=os-ra")
    monkeypatch.setenv("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "process")
    p = _configure({"OTEL_SERVICE_NAME": "mine", "OTEL_RESOURCE_ATTRIBUTES": "team=a"}, exporters=[])
    attrs = p.provider.resource.attributes
    assert attrs["service.name"] == "mine" and attrs["team"] == "a"
    assert "leaked" not in attrs and "process.pid" not in attrs
    assert attrs["telemetry.sdk.language"] == "python" and attrs["service.instance.id"]  # as Resource.create
    p.shutdown()
    unnamed = _configure({"OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "process"}, exporters=[])
    attrs = unnamed.provider.resource.attributes
    assert attrs["service.name"].startswith("unknown_service") and "leaked" not in attrs
    assert attrs["process.pid"] > 0  # the mapping's detectors run
    unnamed.shutdown()


def test_an_unknown_resource_detector_in_the_environ_warns_and_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit.configure"):
        p = _configure({"OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "nosuch,process"}, exporters=[])
    assert p.provider.resource.attributes["process.pid"] > 0
    assert "'nosuch' (no such entry point is installed)" in caplog.text
    p.shutdown()


def test_malformed_resource_attribute_pair_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit.configure"):
        attrs = pl.parse_key_values("a=1,broken,b=x%20y")
    assert attrs == {"a": "1", "b": "x y"}
    assert "broken" in caplog.text


def test_sampler_from_env_entry_point() -> None:
    sampler = pl.build_sampler({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert isinstance(sampler, ParentBased)
    assert "0.25" in sampler.get_description()


def test_ratio_sampler_bad_arg_warns_and_uses_one(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit.configure"):
        sampler = pl.build_sampler({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "lots"})
    assert isinstance(sampler, TraceIdRatioBased)
    assert sampler.rate == 1.0
    assert "'lots'" in caplog.text


def test_unknown_sampler_falls_back_to_parentbased_always_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit.configure"):
        sampler = pl.build_sampler({"OTEL_TRACES_SAMPLER": "no_such_sampler"})
    assert isinstance(sampler, ParentBased)
    assert "no_such_sampler" in caplog.text


def test_explicit_sampler_wins() -> None:
    p = _configure({"OTEL_TRACES_SAMPLER": "always_on"}, sampler=ALWAYS_OFF, exporters=[])
    assert p.sampler is ALWAYS_OFF
    p.shutdown()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["otelkit_otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "GRPC"}, ["otlp_proto_grpc"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
         ["otelkit_otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc", "OTEL_TRACES_EXPORTER": "otlp"}, ["otlp_proto_grpc"]),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": "console,None"}, []),  # otelkit config accepts it: no exporter, as for propagators
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, ["otlp_proto_grpc"]),
        ({"OTEL_TRACES_EXPORTER": "console, otlp"}, ["console", "otlp_proto_http"]),
    ],
)
def test_exporter_names(env: dict[str, str], expected: list[str]) -> None:
    assert pl.exporter_names(env) == expected


def test_default_exporter_is_the_declared_setting_default() -> None:
    # one source of truth: what `otelkit config` shows is what configure() uses
    assert pl.DEFAULT_EXPORTER == config.OTEL_TRACES_EXPORTER.default == "otelkit_otlp"
    assert pl.default_exporter({}) == config.OTEL_TRACES_EXPORTER.default


def test_invalid_traces_protocol_warns_and_uses_http_protobuf(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit.config"):
        names = pl.exporter_names({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"})
    assert names == ["otelkit_otlp"]
    assert "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='thrift' is invalid" in caplog.text


def test_unknown_exporter_is_skipped_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit.configure"):
        exporters = pl.build_exporters({"OTEL_TRACES_EXPORTER": "console,bogus"})
    assert len(exporters) == 1
    assert "bogus" in caplog.text


def test_stock_processor_when_asked() -> None:
    exporter = InMemorySpanExporter()
    processor = pl.build_export_processor(exporter, {"OTELKIT_PROCESSOR": "stock"})
    assert isinstance(processor, BatchSpanProcessor)
    processor.shutdown()


@pytest.mark.parametrize(("env", "expected"), [
    ({}, SmartBatchSpanProcessor),
    ({"OTELKIT_PROCESSOR": "smart"}, SmartBatchSpanProcessor),
    ({"OTELKIT_PROCESSOR": "stock"}, BatchSpanProcessor),
    ({"OTELKIT_PROCESSOR": "bogus"}, SmartBatchSpanProcessor),
])
def test_processor_kind_selects_smart_or_stock(env: dict[str, str], expected: type) -> None:
    processor = pl.build_export_processor(InMemorySpanExporter(), env)
    assert type(processor) is expected
    processor.shutdown()


def test_smart_processor_reads_the_pipeline_environ() -> None:
    processor = pl.build_export_processor(InMemorySpanExporter(), {"OTEL_BSP_MAX_QUEUE_SIZE": "777"})
    assert isinstance(processor, SmartBatchSpanProcessor)
    assert processor.stats()["queue_capacity"] == 777
    processor.shutdown()


def test_configure_applies_the_warn_interval_of_its_environ() -> None:
    # the mapping, not os.environ, sets how often otelkit repeats a warning
    with _configure({"OTELKIT_WARN_INTERVAL_S": "600"}, exporters=[InMemorySpanExporter()]):
        pass
    assert _warn.interval_s() == 600.0


def test_shutdown_is_idempotent_and_current_pipeline_is_tracked() -> None:
    p = _configure({}, exporters=[InMemorySpanExporter()])
    assert pl.current_pipeline() is p
    p.shutdown()
    p.shutdown()


def test_stats_collects_parts_that_offer_it() -> None:
    class Counting(InMemorySpanExporter):
        def stats(self) -> dict[str, int]:
            return {"spans": len(self.get_finished_spans())}

    exporter = Counting()
    with _configure({}, exporters=[exporter]) as p:
        p.tracer().start_span("x").end()
        p.force_flush()
        assert p.stats()["exporter0"] == {"spans": 1}


def test_sdk_disabled_records_nothing_and_builds_no_exporters() -> None:
    p = _configure({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"})
    span = p.tracer().start_span("x")
    assert not span.is_recording()
    assert p.exporters == [] and p.processors == []
    p.shutdown()


def test_configure_environ_reaches_otelkit_exporters(sink: OtlpReceiver) -> None:
    # nothing in os.environ: the endpoint, compression and service name come only from the mapping
    env = {
        "OTEL_TRACES_EXPORTER": "otelkit_otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink.endpoint,
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd",
        "OTELKIT_EXPORTER_MIN_COMPRESS_BYTES": "0",
        "OTEL_SERVICE_NAME": "from-mapping",
    }
    with pl.configure(environ=env, set_global=False) as p:
        (exporter,) = p.exporters
        assert isinstance(exporter, OtlpHttpSpanExporter)
        with p.tracer("t").start_as_current_span("hello"):
            pass
    assert sink.wait_for_spans(1, timeout=5)
    assert [s.span.name for s in sink.spans()] == ["hello"]
    assert sink.stats()["encodings"] == {"zstd": 1}


def test_build_exporters_hands_the_mapping_to_the_kafka_exporter() -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "otelkit_kafka,console",
        "OTELKIT_KAFKA_TOPIC": "from-mapping",
        "OTELKIT_KAFKA_KEYING": "none",
        "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "OTELKIT_KAFKA_TIMEOUT_MS": "50",
    }
    kafka, console = pl.build_exporters(env)
    assert isinstance(kafka, KafkaSpanExporter)
    assert (kafka.topic, kafka.keying, kafka.timeout_s) == ("from-mapping", "none", 0.05)
    assert isinstance(console, ConsoleSpanExporter)  # stock exporters are built without the mapping
    kafka.shutdown()
