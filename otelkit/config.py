"""Every setting otelkit reads, declared once, with typed parsers.

Each setting is one :class:`Setting`: its environment variable name, type, default,
what values are allowed and a one-line doc. Settings are read through the same typed
helpers everywhere, with an injectable ``environ`` mapping (tests never patch
``os.environ``):

* ``setting.get(environ)`` returns the parsed value, or the documented default when the
  variable is missing or empty. An invalid value logs one rate-limited warning naming
  the variable, the bad value and what is allowed, and the default is used: the host
  application never crashes on a typo.
* ``setting.resolve(explicit, environ)`` returns ``explicit`` when it is not ``None``:
  explicit constructor arguments always win over environment variables.
* ``setting.parse(raw)`` raises :class:`ValueError` with the same message; ``otelkit
  config`` uses it to fail a deployment check.

Standard ``OTEL_*`` variables that otelkit honours are declared here as well (marked
``standard=True``) so ``otelkit config`` shows the whole effective configuration.
otelkit-only knobs are ``OTELKIT_*``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from otelkit._warn import warn_limited

__all__ = [
    "Setting",
    "SETTINGS",
    "Row",
    "bool_setting",
    "int_setting",
    "float_setting",
    "enum_setting",
    "str_setting",
    "size_setting",
    "effective",
    "invalid",
    "markdown_table",
]

_logger = logging.getLogger("otelkit.config")

T = TypeVar("T")

SETTINGS: dict[str, Setting[Any]] = {}
"""Every declared setting by variable name, in declaration order."""


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: its name, parser, default and documentation."""

    name: str
    default: T
    doc: str
    allowed: str
    parser: Callable[[str], T] = field(repr=False)
    component: str = "core"
    standard: bool = False
    secret: bool = False

    def parse(self, raw: str) -> T:
        """Parse ``raw``; raise ValueError naming the variable and what is allowed."""
        try:
            return self.parser(raw.strip())
        except (ValueError, TypeError, OverflowError):
            raise ValueError(
                f"{self.name}={self._show(raw)!r} is invalid: expected {self.allowed}"
            ) from None

    def raw(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The raw value from ``environ`` (default ``os.environ``), ``None`` if unset or blank."""
        env = os.environ if environ is None else environ
        value = env.get(self.name)
        if value is None or not value.strip():
            return None
        return value

    def get(self, environ: Mapping[str, str] | None = None) -> T:
        """The parsed value, or the default (with a warning) when the value is invalid."""
        raw = self.raw(environ)
        if raw is None:
            return self.default
        try:
            return self.parse(raw)
        except ValueError as exc:
            warn_limited(
                _logger,
                "config:" + self.name,
                "%s; using the default %r",
                exc,
                self.default,
            )
            return self.default

    def resolve(self, explicit: T | None, environ: Mapping[str, str] | None = None) -> T:
        """``explicit`` when given (constructor arguments win), else :meth:`get`."""
        if explicit is not None:
            return explicit
        return self.get(environ)

    def _show(self, raw: str) -> str:
        return "<redacted>" if self.secret else raw


def _declare(setting: Setting[T]) -> Setting[T]:
    if setting.name in SETTINGS:
        raise ValueError(f"setting {setting.name} is declared twice")
    SETTINGS[setting.name] = setting
    return setting


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _parse_bool(raw: str) -> bool:
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(raw)


def bool_setting(name: str, default: bool, doc: str, **kw: Any) -> Setting[bool]:
    """Declare a boolean variable (true/false, 1/0, yes/no, on/off; case-insensitive)."""
    return _declare(Setting(name, default, doc, "true or false", _parse_bool, **kw))


def _bounds_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if lo is not None:
        return f" >= {lo:g}"
    if hi is not None:
        return f" <= {hi:g}"
    return ""


def _check_bounds(value: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(value)


def int_setting(
    name: str,
    default: int,
    doc: str,
    *,
    min: int | None = None,  # noqa: A002 - reads naturally at declaration sites
    max: int | None = None,  # noqa: A002
    **kw: Any,
) -> Setting[int]:
    """Declare an integer variable with optional inclusive bounds."""

    def parse(raw: str) -> int:
        value = int(raw, 10)
        _check_bounds(value, min, max)
        return value

    allowed = "an integer" + _bounds_text(min, max)
    return _declare(Setting(name, default, doc, allowed, parse, **kw))


def float_setting(
    name: str,
    default: float,
    doc: str,
    *,
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    **kw: Any,
) -> Setting[float]:
    """Declare a finite float variable with optional inclusive bounds."""

    def parse(raw: str) -> float:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        _check_bounds(value, min, max)
        return value

    allowed = "a number" + _bounds_text(min, max)
    return _declare(Setting(name, default, doc, allowed, parse, **kw))


def enum_setting(
    name: str, default: str, choices: Iterable[str], doc: str, **kw: Any
) -> Setting[str]:
    """Declare a variable taking one of ``choices`` (case-insensitive, stored lower-case)."""
    options = tuple(choices)

    def parse(raw: str) -> str:
        low = raw.lower()
        if low not in options:
            raise ValueError(raw)
        return low

    allowed = "one of " + ", ".join(options)
    return _declare(Setting(name, default, doc, allowed, parse, **kw))


def str_setting(name: str, default: str, doc: str, allowed: str = "any string", **kw: Any) -> Setting[str]:
    """Declare a free-form string variable."""
    return _declare(Setting(name, default, doc, allowed, str, **kw))


_SIZE_RE = re.compile(r"^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$", re.IGNORECASE)
_SIZE_UNITS = {
    None: 1,
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(raw: str) -> int:
    """Parse a byte size such as ``4096``, ``64KiB`` or ``64MiB``."""
    match = _SIZE_RE.match(raw.strip())
    if not match:
        raise ValueError(raw)
    unit = match.group(2).lower() if match.group(2) else None
    return int(match.group(1)) * _SIZE_UNITS[unit]


def size_setting(
    name: str, default: int, doc: str, *, min: int = 0, **kw: Any  # noqa: A002
) -> Setting[int]:
    """Declare a byte-size variable (an integer with an optional B/KiB/MiB/GiB/KB/MB/GB unit)."""

    def parse(raw: str) -> int:
        value = parse_size(raw)
        _check_bounds(value, min, None)
        return value

    allowed = f"a byte size such as 1048576, 512KiB or 64MiB (>= {min})"
    return _declare(Setting(name, default, doc, allowed, parse, **kw))


# --------------------------------------------------------------------------------------
# Standard OTEL_* variables otelkit honours (spec meaning; declared for `otelkit config`)
# --------------------------------------------------------------------------------------

OTEL_SDK_DISABLED = bool_setting(
    "OTEL_SDK_DISABLED", False, "Disable the SDK: configure() returns a no-op pipeline.", standard=True
)
OTEL_SERVICE_NAME = str_setting(
    "OTEL_SERVICE_NAME", "", "Sets the `service.name` resource attribute.", standard=True
)
OTEL_RESOURCE_ATTRIBUTES = str_setting(
    "OTEL_RESOURCE_ATTRIBUTES",
    "",
    "Extra resource attributes, `key1=value1,key2=value2`.",
    allowed="key=value pairs separated by commas",
    standard=True,
)
OTEL_TRACES_SAMPLER = str_setting(
    "OTEL_TRACES_SAMPLER",
    "parentbased_always_on",
    "Sampler name: a stock one (`always_on`, `parentbased_traceidratio`, ...) or an "
    "`opentelemetry_traces_sampler` entry point such as `otelkit_adaptive`.",
    allowed="a sampler entry-point name",
    standard=True,
)
OTEL_TRACES_SAMPLER_ARG = str_setting(
    "OTEL_TRACES_SAMPLER_ARG",
    "",
    "Argument passed to the sampler factory (a ratio for the ratio samplers, "
    "`key=value,...` for otelkit samplers).",
    standard=True,
)
OTEL_TRACES_EXPORTER = str_setting(
    "OTEL_TRACES_EXPORTER",
    "otelkit_otlp",
    "Comma-separated `opentelemetry_traces_exporter` entry points (`otlp`, `console`, "
    "`otelkit_otlp`, `otelkit_kafka`, `none`). `otlp` is the stock exporter for the chosen "
    "protocol. Unset, it is `otelkit_otlp`, which speaks only OTLP/HTTP protobuf: when "
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (or OTEL_EXPORTER_OTLP_PROTOCOL) is `grpc` or "
    "`http/json`, the default is the stock `otlp` exporter instead.",
    allowed="comma-separated exporter entry-point names",
    standard=True,
)
OTEL_BSP_SCHEDULE_DELAY = int_setting(
    "OTEL_BSP_SCHEDULE_DELAY", 5000, "Batch processor maximum delay between exports (ms).", min=0, standard=True
)
OTEL_BSP_EXPORT_TIMEOUT = int_setting(
    "OTEL_BSP_EXPORT_TIMEOUT", 30000, "Batch processor export timeout (ms).", min=0, standard=True
)
OTEL_BSP_MAX_QUEUE_SIZE = int_setting(
    "OTEL_BSP_MAX_QUEUE_SIZE", 2048, "Batch processor queue capacity (spans).", min=1, standard=True
)
OTEL_BSP_MAX_EXPORT_BATCH_SIZE = int_setting(
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, "Batch processor maximum batch size (spans).", min=1, standard=True
)

COMPRESSIONS = ("none", "gzip", "deflate", "zstd")

OTEL_EXPORTER_OTLP_ENDPOINT = str_setting(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "http://localhost:4318",
    "Base OTLP endpoint; `/v1/traces` is appended for HTTP.",
    allowed="a URL",
    standard=True,
)
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = str_setting(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "",
    "Full traces endpoint URL (used as is); wins over OTEL_EXPORTER_OTLP_ENDPOINT.",
    allowed="a URL",
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
    standard=True,
    secret=True,
)
OTEL_EXPORTER_OTLP_TRACES_HEADERS = str_setting(
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "",
    "Traces request headers; merged over OTEL_EXPORTER_OTLP_HEADERS. Never logged.",
    allowed="key=value pairs separated by commas",
    standard=True,
    secret=True,
)
OTEL_EXPORTER_OTLP_TIMEOUT = int_setting(
    "OTEL_EXPORTER_OTLP_TIMEOUT", 10000, "Export timeout per call (ms), retries included.", min=0, standard=True
)
OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = int_setting(
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10000, "Traces export timeout (ms); wins over OTEL_EXPORTER_OTLP_TIMEOUT.",
    min=0, standard=True,
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

# --------------------------------------------------------------------------------------
# otelkit core
# --------------------------------------------------------------------------------------

OTELKIT_PROCESSOR = enum_setting(
    "OTELKIT_PROCESSOR",
    "smart",
    ("smart", "stock"),
    "Export span processor the otelkit configurator puts in front of each exporter: "
    "`smart` (SmartBatchSpanProcessor) or `stock` (the SDK's BatchSpanProcessor).",
)
OTELKIT_WARN_INTERVAL_S = float_setting(
    "OTELKIT_WARN_INTERVAL_S",
    10.0,
    "Minimum seconds between two warnings about the same kind of bad input.",
    min=0.0,
)
OTELKIT_SELF_METRICS = bool_setting(
    "OTELKIT_SELF_METRICS",
    True,
    "Report otelkit's own metrics (queue sizes, drops, kept/dropped counts) through the "
    "OpenTelemetry metrics API.",
)

# --------------------------------------------------------------------------------------
# exporters (otelkit.exporter)
# --------------------------------------------------------------------------------------

# OTLP/HTTP (otelkit.exporter.http)
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
    component="exporter",
)
OTELKIT_EXPORTER_BUFFER_POOL = bool_setting(
    "OTELKIT_EXPORTER_BUFFER_POOL",
    True,
    "Encode requests into pooled, reused buffers (otelkit.pool.BufferPool): halves the bytes "
    "newly allocated per export call (docs/pools.md); `false` allocates a fresh buffer per batch.",
    component="exporter",
)

# OTLP over Kafka (otelkit.exporter.kafka)
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
    "shutdown flush bound.",
    min=1,
    component="exporter",
)
OTELKIT_KAFKA_PRODUCER_CONFIG = str_setting(
    "OTELKIT_KAFKA_PRODUCER_CONFIG",
    "",
    "Extra librdkafka producer properties, `k1=v1,k2=v2` (e.g. SASL settings). Never logged.",
    allowed="key=value pairs separated by commas",
    component="exporter",
    secret=True,
)


# --------------------------------------------------------------------------------------
# smart batch span processor and pools (otelkit.batch, otelkit.pool)
# --------------------------------------------------------------------------------------

# Precedence for every batch bound: explicit constructor argument > OTELKIT_BATCH_* (when set)
# > the matching OTEL_BSP_* (when set) > the OTELKIT_BATCH_* default below.
OTELKIT_BATCH_MAX_QUEUE = int_setting(
    "OTELKIT_BATCH_MAX_QUEUE",
    65536,
    "SmartBatchSpanProcessor queue capacity (spans) when OTEL_BSP_MAX_QUEUE_SIZE is unset; "
    "the memory bound of the processor: a finished span with 4 attributes holds about 3 KB, so "
    "the default bounds the queue at about 190 MiB during a burst (steady state stays far below).",
    min=1,
    component="batch",
)
OTELKIT_BATCH_MAX_SIZE = int_setting(
    "OTELKIT_BATCH_MAX_SIZE",
    8192,
    "Largest batch (spans) handed to one export() call when OTEL_BSP_MAX_EXPORT_BATCH_SIZE is unset.",
    min=1,
    component="batch",
)
OTELKIT_BATCH_MIN_SIZE = int_setting(
    "OTELKIT_BATCH_MIN_SIZE",
    16,
    "Lower bound of the adaptive target batch size (spans); below it the wait deadline flushes.",
    min=1,
    component="batch",
)
OTELKIT_BATCH_FRESHNESS_MS = int_setting(
    "OTELKIT_BATCH_FRESHNESS_MS",
    200,
    "Adaptive wait while exports are fast (ms): a lone span is handed to the exporter this long "
    "after it ended. The wait grows above it only while exports are slow, up to "
    "OTEL_BSP_SCHEDULE_DELAY.",
    min=1,
    component="batch",
)
OTELKIT_BATCH_STARTUP_MS = int_setting(
    "OTELKIT_BATCH_STARTUP_MS",
    50,
    "Wait before the very first export after start (or fork), so start-up spans show up at once (ms).",
    min=0,
    component="batch",
)
OTELKIT_BATCH_MAX_CONCURRENT_EXPORTS = int_setting(
    "OTELKIT_BATCH_MAX_CONCURRENT_EXPORTS",
    2,
    "Export calls allowed in flight at once; above 1 the exporter must be thread-safe "
    "(otelkit's and the stock OTLP exporters are).",
    min=1,
    max=16,
    component="batch",
)
OTELKIT_BATCH_OVERFLOW = enum_setting(
    "OTELKIT_BATCH_OVERFLOW",
    "drop",
    ("drop", "block"),
    "What on_end does when the queue is full: `drop` the newest span (counted as "
    "dropped_queue_full) or `block` the producer up to OTELKIT_BATCH_BLOCK_TIMEOUT_MS, then drop.",
    component="batch",
)
OTELKIT_BATCH_BLOCK_TIMEOUT_MS = int_setting(
    "OTELKIT_BATCH_BLOCK_TIMEOUT_MS",
    100,
    "Longest a producer thread waits for queue space under the `block` overflow policy (ms).",
    min=0,
    component="batch",
)


# --------------------------------------------------------------------------------------
# head sampling (otelkit.sampling)
# --------------------------------------------------------------------------------------

OTELKIT_SAMPLER_TARGET = float_setting(
    "OTELKIT_SAMPLER_TARGET",
    100.0,
    "AdaptiveSampler: root traces kept per second per process (`target=` in "
    "OTEL_TRACES_SAMPLER_ARG wins).",
    min=0.001,
    component="sampling",
)
OTELKIT_SAMPLER_TAU = float_setting(
    "OTELKIT_SAMPLER_TAU",
    5.0,
    "AdaptiveSampler: time constant of the per-key arrival-rate average, in seconds "
    "(`tau=` wins). Steps beyond the noise are followed within one ~1 s re-apportioning.",
    min=0.1,
    max=3600.0,
    component="sampling",
)
OTELKIT_SAMPLER_KEYS = str_setting(
    "OTELKIT_SAMPLER_KEYS",
    "",
    "AdaptiveSampler: span attributes forming the fairness key, `;`-separated (`keys=` wins). "
    "Empty: `http.route` + `http.request.method` when present, else the span name.",
    allowed="attribute names separated by ;",
    component="sampling",
)
OTELKIT_SAMPLER_MAX_KEYS = int_setting(
    "OTELKIT_SAMPLER_MAX_KEYS",
    500,
    "AdaptiveSampler: most distinct keys tracked; traffic of further keys shares one overflow "
    "bucket that still counts toward the target (`max_keys=` wins).",
    min=1,
    max=100000,
    component="sampling",
)
OTELKIT_SAMPLER_DEBUG = bool_setting(
    "OTELKIT_SAMPLER_DEBUG",
    True,
    "Head samplers keep spans whose start attribute or baggage entry `otelkit.debug` is "
    "true/1 (`debug=` wins). Turn off if untrusted callers can send baggage.",
    component="sampling",
)
OTELKIT_RULES = str_setting(
    "OTELKIT_RULES",
    "",
    "Sampling rules evaluated before the adaptive/rules sampler's own decision: a compact "
    "string such as `keep:http.route=/api/payment*;drop:http.route=/health;ratio(0.1):kind=client` "
    "or a path to a JSON/YAML file (see docs/sampling.md). Invalid rules warn and are skipped.",
    allowed="rules separated by ; or a .json/.yaml file path",
    component="sampling",
)


# --------------------------------------------------------------------------------------
# tail sampling (otelkit.tail)
# --------------------------------------------------------------------------------------

OTELKIT_TAIL_ENABLED = bool_setting(
    "OTELKIT_TAIL_ENABLED",
    False,
    "Put the TailSamplingProcessor in front of the export processor.",
    component="tail",
)
OTELKIT_TAIL_DECISION_WAIT_MS = int_setting(
    "OTELKIT_TAIL_DECISION_WAIT_MS",
    1000,
    "Tail sampling: wait after a trace's local root span ends before deciding (ms), to "
    "collect straggling child spans.",
    min=0,
    component="tail",
)
OTELKIT_TAIL_MAX_WAIT_MS = int_setting(
    "OTELKIT_TAIL_MAX_WAIT_MS",
    30000,
    "Tail sampling: a trace whose local root never ends is decided this long after its "
    "first span ended (ms).",
    min=1,
    component="tail",
)
OTELKIT_TAIL_MAX_SPANS = int_setting(
    "OTELKIT_TAIL_MAX_SPANS",
    50000,
    "Tail sampling: most spans buffered across all undecided traces.",
    min=1,
    component="tail",
)
OTELKIT_TAIL_MAX_BYTES = size_setting(
    "OTELKIT_TAIL_MAX_BYTES",
    64 * 1024 * 1024,
    "Tail sampling: most estimated bytes buffered across all undecided traces.",
    min=1024,
    component="tail",
)
OTELKIT_TAIL_MAX_SPANS_PER_TRACE = int_setting(
    "OTELKIT_TAIL_MAX_SPANS_PER_TRACE",
    10000,
    "Tail sampling: most spans buffered for one trace; a bigger trace overflows.",
    min=1,
    component="tail",
)
OTELKIT_TAIL_OVERFLOW = enum_setting(
    "OTELKIT_TAIL_OVERFLOW",
    "decide",
    ("decide", "evict"),
    "Tail sampling: what happens to the oldest (or an oversize) trace when a buffer limit "
    "is hit: `decide` it early or `evict` (drop) it. Both are counted.",
    component="tail",
)
OTELKIT_TAIL_DECISION_CACHE_SIZE = int_setting(
    "OTELKIT_TAIL_DECISION_CACHE_SIZE",
    100000,
    "Tail sampling: trace IDs remembered in each of the kept and dropped decision caches; "
    "late spans of a remembered trace follow its decision.",
    min=0,
    component="tail",
)
OTELKIT_TAIL_POLICIES = str_setting(
    "OTELKIT_TAIL_POLICIES",
    "",
    "Tail sampling policies: a compact string such as "
    "`errors=status_code(status_codes=ERROR);rest=probabilistic(sampling_percentage=10)` or "
    "the path of a .json/.yaml/.yml policy file (docs/tail-sampling.md). Empty: keep errors, "
    "keep traces slower than 1 s, keep what the head sampler kept.",
    allowed="a compact policy string or a policy file path",
    component="tail",
)


# --------------------------------------------------------------------------------------
# carriers and middleware (otelkit.propagation, otelkit.middleware)
# --------------------------------------------------------------------------------------

# Kafka consumer helpers (otelkit.middleware.kafka_consumer)
OTELKIT_KAFKA_CONSUMER_CONTEXT = enum_setting(
    "OTELKIT_KAFKA_CONSUMER_CONTEXT",
    "link",
    ("link", "parent"),
    "How a per-message `process` span relates to the producer's context: `link` (the "
    "messaging semconv default: keep the current trace, link the producer) or `parent` "
    "(continue the producer's trace, and link it too).",
    component="carriers",
)
OTELKIT_KAFKA_MAX_LINKS = int_setting(
    "OTELKIT_KAFKA_MAX_LINKS",
    128,
    "Most producer links one Kafka batch span carries; the rest are counted in "
    "`otelkit.kafka.links_dropped`.",
    min=0,
    component="carriers",
)
OTELKIT_ASGI_EXCLUDED_PATHS = str_setting(
    "OTELKIT_ASGI_EXCLUDED_PATHS",
    "",
    "Request paths the ASGI and aiohttp middleware do not trace, comma-separated: exact "
    "paths, or prefixes ending in `*` (`/health,/metrics,/internal/*`). Replaces the "
    "OTEL_PYTHON_*_EXCLUDED_URLS regexes when set.",
    allowed="comma-separated paths; a trailing * makes a prefix",
    component="carriers",
)
OTEL_PYTHON_ASGI_EXCLUDED_URLS = str_setting(
    "OTEL_PYTHON_ASGI_EXCLUDED_URLS",
    "",
    "Contrib's comma-separated regexes of URLs the ASGI middleware skips; otelkit searches "
    "them in the request path. Wins over OTEL_PYTHON_EXCLUDED_URLS.",
    allowed="comma-separated regular expressions",
    component="carriers",
    standard=True,
)
OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS = str_setting(
    "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS",
    "",
    "Contrib's regexes of URLs the aiohttp server middleware skips (searched in the path). "
    "Wins over OTEL_PYTHON_EXCLUDED_URLS.",
    allowed="comma-separated regular expressions",
    component="carriers",
    standard=True,
)
OTEL_PYTHON_EXCLUDED_URLS = str_setting(
    "OTEL_PYTHON_EXCLUDED_URLS",
    "",
    "Contrib's regexes of URLs no HTTP server instrumentation traces (searched in the path).",
    allowed="comma-separated regular expressions",
    component="carriers",
    standard=True,
)


# --------------------------------------------------------------------------------------
# demo (otelkit.demo)
# --------------------------------------------------------------------------------------

OTELKIT_EXAMPLE_TRACING = enum_setting(
    "OTELKIT_EXAMPLE_TRACING",
    "otelkit",
    ("otelkit", "stock", "off"),
    "Tracing pipeline of the example servers: `otelkit` (`otelkit.configure()` from the "
    "environment + otelkit middleware), `stock` (the SDK's env-configured TracerProvider, "
    "BatchSpanProcessor and OTLP exporter + contrib's ASGI middleware) or `off`.",
    component="demo",
)
OTELKIT_EXAMPLE_ERROR_RATE = float_setting(
    "OTELKIT_EXAMPLE_ERROR_RATE",
    0.02,
    "Fraction of requests to the example servers' fault-injected endpoints that fail with a 500.",
    min=0.0,
    max=1.0,
    component="demo",
)
OTELKIT_EXAMPLE_SLOW_RATE = float_setting(
    "OTELKIT_EXAMPLE_SLOW_RATE",
    0.02,
    "Fraction of requests to the example servers' fault-injected endpoints that are slow.",
    min=0.0,
    max=1.0,
    component="demo",
)
OTELKIT_EXAMPLE_SLOW_MS = int_setting(
    "OTELKIT_EXAMPLE_SLOW_MS",
    1200,
    "How long a slow example request waits (ms, asynchronously).",
    min=0,
    max=60000,
    component="demo",
)
OTELKIT_EXAMPLE_POOL_SIZE = int_setting(
    "OTELKIT_EXAMPLE_POOL_SIZE",
    64,
    "Maximum idle response buffers the example API server keeps in its object pool.",
    min=0,
    component="demo",
)
OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP = str_setting(
    "OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP",
    "",
    "Kafka bootstrap servers of the live-room example (`host:port`); empty persists "
    "messages in-process without Kafka.",
    allowed="host:port[,host:port...] or empty",
    component="demo",
)
OTELKIT_EXAMPLE_KAFKA_TOPIC = str_setting(
    "OTELKIT_EXAMPLE_KAFKA_TOPIC",
    "liveroom-messages",
    "Kafka topic the live-room example publishes room messages to (keyed by room).",
    allowed="a Kafka topic name",
    component="demo",
)
OTELKIT_EXAMPLE_DB = str_setting(
    "OTELKIT_EXAMPLE_DB",
    ":memory:",
    "SQLite database of the live-room example's persisted messages (`:memory:` keeps them in memory).",
    allowed="a file path or :memory:",
    component="demo",
)


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the effective configuration."""

    name: str
    value: str
    source: str  # "env", "default" or "invalid"
    error: str | None
    setting: Setting[Any]


def _display(setting: Setting[Any], value: Any) -> str:
    if setting.secret and value:
        return "<redacted>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def effective(environ: Mapping[str, str] | None = None) -> list[Row]:
    """The effective value and its source for every declared setting."""
    rows = []
    for setting in SETTINGS.values():
        raw = setting.raw(environ)
        if raw is None:
            rows.append(Row(setting.name, _display(setting, setting.default), "default", None, setting))
            continue
        try:
            value = setting.parse(raw)
        except ValueError as exc:
            rows.append(Row(setting.name, _display(setting, setting.default), "invalid", str(exc), setting))
        else:
            rows.append(Row(setting.name, _display(setting, value), "env", None, setting))
    return rows


def invalid(environ: Mapping[str, str] | None = None) -> list[Row]:
    """Rows whose environment value does not parse."""
    return [row for row in effective(environ) if row.source == "invalid"]


def markdown_table() -> str:
    """A Markdown table of every setting (what docs/configuration.md is generated from)."""
    lines = [
        "| variable | default | allowed | component | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS.values():
        default = _display(s, s.default)
        comp = "standard" if s.standard else s.component
        lines.append(f"| `{s.name}` | `{default}` | {s.allowed} | {comp} | {s.doc} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Settings declared beside their component, registered here so `otelkit config` sees them
# --------------------------------------------------------------------------------------

from otelkit.exporter import _spool_settings  # noqa: E402 - needs the helpers above

OTELKIT_SPOOL_DIR: Setting[str] = _spool_settings.OTELKIT_SPOOL_DIR
OTELKIT_SPOOL_MAX_BYTES: Setting[int] = _spool_settings.OTELKIT_SPOOL_MAX_BYTES
OTELKIT_SPOOL_MAX_AGE_S: Setting[float] = _spool_settings.OTELKIT_SPOOL_MAX_AGE_S
OTELKIT_SPOOL_REPLAY_SPANS_PER_S: Setting[int] = _spool_settings.OTELKIT_SPOOL_REPLAY_SPANS_PER_S
