"""Kafka producer and consumer tracing helpers (re-exports; see the two modules).

* :mod:`otelkit.middleware.kafka_producer`: ``aiokafka_send``, ``kafka_python_send``,
  ``confluent_produce``, ``producer_span``.
* :mod:`otelkit.middleware.kafka_consumer`: ``process_span``, ``process_batch``,
  ``aiokafka_getmany``, ``kafka_python_poll``, ``confluent_consume``, ``producer_context``.
* :class:`RateLimitedLog`: pass ``{"logger": RateLimitedLog()}`` in a confluent-kafka
  ``Consumer``/``Producer`` config so librdkafka logs through Python logging, one line
  per facility per ``OTELKIT_WARN_INTERVAL_S`` instead of ``%3|...|FAIL|...`` on stderr.
"""

from __future__ import annotations

from otelkit._warn import RateLimitedLog
from otelkit.middleware.kafka_consumer import (
    LINKS_DROPPED,
    aiokafka_getmany,
    confluent_consume,
    kafka_python_poll,
    process_batch,
    process_span,
    producer_context,
)
from otelkit.middleware.kafka_producer import (
    aiokafka_send,
    confluent_produce,
    kafka_python_send,
    producer_span,
)

__all__ = [
    "LINKS_DROPPED",
    "RateLimitedLog",
    "aiokafka_getmany",
    "aiokafka_send",
    "confluent_consume",
    "confluent_produce",
    "kafka_python_poll",
    "kafka_python_send",
    "process_batch",
    "process_span",
    "producer_context",
    "producer_span",
]
