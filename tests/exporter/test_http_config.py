"""Env parsing of the OTLP/HTTP exporter: spec semantics, invalid values, explicit args win."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression

from otelkit.exporter._http_config import parse_headers, safe_url
from otelkit.exporter.http import OtlpHttpSpanExporter

QUIET = {"OTELKIT_SELF_METRICS": "false"}


def build(env: dict[str, str], **kw: Any) -> OtlpHttpSpanExporter:
    return OtlpHttpSpanExporter(environ={**QUIET, **env}, **kw)


@pytest.mark.parametrize(
    ("env", "endpoint"),
    [
        ({}, "http://localhost:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4318"}, "http://col:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4318/"}, "http://col:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://col/base"}, "https://col/base/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/custom"}, "http://t:1/custom"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/x"},
            "http://t:1/x",
        ),
    ],
)
def test_endpoint(env: dict[str, str], endpoint: str) -> None:
    assert build(env).settings.endpoint == endpoint


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("none", 10.0)),
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, ("zstd", 2.5)),
        (
            {
                "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "ZSTD",
                "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "700",
            },
            ("zstd", 0.7),
        ),
        ({"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "deflate"}, ("deflate", 10.0)),
    ],
)
def test_compression_and_timeout(env: dict[str, str], expected: tuple[str, float]) -> None:
    s = build(env).settings
    assert (s.compression, s.timeout_s) == expected


def test_headers_merge_traces_over_generic_and_url_decode() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=generic,x-team=a%20b",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "API-Key=traces%3D1",
    }
    assert build(env).settings.headers == {"api-key": "traces=1", "x-team": "a b"}


def test_certificates_traces_win() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_CERTIFICATE": "/generic/ca.pem",
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/traces/ca.pem",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/generic/key.pem",
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": "/traces/cert.pem",
    }
    s = build(env).settings
    assert (s.certificate_file, s.client_key_file, s.client_certificate_file) == (
        "/traces/ca.pem",
        "/generic/key.pem",
        "/traces/cert.pem",
    )


@pytest.mark.parametrize(
    ("env", "field", "default"),
    [
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli"}, "compression", "none"),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "timeout_s", 10.0),
        ({"OTELKIT_EXPORTER_MAX_REQUEST_BYTES": "huge"}, "max_request_bytes", 4 * 1024 * 1024),
        ({"OTELKIT_EXPORTER_MAX_RETRIES": "-3"}, "max_retries", 5),
        ({"OTELKIT_EXPORTER_BUFFER_POOL": "maybe"}, "buffer_pool", True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://col"}, "endpoint", "http://localhost:4318/v1/traces"),
    ],
)
def test_invalid_env_warns_and_uses_default(
    env: dict[str, str], field: str, default: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        s = build(env).settings
    assert getattr(s, field) == default
    assert "invalid" in caplog.text


def test_env_compression_level_out_of_range_for_codec_warns() -> None:
    exp = build({"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTELKIT_EXPORTER_COMPRESSION_LEVEL": "15"})
    assert exp._sender.compressor("gzip").level == 6


def test_size_settings_accept_units() -> None:
    s = build({"OTELKIT_EXPORTER_MAX_REQUEST_BYTES": "1MiB", "OTELKIT_EXPORTER_MIN_COMPRESS_BYTES": "2KiB"}).settings
    assert (s.max_request_bytes, s.min_compress_bytes) == (1 << 20, 2048)


def test_explicit_arguments_win() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:1/v1/traces",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1000",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=env",
        "OTELKIT_EXPORTER_MAX_RETRIES": "9",
        "OTELKIT_EXPORTER_MAX_REQUEST_BYTES": "2MiB",
    }
    exp = build(
        env,
        endpoint="http://arg:2/v1/traces",
        compression=Compression.Deflate,
        timeout=3,
        headers={"A": "arg"},
        max_retries=1,
        max_request_bytes=4096,
        compression_level=9,
    )
    s = exp.settings
    assert (s.endpoint, s.compression, s.timeout_s, s.headers, s.max_retries, s.max_request_bytes) == (
        "http://arg:2/v1/traces",
        "deflate",
        3.0,
        {"a": "arg"},
        1,
        4096,
    )
    assert exp._sender.compressor("deflate").level == 9
    assert exp._sender.compressor("gzip").level == 6  # the fallback codec keeps its default


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"endpoint": "localhost:4318"}, "endpoint="),
        ({"compression": "lz4"}, "compression='lz4'"),
        ({"compression": "gzip", "compression_level": 12}, "level 12 is invalid for gzip"),
        ({"timeout": 0}, "timeout=0"),
        ({"timeout": "5"}, "timeout='5'"),
        ({"max_request_bytes": 10}, "max_request_bytes=10"),
        ({"max_retries": -1}, "max_retries=-1"),
        ({"retry_initial": 0}, "retry_initial=0"),
        ({"buffer_pool": "yes"}, "buffer_pool='yes'"),
    ],
)
def test_bad_explicit_arguments_raise(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build({}, **kw)


def test_constructible_with_no_arguments() -> None:
    exp = OtlpHttpSpanExporter()
    assert exp.settings.endpoint.endswith("/v1/traces")
    exp.shutdown()


def test_parse_headers_skips_malformed_pairs_without_logging_them(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        assert parse_headers("a=1,tokenwithoutequals,=x, ,b=2", "SRC") == {"a": "1", "b": "2"}
    assert "tokenwithoutequals" not in caplog.text and "SRC" in caplog.text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host:4318/v1/traces?key=secret", "https://host:4318/v1/traces"),
        ("http://host/v1/traces", "http://host/v1/traces"),
    ],
)
def test_safe_url_strips_credentials(url: str, shown: str) -> None:
    assert safe_url(url) == shown
