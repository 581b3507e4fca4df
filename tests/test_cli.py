from __future__ import annotations

import json
import subprocess
import sys

import pytest

from otelkit.cli import main


def test_config_prints_table_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"], environ={"OTELKIT_PROCESSOR": "stock"}) == 0
    out = capsys.readouterr().out
    assert "OTELKIT_PROCESSOR" in out and "stock" in out and "env" in out


def test_config_lists_every_invalid_variable(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"OTELKIT_WARN_INTERVAL_S": "abc", "OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"}
    assert main(["config"], environ=env) == 2
    err = capsys.readouterr().err
    assert "OTELKIT_WARN_INTERVAL_S='abc' is invalid: expected a number >= 0" in err
    assert "OTEL_EXPORTER_OTLP_COMPRESSION='brotli' is invalid: expected one of none, gzip, deflate, zstd" in err


def test_config_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--json"], environ={}) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"name": "OTELKIT_TAIL_ENABLED", "value": "false", "source": "default", "error": None} in rows


def test_console_script_exit_code() -> None:
    env = {"OTELKIT_SELF_METRICS": "sometimes", "PATH": ""}
    proc = subprocess.run([sys.executable, "-m", "otelkit", "config"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "OTELKIT_SELF_METRICS='sometimes'" in proc.stderr


def test_config_shows_the_effective_default_exporter_and_checks_the_traces_protocol(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "--json"], environ={}) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["OTEL_TRACES_EXPORTER"]["value"] == "otelkit_otlp"
    assert rows["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"]["value"] == "http/protobuf"
    assert main(["config"], environ={"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"}) == 2
    assert "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='thrift' is invalid" in capsys.readouterr().err


# --- otelkit config checks what the runtime checks (issue 13) -------------------------------


def _closed_broker() -> str:
    from otelkit.testing import free_port

    return f"127.0.0.1:{free_port()}"  # nothing listens: librdkafka only validates, never delivers


def _problems(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["config"], environ=env)
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_SAMPLER": "otelkit_adaptive", "OTEL_TRACES_SAMPLER_ARG": "target=abc"},
         "OTEL_TRACES_SAMPLER_ARG='target=abc' is invalid for otelkit_adaptive"),
        ({"OTEL_TRACES_SAMPLER": "otelkit_adaptive", "OTEL_TRACES_SAMPLER_ARG": "rules=keep:oops"},
         "rules: sampling rule 'keep:oops' is invalid"),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
         "expected a probability from 0 to 1"),
        ({"OTEL_TRACES_SAMPLER": "otelkit_adaptiv"}, "did you mean 'otelkit_adaptive'?"),
        ({"OTELKIT_TAIL_POLICIES": "errors=status_code(status_codes=EROR)"}, 'unknown status code "EROR"'),
        ({"OTELKIT_RULES": "keep:http.route"}, "OTELKIT_RULES='keep:http.route' is invalid"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT='127.0.0.1:4318' is invalid"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, "OTEL_EXPORTER_OTLP_ENDPOINT='ftp://x' is invalid"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://user:s3cret@x"},
         "OTEL_EXPORTER_OTLP_ENDPOINT='ftp://user:<redacted>@x' is invalid"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='http://'"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret,Bearer s3cret"}, "OTEL_EXPORTER_OTLP_HEADERS='<redacted>'"),
        ({"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "s3cret"}, "OTEL_EXPORTER_OTLP_TRACES_HEADERS='<redacted>'"),
        ({"OTEL_PYTHON_EXCLUDED_URLS": "/ok,(unclosed"}, "regex '(unclosed'"),
        ({"OTEL_PYTHON_ASGI_EXCLUDED_URLS": "[a-"}, "OTEL_PYTHON_ASGI_EXCLUDED_URLS='[a-' is invalid"),
        ({"OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS": "*x"}, "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS='*x'"),
        ({"OTEL_PYTHON_EXCLUDED_URLS": "(?P<x>a),(?P<x>b)"}, "the regexes do not combine into one"),
        ({"OTEL_TRACES_EXPORTER": "otelkit_otpl"}, "did you mean 'otelkit_otlp'?"),
        ({"OTEL_PROPAGATORS": "tracecontext,b3x"}, "OTEL_PROPAGATORS='tracecontext,b3x' is invalid"),
        ({"OTELKIT_KAFKA_TIMEOUT_MS": "5"}, "OTELKIT_KAFKA_TIMEOUT_MS='5' is invalid: expected an integer from 10 to 3600000"),
        ({"OTELKIT_KAFKA_PRODUCER_CONFIG": "sasl.password"}, "OTELKIT_KAFKA_PRODUCER_CONFIG='<redacted>'"),
        ({"OTELKIT_KAFKA_TOPIC": "spans topic"}, "OTELKIT_KAFKA_TOPIC='spans topic' is invalid"),
        ({"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "-1"}, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT='-1' is invalid"),
        ({"OTEL_SPAN_EVENT_COUNT_LIMIT": "many"}, "OTEL_SPAN_EVENT_COUNT_LIMIT='many' is invalid"),
        ({"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "-5"}, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT='-5' is invalid"),
        ({"OTELKIT_TAIL_ENABLD": "true"}, "OTELKIT_TAIL_ENABLD is not an otelkit setting; did you mean OTELKIT_TAIL_ENABLED?"),
        ({"OTELKIT_SAMPLER_TARGT": "5"}, "did you mean OTELKIT_SAMPLER_TARGET?"),
    ],
)
def test_config_fails_naming_each_value_the_runtime_rejects(
    env: dict[str, str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _problems(env, capsys)
    assert code == 2
    assert named in err
    assert "s3cret" not in err


def test_config_names_every_bad_value_at_once_and_masks_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    env = {
        "OTEL_TRACES_SAMPLER": "otelkit_adaptiv",
        "OTELKIT_TAIL_POLICIES": "errors=status_code(status_codes=EROR)",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer s3cret,broken",
        "OTEL_TRACES_EXPORTER": "otelkit_otpl",
        "OTELKIT_TAIL_ENABLD": "1",
    }
    code, err = _problems(env, capsys)
    assert code == 2
    for name in env:
        assert name in err
    assert "s3cret" not in err and "Bearer" not in err


def test_config_reports_producer_properties_librdkafka_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "otelkit_kafka",
        "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": _closed_broker(),
        "OTELKIT_KAFKA_PRODUCER_CONFIG": "sasl.password=s3cret,no.such.property=1",
    }
    code, err = _problems(env, capsys)
    assert code == 2
    assert "OTELKIT_KAFKA_PRODUCER_CONFIG (or producer_config): librdkafka refused producer property 'no.such.property'" in err
    assert "s3cret" not in err
    # the same producer without the bad property is accepted
    env["OTELKIT_KAFKA_PRODUCER_CONFIG"] = "linger.ms=20"
    assert _problems(env, capsys)[0] == 0


def test_config_names_the_missing_extra(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # as if otelkit[kafka] were not installed
    code, err = _problems({"OTEL_TRACES_EXPORTER": "otelkit_kafka"}, capsys)
    assert code == 2
    assert "pip install 'otelkit[kafka]'" in err


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_SAMPLER": "otelkit_adaptive", "OTEL_TRACES_SAMPLER_ARG": "target=50,rules=drop:http.route=/health"},
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
        {"OTEL_TRACES_SAMPLER": "always_on", "OTEL_TRACES_SAMPLER_ARG": "anything"},  # ignored by that sampler
        {"OTELKIT_TAIL_POLICIES": "errors=status_code(status_codes=ERROR)", "OTELKIT_RULES": "keep:http.route=/pay*"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318", "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret"},
        {"OTEL_PYTHON_EXCLUDED_URLS": "health,^/metrics$", "OTEL_PROPAGATORS": "tracecontext,baggage"},
        {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "64", "OTELKIT_EXAMPLE_TRACING": "stock"},  # example settings are not ours
    ],
)
def test_config_accepts_what_the_runtime_accepts(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _problems(env, capsys)
    assert (code, err) == (0, "")


def test_config_json_lists_check_problems_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--json"], environ={"OTELKIT_TAIL_ENABLD": "1"}) == 2
    rows = json.loads(capsys.readouterr().out)
    assert {"name": "OTELKIT_TAIL_ENABLD", "value": None, "source": "check",
            "error": "OTELKIT_TAIL_ENABLD is not an otelkit setting; did you mean OTELKIT_TAIL_ENABLED?"} in rows
