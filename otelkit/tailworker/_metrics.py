"""Self-metrics of a tail worker (observable instruments reading ``TailWorker.stats()``).

================================================  =========  ========================"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter_provider

if TYPE_CHECKING:
    from otelkit.tailworker.worker import TailWorker

__all__ = ["register"]

Build = Callable[[dict[str, Any]], list[Observation]]


def _reader(ref: weakref.ref[TailWorker], build: Build) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        worker = ref()
        return [] if worker is None else build(worker.stats())

    return callback


def _prefixed(prefix: str, attribute: str, **fixed: str) -> Build:
    def build(stats: dict[str, Any]) -> list[Observation]:
        return [Observation(n, {**fixed, attribute: k[len(prefix):]}) for k, n in stats.items()
                if k.startswith(prefix) and isinstance(n, int)]

    return build


def _traces(stats: dict[str, Any]) -> list[Observation]:
    return _prefixed("kept_by_policy.", "policy", decision="kept")(stats) + [
        Observation(stats.get("traces_dropped", 0), {"decision": "dropped", "policy": ""})
    ]


def _per_partition(key: str) -> Build:
    return lambda s: [Observation(p[key], {"partition": n}) for n, p in s["partitions"].items()]


def register(worker: TailWorker, provider: MeterProvider | None = None) -> None:
    """Create the instruments for ``worker`` (held weakly)."""
    meter = (provider or get_meter_provider()).get_meter("otelkit.tailworker")
    ref = weakref.ref(worker)
    counters: list[tuple[str, Build, str, str]] = [
        ("traces", _traces, "{trace}", "Traces decided by the tail worker, by decision and keeping policy."),
        ("spans_exported", lambda s: [Observation(s.get("spans_exported", 0))], "{span}", "Kept spans exported."),
        ("export_failures", lambda s: [Observation(s.get("export_failures", 0))], "{call}", "Failed export calls."),
        ("bad_messages", _prefixed("bad_messages.", "reason"), "{message}", "Spans-topic messages skipped, by reason."),
        ("late_spans", lambda s: [Observation(s["late_kept_spans"], {"outcome": "kept"}),
                                  Observation(s["late_dropped_spans"], {"outcome": "dropped"})],
         "{span}", "Spans that followed an earlier decision, by outcome."),
        ("duplicate_spans", lambda s: [Observation(s["duplicate_spans"])], "{span}",
         "Kept spans exported again after their partition moved (they followed a replayed decision)."),
        ("pause_events", _prefixed("pause_events.", "reason"), "{event}",
         "Partitions paused by backpressure, by reason (buffer near full, export failed)."),
    ]
    for name, build, unit, doc in counters:
        meter.create_observable_counter(f"otelkit.tailworker.{name}", [_reader(ref, build)], unit=unit, description=doc)
    gauges: list[tuple[str, Build, str, str]] = [
        ("lag", _per_partition("lag"), "{message}", "Messages of an assigned partition not read yet."),
        ("buffered.spans", _per_partition("buffered_spans"), "{span}", "Undecided spans per assigned partition."),
        ("paused", lambda s: [Observation(len(s["paused_partitions"]))], "{partition}",
         "Partitions paused by backpressure."),
    ]
    for name, build, unit, doc in gauges:
        meter.create_observable_gauge(f"otelkit.tailworker.{name}", [_reader(ref, build)], unit=unit, description=doc)
