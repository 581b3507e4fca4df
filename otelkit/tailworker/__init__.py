"""``otelkit tail-worker``: tail sampling across services and instances on Kafka consumer groups.

Services export with ``otelkit_kafka`` (one message per trace, keyed by trace ID) or a
Collector's kafka exporter (``otlp_proto``); a fleet of :class:`TailWorker` processes in one
consumer group decides whole traces with the in-process tail policies and exports the kept
ones. See ``docs/tail-worker.md``. Settings: :mod:`otelkit.tailworker._settings`
(``OTELKIT_TAIL_WORKER_*``). ``TailWorker`` is imported on first use, so
:mod:`otelkit.config` can load the settings without the worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otelkit.tailworker.worker import TailWorker

__all__ = ["TailWorker"]


def __getattr__(name: str) -> Any:
    if name == "TailWorker":
        from otelkit.tailworker.worker import TailWorker

        return TailWorker
    raise AttributeError(f"module 'otelkit.tailworker' has no attribute {name!r}")
