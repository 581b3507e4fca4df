"""Settings of the exporters: the stock ``OTEL_EXPORTER_OTLP_*`` variables otelkit_otlp honours,
its own ``OTELKIT_EXPORTER_*`` knobs and the ``OTELKIT_KAFKA_*`` settings of otelkit_kafka.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from otelkit._parse import parse_pairs
from otelkit.config import (
    HOUR_MS,
    bool_setting,
    enum_setting,
    environment_check,
    int_setting,
    size_setting,
    str_setting,
)

__all__ = [
    "COMPRESSIONS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTELKIT_EXPORTER_COMPRESSION_LEVEL",
    "OTELKIT_EXPORTER_MIN_COMPRESS_BYTES",
    "OTELKIT_EXPORTER_MAX_REQUEST_BYTES",
    "OTELKIT_EXPORTER_MAX_RETRIES",
    "OTELKIT_EXPORTER_RETRY_INITIAL_MS",
    "OTELKIT_EXPORTER_BUFFER_POOL",
    "KAFKA_COMPRESSIONS",
    "OTELKIT_KAFKA_BOOTSTRAP_SERVERS",
    "OTELKIT_KAFKA_TOPIC",
    "OTELKIT_KAFKA_COMPRESSION",
    "OTELKIT_KAFKA_KEYING",
    "OTELKIT_KAFKA_TIMEOUT_MS",
    "OTELKIT_KAFKA_PRODUCER_CONFIG",
]

COMPRESSIONS = ("none", "gzip", "deflate", "zstd")


def _url(raw: str) -> object:
    from otelkit.exporter._http_config import check_url  # lazy: the exporter imports this module

    return check_url(raw.strip())


def _headers(raw: str) -> object:
    return parse_pairs(raw, decode=True)


def _topic(raw: str) -> object:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", raw.strip()):
        raise ValueError("a topic name has 1 to 249 characters among letters, digits, '.', '_' and '-'")
    return raw


OTEL_EXPORTER_OTLP_ENDPOINT = str_setting(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "http://localhost:4318",
    "Base OTLP endpoint; `/v1/traces` is appended for HTTP.",
    allowed="an http:// or https:// URL",
    validate=_url,
    standard=True,
)

OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = str_setting(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "",
    "Full traces endpoint URL (used as is); wins over OTEL_EXPORTER_OTLP_ENDPOINT.",
    allowed="an http:// or https:// URL",
    validate=_url,
    standard=True,
)

OTEL_EXPORTER_OTLP_PROTOCOL = enum_setting(
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "http/protobuf",
    ("http/protobuf", "grpc", "http/json"),
    "OTLP transport: picks the stock exporter `otlp` names (grpc or HTTP; `http/json` gets "
    "the stock HTTP protobuf exporter) and, when OTEL_TRACES_EXPORTER is unset, whether the "
    "default is `otelkit_otlp` (http/protobuf) or the stock `otlp`.",
    standard=True,
)

OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = enum_setting(
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "http/protobuf",
    ("http/protobuf", "grpc", "http/json"),
    "Traces OTLP transport; wins over OTEL_EXPORTER_OTLP_PROTOCOL when set.",
    standard=True,
)

OTEL_EXPORTER_OTLP_HEADERS = str_setting(
    "OTEL_EXPORTER_OTLP_HEADERS",
    "",
    "Request headers, `k1=v1,k2=v2` (values URL-encoded). Never logged.",
    allowed="key=value pairs separated by commas",
    validate=_headers,
    explain=True,
    standard=True,
    secret=True,
)

OTEL_EXPORTER_OTLP_TRACES_HEADERS = str_setting(
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "",
    "Traces request headers; merged over OTEL_EXPORTER_OTLP_HEADERS. Never logged.",
    allowed="key=value pairs separated by commas",
    validate=_headers,
    explain=True,
    standard=True,
    secret=True,
)

OTEL_EXPORTER_OTLP_TIMEOUT = int_setting(
    "OTEL_EXPORTER_OTLP_TIMEOUT", 10000, "Export timeout per call (ms), retries included.", min=0, max=HOUR_MS, standard=True
)

OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = int_setting(
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10000, "Traces export timeout (ms); wins over OTEL_EXPORTER_OTLP_TIMEOUT.",
    min=0, max=HOUR_MS, standard=True,
)

OTEL_EXPORTER_OTLP_COMPRESSION = enum_setting(
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "none",
    COMPRESSIONS,
    "Body compression. otelkit exporters also accept `zstd` (the stock exporter does not).",
    standard=True,
)

OTEL_EXPORTER_OTLP_TRACES_COMPRESSION = enum_setting(
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "none",
    COMPRESSIONS,
    "Traces body compression; wins over OTEL_EXPORTER_OTLP_COMPRESSION.",
    standard=True,
)

OTEL_EXPORTER_OTLP_CERTIFICATE = str_setting(
    "OTEL_EXPORTER_OTLP_CERTIFICATE", "", "CA bundle file to verify the server (HTTPS).", allowed="a file path",
    standard=True,
)

OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE = str_setting(
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "", "Traces CA bundle file.", allowed="a file path", standard=True
)

OTEL_EXPORTER_OTLP_CLIENT_KEY = str_setting(
    "OTEL_EXPORTER_OTLP_CLIENT_KEY", "", "Client private key file for mTLS.", allowed="a file path", standard=True
)

OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY = str_setting(
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "", "Traces client private key file.", allowed="a file path",
    standard=True,
)

OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE = str_setting(
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "", "Client certificate file for mTLS.", allowed="a file path",
    standard=True,
)

OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE = str_setting(
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "", "Traces client certificate file.", allowed="a file path",
    standard=True,
)

OTELKIT_EXPORTER_COMPRESSION_LEVEL = int_setting(
    "OTELKIT_EXPORTER_COMPRESSION_LEVEL",
    0,
    "Compression level of the otelkit OTLP/HTTP exporter; 0 = codec default (zstd 3, "
    "gzip/deflate 6). zstd takes 1-22, gzip/deflate 1-9.",
    min=0,
    max=22,
    component="exporter",
)

OTELKIT_EXPORTER_MIN_COMPRESS_BYTES = size_setting(
    "OTELKIT_EXPORTER_MIN_COMPRESS_BYTES",
    1024,
    "Request bodies smaller than this are sent uncompressed.",
    component="exporter",
)

OTELKIT_EXPORTER_MAX_REQUEST_BYTES = size_setting(
    "OTELKIT_EXPORTER_MAX_REQUEST_BYTES",
    4 * 1024 * 1024,
    "Largest encoded (uncompressed) request; bigger batches are split, never dropped.",
    min=1024,
    component="exporter",
)

OTELKIT_EXPORTER_MAX_RETRIES = int_setting(
    "OTELKIT_EXPORTER_MAX_RETRIES",
    5,
    "Retries per request after the first attempt (408/429/502/503/504, connection errors), "
    "always within the export timeout.",
    min=0,
    max=20,
    component="exporter",
)

OTELKIT_EXPORTER_RETRY_INITIAL_MS = int_setting(
    "OTELKIT_EXPORTER_RETRY_INITIAL_MS",
    500,
    "First retry backoff (ms); doubles per retry with ±20% jitter, capped at 30 s.",
    min=1,
    max=HOUR_MS,
    component="exporter",
)

OTELKIT_EXPORTER_BUFFER_POOL = bool_setting(
    "OTELKIT_EXPORTER_BUFFER_POOL",
    True,
    "Encode requests into pooled, reused buffers (otelkit.pool.BufferPool): halves the bytes "
    "newly allocated per export call (docs/pools.md); `false` allocates a fresh buffer per batch.",
    component="exporter",
)

KAFKA_COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")

OTELKIT_KAFKA_BOOTSTRAP_SERVERS = str_setting(
    "OTELKIT_KAFKA_BOOTSTRAP_SERVERS",
    "localhost:9092",
    "Kafka brokers the `otelkit_kafka` exporter connects to, `host:port,host:port`.",
    allowed="comma-separated host:port list",
    component="exporter",
)

OTELKIT_KAFKA_TOPIC = str_setting(
    "OTELKIT_KAFKA_TOPIC",
    "otlp_spans",
    "Topic the `otelkit_kafka` exporter writes to (the Collector kafka receiver's default).",
    allowed="a Kafka topic name",
    validate=_topic,
    explain=True,
    component="exporter",
)

OTELKIT_KAFKA_COMPRESSION = enum_setting(
    "OTELKIT_KAFKA_COMPRESSION",
    "zstd",
    KAFKA_COMPRESSIONS,
    "Kafka-level (record batch) compression of the `otelkit_kafka` exporter.",
    component="exporter",
)

OTELKIT_KAFKA_KEYING = enum_setting(
    "OTELKIT_KAFKA_KEYING",
    "trace",
    ("trace", "none"),
    "`trace`: one message per trace keyed by the 32-hex-digit trace ID (all spans of a trace "
    "on one partition); `none`: one unkeyed message per export batch.",
    component="exporter",
)

OTELKIT_KAFKA_TIMEOUT_MS = int_setting(
    "OTELKIT_KAFKA_TIMEOUT_MS",
    10000,
    "How long one `otelkit_kafka` export waits for broker acknowledgements (ms); also the "
    "shutdown flush bound (librdkafka's `message.timeout.ms`, which must exceed `linger.ms`, 5).",
    min=10,
    max=HOUR_MS,
    component="exporter",
)

OTELKIT_KAFKA_PRODUCER_CONFIG = str_setting(
    "OTELKIT_KAFKA_PRODUCER_CONFIG",
    "",
    "Extra librdkafka producer properties, `k1=v1,k2=v2` (e.g. SASL settings). Never logged.",
    allowed="key=value pairs separated by commas",
    validate=parse_pairs,
    explain=True,
    component="exporter",
    secret=True,
)


@environment_check(deep=True)
def _check_kafka_producer(environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """The producer properties librdkafka refuses, found by building the producer the
    ``otelkit_kafka`` exporter would build (only when that exporter is chosen)."""
    from otelkit._exporter_selection import exporter_names, missing_extra

    if "otelkit_kafka" not in exporter_names(environ) or missing_extra("otelkit_kafka"):
        return
    from otelkit.exporter._kafka_client import ConfluentProducer

    refused: list[str] = []
    try:
        extra = parse_pairs(OTELKIT_KAFKA_PRODUCER_CONFIG.raw(environ) or "")
    except ValueError:
        extra = {}  # reported by the variable's own check
    ConfluentProducer(
        OTELKIT_KAFKA_BOOTSTRAP_SERVERS.get(environ),
        OTELKIT_KAFKA_COMPRESSION.get(environ),
        OTELKIT_KAFKA_TIMEOUT_MS.get(environ),
        {**extra, "log_level": "0"},  # a check: no librdkafka log lines about the (unused) brokers
        on_refused=refused.append,
    ).close()
    for message in refused:
        name = "OTELKIT_KAFKA_TIMEOUT_MS" if message.startswith("OTELKIT_KAFKA_TIMEOUT_MS") else (
            "OTELKIT_KAFKA_PRODUCER_CONFIG")
        yield name, message

