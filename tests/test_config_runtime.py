"""At run time no environment value makes configure(), the configurator or an otelkit
constructor raise into the application; bad values warn once, naming the value, and fall back."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import pytest
from opentelemetry.sdk.trace.sampling import ParentBased

from otelkit import configurator
from otelkit import pipeline as pl
from otelkit._warn import reset_warnings
from otelkit.exporter.http import OtlpHttpSpanExporter
from otelkit.exporter.kafka import KafkaSpanExporter
from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.testing import free_port


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    reset_warnings()


def _configure(env: dict[str, str], **kw: Any) -> pl.Pipeline:
    return pl.configure(environ=env, set_global=False, **kw)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("otelkit") and r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-1"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "-1"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "x"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1.5"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "-3"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "-1"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "-1"),
    ],
)
def test_bad_sdk_span_limit_warns_instead_of_raising(
    name: str, value: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)  # the stock SpanLimits reads os.environ and raises on it
    with caplog.at_level(logging.WARNING):
        p = _configure({name: value}, exporters=[])
    assert [r for r in _warnings(caplog) if f"{name}={value!r} is invalid" in r.getMessage()]
    with p.tracer().start_as_current_span("ok") as span:
        span.set_attribute("a", "b")
    p.shutdown()


def test_span_limits_are_read_from_the_injected_environ() -> None:
    env = {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "3"}
    p = _configure(env, exporters=[])
    with p.tracer().start_as_current_span("s", attributes={"a": 0, "b": "long value", "c": 2}) as span:
        pass
    assert dict(span.attributes or {}) == {"b": "lon", "c": 2}
    limits = p.provider._span_limits
    assert (limits.max_span_attributes, limits.max_attributes, limits.max_span_attribute_length) == (2, 128, 3)
    p.shutdown()


def test_configure_environ_reaches_the_adaptive_samplers_settings() -> None:
    env = {
        "OTEL_TRACES_SAMPLER": "otelkit_adaptive",
        "OTELKIT_SAMPLER_TARGET": "7",
        "OTELKIT_RULES": "drop:http.route=/health",
    }
    p = _configure(env, exporters=[])
    sampler = p.sampler
    assert isinstance(sampler, AdaptiveSampler)
    assert "target=7" in sampler.get_description()
    [rule] = sampler._rules.rules
    assert "/health" in repr(rule)
    p.shutdown()


def test_rules_sampler_reads_otelkit_rules_from_the_injected_environ() -> None:
    sampler = pl.build_sampler({"OTEL_TRACES_SAMPLER": "otelkit_rules", "OTELKIT_RULES": "drop:http.route=/health"})
    assert len(sampler.rules.rules) == 1  # type: ignore[attr-defined]


def test_bad_sampler_name_warns_once_and_uses_the_spec_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        sampler = pl.build_sampler({"OTEL_TRACES_SAMPLER": "otelkit_adaptiv"})
    assert isinstance(sampler, ParentBased)
    [record] = _warnings(caplog)
    assert "did you mean 'otelkit_adaptive'?" in record.getMessage()


def test_out_of_range_ratio_names_the_argument(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        pl.build_sampler({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"})
    [record] = _warnings(caplog)
    assert "OTEL_TRACES_SAMPLER_ARG='1.5' is invalid" in record.getMessage()


def test_bad_exporter_name_gives_one_line_and_a_working_exporter(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        p = _configure({"OTEL_TRACES_EXPORTER": "otelkit_otpl"})
    [record] = _warnings(caplog)
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert "'otelkit_otpl'" in record.getMessage() and "did you mean 'otelkit_otlp'?" in record.getMessage()
    assert "using 'otelkit_otlp' instead" in record.getMessage()
    assert [type(e) for e in p.exporters] == [OtlpHttpSpanExporter]
    p.shutdown()


def test_a_bad_name_next_to_a_good_one_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        names = pl.sdk_exporter_setting({"OTEL_TRACES_EXPORTER": "console,nope"})
    assert names == "console"
    assert "skipping it" in caplog.text


def test_kafka_exporter_without_the_extra_names_the_pip_install(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    with caplog.at_level(logging.WARNING):
        p = _configure({"OTEL_TRACES_EXPORTER": "otelkit_kafka"})
    [record] = _warnings(caplog)
    assert "pip install 'otelkit[kafka]'" in record.getMessage()
    assert [type(e) for e in p.exporters] == [OtlpHttpSpanExporter]
    p.shutdown()


def test_schemeless_endpoint_gets_http_with_a_clear_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        exporter = OtlpHttpSpanExporter(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"})
    assert exporter.settings.endpoint == "http://127.0.0.1:4318/v1/traces"
    [record] = _warnings(caplog)
    message = record.getMessage()
    assert "OTEL_EXPORTER_OTLP_ENDPOINT='127.0.0.1:4318' has no scheme" in message
    assert "'://" not in message
    exporter.shutdown()


def test_endpoint_with_another_scheme_falls_back_to_the_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        exporter = OtlpHttpSpanExporter(environ={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://x/v1/traces"})
    assert exporter.settings.endpoint == "http://localhost:4318/v1/traces"
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT 'ftp://x/v1/traces' is invalid" in caplog.text
    exporter.shutdown()


def test_malformed_header_pair_is_skipped_and_the_others_kept(caplog: pytest.LogCaptureFixture) -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret,Bearer s3cret", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x=1"}
    with caplog.at_level(logging.WARNING):
        exporter = OtlpHttpSpanExporter(environ=env)
    assert exporter.settings.headers == {"api-key": "s3cret", "x": "1"}
    assert "OTEL_EXPORTER_OTLP_HEADERS: ignoring malformed header pair #2" in caplog.text
    assert "s3cret" not in caplog.text
    exporter.shutdown()


def test_kafka_exporter_drops_a_refused_producer_property_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {
        "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "OTELKIT_KAFKA_PRODUCER_CONFIG": "no.such.property=s3cret,linger.ms=1",
    }
    with caplog.at_level(logging.WARNING):
        exporter = KafkaSpanExporter(environ=env)
    assert "refused producer property 'no.such.property'" in caplog.text
    assert "s3cret" not in caplog.text
    assert exporter._producer._conf["linger.ms"] == "1"  # type: ignore[attr-defined]
    assert "no.such.property" not in exporter._producer._conf  # type: ignore[attr-defined]
    exporter.shutdown()


def test_kafka_timeout_librdkafka_refuses_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    broker = f"127.0.0.1:{free_port()}"
    with caplog.at_level(logging.WARNING):
        exporter = KafkaSpanExporter(bootstrap_servers=broker, timeout_ms=5)  # below librdkafka's linger.ms
    assert "librdkafka refused message.timeout.ms=5" in caplog.text
    exporter.shutdown()


def test_unknown_propagator_is_left_out_and_the_rest_installed(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import propagate, trace

    monkeypatch.setattr(propagate, "_HTTP_TEXT_FORMAT", propagate.get_global_textmap())  # restored afterwards
    monkeypatch.setattr(trace, "set_tracer_provider", lambda provider: None)  # keep the global provider
    with caplog.at_level(logging.WARNING):
        p = pl.configure(environ={"OTEL_PROPAGATORS": "baggage,b3x", "OTEL_TRACES_EXPORTER": "none"})
    assert "OTEL_PROPAGATORS names unknown 'b3x'" in caplog.text
    assert propagate.get_global_textmap().fields == {"baggage"}
    p.shutdown()


def test_unknown_otelkit_name_warns_with_the_closest_setting(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _configure({"OTELKIT_TAIL_ENABLD": "true"}, exporters=[]).shutdown()
    assert "OTELKIT_TAIL_ENABLD is not an otelkit setting; did you mean OTELKIT_TAIL_ENABLED?" in caplog.text


def test_warn_interval_is_validated(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _configure({"OTELKIT_WARN_INTERVAL_S": "-2"}, exporters=[]).shutdown()
    assert "OTELKIT_WARN_INTERVAL_S='-2' is invalid: expected a number >= 0" in caplog.text


_CONFIGURATOR_ENV = ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_PROPAGATORS", "OTEL_TRACES_EXPORTER",
                     "OTEL_SDK_DISABLED", "OTELKIT_TAIL_ENABLED", "OTEL_TRACES_SAMPLER")


@pytest.fixture
def sdk_environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """os.environ with values the SDK itself raises on; monkeypatch restores it afterwards."""
    for name in _CONFIGURATOR_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-1")
    monkeypatch.setenv("OTEL_PROPAGATORS", "tracecontext,b3x")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otelkit_otpl")
    return monkeypatch


def test_configurator_survives_values_the_sdk_raises_on(
    sdk_environ: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry import propagate
    from opentelemetry.sdk.trace import TracerProvider

    seen: dict[str, Any] = {}

    def sdk_like_initialize_components(**kwargs: Any) -> None:
        # what the SDK's own set-up reads from os.environ after the configurator ran
        seen["provider"] = TracerProvider(sampler=kwargs["sampler"])  # SpanLimits() from os.environ
        seen["propagator"] = propagate._load_propagators()  # OTEL_PROPAGATORS, as on import

    sdk_environ.setattr(configurator, "_initialize_components", sdk_like_initialize_components)
    with caplog.at_level(logging.WARNING):
        configurator.OtelkitConfigurator()._configure()
    assert seen["provider"]._span_limits.max_span_attributes == 128
    assert seen["propagator"].fields == {"traceparent", "tracestate"}
    assert os.environ["OTEL_TRACES_EXPORTER"] == "otelkit_otlp"
    assert "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT='-1' is invalid" in caplog.text
    assert "OTEL_PROPAGATORS names unknown 'b3x'" in caplog.text


def test_configurator_falls_back_to_configure_when_the_sdk_set_up_fails(
    sdk_environ: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[Any] = []

    def failing_initialize_components(**kwargs: Any) -> None:
        raise RuntimeError("Requested component 'x' not found in entry point 'y'\nsecond line")

    sdk_environ.setattr(configurator, "_initialize_components", failing_initialize_components)
    sdk_environ.setattr(pl, "configure", lambda **kw: calls.append(kw))
    with caplog.at_level(logging.WARNING):
        configurator.OtelkitConfigurator()._configure()
    assert len(calls) == 1 and calls[0]["environ"] is os.environ
    [line] = [r.getMessage() for r in caplog.records if "set-up failed" in r.getMessage()]
    assert "RuntimeError: Requested component 'x'" in line and "second line" not in line


def test_stock_processor_reads_otel_bsp_from_the_environ_and_never_raises(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from otelkit.cli import main

    env = {"OTELKIT_PROCESSOR": "stock", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "5000", "OTEL_BSP_SCHEDULE_DELAY": "0",
           "OTEL_BSP_MAX_QUEUE_SIZE": "4096"}
    with caplog.at_level(logging.WARNING):
        p = _configure(env)
    [processor] = p.processors
    assert isinstance(processor, BatchSpanProcessor)
    inner = processor._batch_processor
    assert (inner._max_queue_size, inner._max_export_batch_size) == (4096, 4096)
    assert "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=5000 is larger than OTEL_BSP_MAX_QUEUE_SIZE=4096" in caplog.text
    p.shutdown()
    assert main(["config"], environ=env) == 2
    assert "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=5000 is larger than OTEL_BSP_MAX_QUEUE_SIZE=4096" in capsys.readouterr().err
