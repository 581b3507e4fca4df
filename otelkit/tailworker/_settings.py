"""The ``OTELKIT_TAIL_WORKER_*`` settings of ``otelkit tail-worker`` (declared in :mod:`otelkit.config`'s
registry, so ``otelkit config`` lists them once this module is imported).

The worker also reads ``OTELKIT_KAFKA_BOOTSTRAP_SERVERS`` / ``OTELKIT_KAFKA_TOPIC`` (what the
``otelkit_kafka`` exporter writes to), ``OTELKIT_TAIL_*`` (policies, decision wait, limits,
decision cache size: the in-process processor's settings) and the exporter's ``OTEL_*``.
"""

from __future__ import annotations

from otelkit._parse import parse_pairs
from otelkit.config import float_setting, int_setting, size_setting, str_setting

__all__ = [
    "OTELKIT_TAIL_WORKER_GROUP",
    "OTELKIT_TAIL_WORKER_DECISIONS_TOPIC",
    "OTELKIT_TAIL_WORKER_DECISION_TTL_S",
    "OTELKIT_TAIL_WORKER_MAX_MESSAGE_BYTES",
    "OTELKIT_TAIL_WORKER_REVOKE_TIMEOUT_MS",
    "OTELKIT_TAIL_WORKER_COMMIT_INTERVAL_MS",
    "OTELKIT_TAIL_WORKER_CONSUMER_CONFIG",
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
