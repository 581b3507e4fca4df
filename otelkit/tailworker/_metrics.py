"""Self-metrics of a tail worker (observable instruments reading ``TailWorker.stats()``).

Attribute names are namespaced as the in-process tail processor's (``otelkit.tail.*``): a
per-partition point carries the semantic conventions' ``messaging.destination.name`` (the
spans topic) and ``messaging.destination.partition.id`` (a string, as the convention types
it); the others are ``otelkit.tailworker.*``.

================================================  ===========  ============================================
instrument                                        unit         attributes
================================================  ===========  ============================================
``otelkit.tailworker.traces`` (counter)           {trace}      ``otelkit.tailworker.decision``, ``.policy``
``otelkit.tailworker.spans_exported`` (counter)   {span}
``otelkit.tailworker.export_failures`` (counter)  {call}
``otelkit.tailworker.bad_messages`` (counter)     {message}    ``otelkit.tailworker.reason`` (why skipped)
``otelkit.tailworker.late_spans`` (counter)       {span}       ``otelkit.tailworker.outcome``: kept/dropped
``otelkit.tailworker.duplicate_spans`` (counter)  {span}
``otelkit.tailworker.pause_events`` (counter)     {event}      ``otelkit.tailworker.reason``: buffer/export
``otelkit.tailworker.lag`` (gauge)                {message}    ``messaging.destination.name``, ``.partition.id``
``otelkit.tailworker.buffered.spans`` (gauge)     {span}       ``messaging.destination.name``, ``.partition.id``
``otelkit.tailworker.paused`` (gauge)             {partition}
================================================  ===========  ============================================
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation, get_meter_provider
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
)

if TYPE_CHECKING:
    from otelkit.tailworker.worker import TailWorker

__all__ = ["register", "TOPIC", "PARTITION", "DECISION", "POLICY", "REASON", "OUTCOME"]

TOPIC = MESSAGING_DESTINATION_NAME
"""The spans topic of a per-partition gauge."""
PARTITION = MESSAGING_DESTINATION_PARTITION_ID
"""The spans partition of a per-partition gauge (its number as a string)."""
DECISION = "otelkit.tailworker.decision"
"""``kept`` or ``dropped``."""
POLICY = "otelkit.tailworker.policy"
"""The keeping policy's label (empty on ``dropped``)."""
REASON = "otelkit.tailworker.reason"
"""Why a message was skipped (``too_large``, ``not_otlp``, ``empty``) or a partition paused
(``buffer``, ``export``)."""
OUTCOME = "otelkit.tailworker.outcome"
"""What a late span did: ``kept`` (exported) or ``dropped``."""

Build = Callable[[dict[str, Any]], list[Observation]]


def _reader(ref: weakref.ref[TailWorker], build: Build) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        worker = ref()
        return [] if worker is None else build(worker.stats())

    return callback


def _prefixed(prefix: str, attribute: str, fixed: Mapping[str, str] | None = None) -> Build:
    """One point per ``<prefix><value>`` counter of ``stats()``, ``attribute`` = value."""
    def build(stats: dict[str, Any]) -> list[Observation]:
        return [Observation(n, {**(fixed or {}), attribute: k[len(prefix):]}) for k, n in stats.items()
                if k.startswith(prefix) and isinstance(n, int)]

    return build


def _traces(stats: dict[str, Any]) -> list[Observation]:
    return _prefixed("kept_by_policy.", POLICY, {DECISION: "kept"})(stats) + [
        Observation(stats.get("traces_dropped", 0), {DECISION: "dropped", POLICY: ""})
    ]


def _per_partition(key: str) -> Build:
    return lambda s: [Observation(p[key], {TOPIC: s["topic"], PARTITION: str(n)}) for n, p in s["partitions"].items()]


def register(worker: TailWorker, provider: MeterProvider | None = None) -> None:
    """Create the instruments for ``worker`` (held weakly)."""
    meter = (provider or get_meter_provider()).get_meter("otelkit.tailworker")
    ref = weakref.ref(worker)
    counters: list[tuple[str, Build, str, str]] = [
        ("traces", _traces, "{trace}", "Traces decided by the tail worker, by decision and keeping policy."),
        ("spans_exported", lambda s: [Observation(s.get("spans_exported", 0))], "{span}", "Kept spans exported."),
        ("export_failures", lambda s: [Observation(s.get("export_failures", 0))], "{call}", "Failed export calls."),
        ("bad_messages", _prefixed("bad_messages.", REASON), "{message}", "Spans-topic messages skipped, by reason."),
        ("late_spans", lambda s: [Observation(s["late_kept_spans"], {OUTCOME: "kept"}),
                                  Observation(s["late_dropped_spans"], {OUTCOME: "dropped"})],
         "{span}", "Spans that followed an earlier decision, by outcome."),
        ("duplicate_spans", lambda s: [Observation(s["duplicate_spans"])], "{span}",
         "Kept spans exported again after their partition moved (they followed a replayed decision)."),
        ("pause_events", _prefixed("pause_events.", REASON), "{event}",
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
