"""The ``OTELKIT_TAIL_WORKER_*`` settings of ``otelkit tail-worker`` (declared in :mod:`otelkit.config`'s
registry, so ``otelkit config`` lists them once this module is imported).

The worker also reads ``OTELKIT_KAFKA_BOOTSTRAP_SERVERS`` / ``OTELKIT_KAFKA_TOPIC`` (what the
``otelkit_kafka`` exporter writes to), ``OTELKIT_TAIL_*`` (policies, decision wait, limits,
decision cache size: the in-process processor's settings) and the exporter's ``OTEL_*``.
"""

from __future__ import annotations

from otelkit._parse import parse_pairs
from otelkit.config import enum_setting, float_setting, int_setting, size_setting, str_setting

__all__ = [
    "OTELKIT_TAIL_WORKER_GROUP",
    "OTELKIT_TAIL_WORKER_DECISIONS_TOPIC",
    "OTELKIT_TAIL_WORKER_DECISION_TTL_S",
    "OTELKIT_TAIL_WORKER_MAX_MESSAGE_BYTES",
    "OTELKIT_TAIL_WORKER_REVOKE_TIMEOUT_MS",
    "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS",
    "OTELKIT_TAIL_WORKER_CONSUMER_CONFIG",
    "OTELKIT_TAIL_WORKER_PAUSE_HIGH_WATER",
    "OTELKIT_TAIL_WORKER_PAUSE_LOW_WATER",
    "OTELKIT_TAIL_WORKER_ASSIGNMENT",
]

_C = "tail-worker"

OTELKIT_TAIL_WORKER_GROUP = str_setting(
    "OTELKIT_TAIL_WORKER_GROUP",
    "otelkit-tail",
    "Kafka consumer group of the tail workers (every worker of one fleet uses the same).",
    allowed="a Kafka group id",
    component=_C,
)
OTELKIT_TAIL_WORKER_DECISIONS_TOPIC = str_setting(
    "OTELKIT_TAIL_WORKER_DECISIONS_TOPIC",
    "",
    "Topic the workers publish their decisions to (created with the spans topic's partition "
    "count when missing); empty: `<spans topic>_decisions`.",
    allowed="a Kafka topic name or empty",
    component=_C,
)
OTELKIT_TAIL_WORKER_DECISION_TTL_S = float_setting(
    "OTELKIT_TAIL_WORKER_DECISION_TTL_S",
    300.0,
    "How long a decision is followed by late or re-read spans; also how far back a worker "
    "replays a partition's decisions when it is assigned.",
    min=1.0,
    component=_C,
)
OTELKIT_TAIL_WORKER_MAX_MESSAGE_BYTES = size_setting(
    "OTELKIT_TAIL_WORKER_MAX_MESSAGE_BYTES",
    16 * 1024 * 1024,
    "A larger spans-topic message is skipped undecoded and counted (`too_large`).",
    min=1,
    component=_C,
)
OTELKIT_TAIL_WORKER_REVOKE_TIMEOUT_MS = int_setting(
    "OTELKIT_TAIL_WORKER_REVOKE_TIMEOUT_MS",
    5000,
    "On a revoke, how long a worker may spend exporting kept traces and publishing decisions "
    "before it commits and hands the partition over.",
    min=1,
    component=_C,
)
OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS = int_setting(
    "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS",
    1000,
    "How often a worker commits the offsets below its oldest undecided or unexported span.",
    min=10,
    component=_C,
)
OTELKIT_TAIL_WORKER_CONSUMER_CONFIG = str_setting(
    "OTELKIT_TAIL_WORKER_CONSUMER_CONFIG",
    "",
    "Extra librdkafka properties for the worker's consumers and producer, `k1=v1,k2=v2` "
    "(e.g. `session.timeout.ms=2000`, SASL settings). Never logged.",
    allowed="key=value pairs separated by commas",
    validate=parse_pairs,
    explain=True,
    component=_C,
    secret=True,
)
OTELKIT_TAIL_WORKER_PAUSE_HIGH_WATER = float_setting(
    "OTELKIT_TAIL_WORKER_PAUSE_HIGH_WATER",
    0.8,
    "A partition whose trace buffer holds this share of `OTELKIT_TAIL_MAX_SPANS` or "
    "`OTELKIT_TAIL_MAX_BYTES` is paused (backpressure: read no further until decisions free room).",
    min=0.01,
    max=1.0,
    component=_C,
)
OTELKIT_TAIL_WORKER_PAUSE_LOW_WATER = float_setting(
    "OTELKIT_TAIL_WORKER_PAUSE_LOW_WATER",
    0.5,
    "A partition paused by a full buffer is resumed once its buffer is below this share "
    "of the limits (at most the high-water mark).",
    min=0.0,
    max=1.0,
    component=_C,
)
OTELKIT_TAIL_WORKER_ASSIGNMENT = enum_setting(
    "OTELKIT_TAIL_WORKER_ASSIGNMENT",
    "cooperative",
    ("cooperative", "eager"),
    "Partition assignment: `cooperative` (librdkafka `cooperative-sticky`: a rebalance moves "
    "only the partitions that change owner) or `eager` (`range`: every member gives up all of "
    "its partitions). A worker falls back to eager when the group refuses cooperative.",
    component=_C,
)
