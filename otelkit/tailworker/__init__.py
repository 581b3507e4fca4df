"""``otelkit tail-worker``: tail sampling across services and instances on Kafka consumer groups.

Services export with ``otelkit_kafka`` (one message per trace, keyed by trace ID) or a
Collector's kafka exporter (``otlp_proto``); a fleet of :class:`TailWorker` processes in one
consumer group decides whole traces with the in-process tail policies and exports the kept
ones. See ``docs/tail-worker.md``.
"""

from __future__ import annotations

from otelkit.tailworker import _settings as settings
from otelkit.tailworker.worker import TailWorker

__all__ = ["TailWorker", "settings"]
