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
