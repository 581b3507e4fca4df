"""Settings of the example servers (not part of the library: ``otelkit config`` leaves
``OTELKIT_EXAMPLE_*`` alone). Documented in docs/examples.md.
"""

from __future__ import annotations

from typing import Any

from otelkit.config import Setting, enum_setting, float_setting, int_setting, str_setting

__all__ = [
    "EXAMPLE_SETTINGS",
    "OTELKIT_EXAMPLE_TRACING",
    "OTELKIT_EXAMPLE_ERROR_RATE",
    "OTELKIT_EXAMPLE_SLOW_RATE",
    "OTELKIT_EXAMPLE_SLOW_MS",
    "OTELKIT_EXAMPLE_POOL_SIZE",
    "OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP",
    "OTELKIT_EXAMPLE_KAFKA_TOPIC",
    "OTELKIT_EXAMPLE_DB",
]

EXAMPLE_SETTINGS: dict[str, Setting[Any]] = {}
"""The example servers' settings (their own registry, apart from the library's)."""

OTELKIT_EXAMPLE_TRACING = enum_setting(
    "OTELKIT_EXAMPLE_TRACING",
    "otelkit",
    ("otelkit", "stock", "fastotel", "off"),
    "Tracing pipeline of the example servers: `otelkit` (`otelkit.configure()` from the "
    "environment + otelkit middleware), `stock` (the SDK's env-configured TracerProvider, "
    "BatchSpanProcessor and OTLP exporter + contrib's ASGI middleware), `fastotel` (as "
    "`stock` with `fastotel.OTLPSpanProcessor` in place of the batch processor and exporter; "
    "`pip install 'otelkit[dev]'`) or `off`.",
    component="example",
    registry=EXAMPLE_SETTINGS,
)

OTELKIT_EXAMPLE_ERROR_RATE = float_setting(
    "OTELKIT_EXAMPLE_ERROR_RATE",
    0.02,
    "Fraction of requests to the example servers' fault-injected endpoints that fail with a 500.",
    min=0.0,
    max=1.0,
    component="example",
    registry=EXAMPLE_SETTINGS,
)

OTELKIT_EXAMPLE_SLOW_RATE = float_setting(
    "OTELKIT_EXAMPLE_SLOW_RATE",
    0.02,
    "Fraction of requests to the example servers' fault-injected endpoints that are slow.",
    min=0.0,
    max=1.0,
    component="example",
    registry=EXAMPLE_SETTINGS,
)

OTELKIT_EXAMPLE_SLOW_MS = int_setting(
    "OTELKIT_EXAMPLE_SLOW_MS",
    1200,
    "How long a slow example request waits (ms, asynchronously).",
    min=0,
    max=60000,
    component="example",
    registry=EXAMPLE_SETTINGS,
)

OTELKIT_EXAMPLE_POOL_SIZE = int_setting(
    "OTELKIT_EXAMPLE_POOL_SIZE",
    64,
    "Maximum idle response buffers the example API server keeps in its object pool.",
    min=0,
    component="example",
    registry=EXAMPLE_SETTINGS,
)

OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP = str_setting(
    "OTELKIT_EXAMPLE_KAFKA_BOOTSTRAP",
    "",
    "Kafka bootstrap servers of the live-room example (`host:port`); empty persists "
    "messages in-process without Kafka.",
    allowed="host:port[,host:port...] or empty",
    component="example",
    registry=EXAMPLE_SETTINGS,
)

OTELKIT_EXAMPLE_KAFKA_TOPIC = str_setting(
    "OTELKIT_EXAMPLE_KAFKA_TOPIC",
    "liveroom-messages",
    "Kafka topic the live-room example publishes room messages to (keyed by room).",
    allowed="a Kafka topic name",
    component="example",
    registry=EXAMPLE_SETTINGS,
)

OTELKIT_EXAMPLE_DB = str_setting(
    "OTELKIT_EXAMPLE_DB",
    ":memory:",
    "SQLite database of the live-room example's persisted messages (`:memory:` keeps them in memory).",
    allowed="a file path or :memory:",
    component="example",
    registry=EXAMPLE_SETTINGS,
)

