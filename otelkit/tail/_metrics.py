"""Self-metrics of the tail processor, mirroring the Collector's tail sampling telemetry.

All instruments except one are observable: their callbacks read ``stats()`` at collection
time, so the hot path makes no metric calls. The exception is the decision-duration
histogram, recorded by the worker once per decided trace (off the hot path).

==========================================  =====  ==========================================
instrument                                  unit   attributes / meaning
==========================================  =====  ==========================================
``otelkit.tail.traces`` (counter)           1      ``decision`` kept/dropped, ``policy``
``otelkit.tail.spans`` (counter)            1      ``decision`` kept/dropped, ``policy``
``otelkit.tail.late_spans`` (counter)       1      ``outcome`` kept/dropped
``otelkit.tail.late_span_age`` (counter)    1      ``age`` bucket: ``<=0.1s`` ... ``>600s``
``otelkit.tail.evicted_traces`` (counter)   1      traces dropped by a buffer overflow
``otelkit.tail.decided_early`` (counter)    1      traces decided early by a buffer overflow
``otelkit.tail.buffered.traces`` (gauge)    1      undecided traces
``otelkit.tail.buffered.spans`` (gauge)     1      buffered spans
``otelkit.tail.buffered.bytes`` (gauge)     By     estimated buffered bytes
``otelkit.tail.decision.duration`` (hist.)  us     policy evaluation time per trace
==========================================  =====  ==========================================
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

if TYPE_CHECKING:
    from otelkit.tail.processor import TailSamplingProcessor

__all__ = ["register"]


def _reader(
    ref: weakref.ref[TailSamplingProcessor], build: Callable[[dict[str, Any]], list[Observation]]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        processor = ref()
        if processor is None:
            return []
        return build(processor.stats())

    return callback


def _single(key: str) -> Callable[[dict[str, Any]], list[Observation]]:
    return lambda stats: [Observation(stats[key])]


def _by_policy(stats: dict[str, Any], kept_key: str, dropped_key: str) -> list[Observation]:
    out = [Observation(n, {"decision": "kept", "policy": p}) for p, n in stats[kept_key].items()]
    out += [Observation(n, {"decision": "dropped", "policy": p}) for p, n in stats[dropped_key].items()]
    return out


def register(processor: TailSamplingProcessor) -> Any:
    """Create the instruments for ``processor`` (held weakly) on the global meter provider."""
    meter = metrics.get_meter("otelkit.tail")
    ref = weakref.ref(processor)
    meter.create_observable_counter(
        "otelkit.tail.traces",
        [_reader(ref, lambda s: _by_policy(s, "kept_by_policy", "dropped_by_policy"))],
        unit="1",
        description="Traces decided by the tail sampler, by decision and policy.",
    )
    meter.create_observable_counter(
        "otelkit.tail.spans",
        [_reader(ref, lambda s: _by_policy(s, "spans_kept_by_policy", "spans_dropped_by_policy"))],
        unit="1",
        description="Spans kept or dropped by the tail sampler, by decision and policy.",
    )
    meter.create_observable_counter(
        "otelkit.tail.late_spans",
        [_reader(ref, lambda s: [Observation(s["late_spans_kept"], {"outcome": "kept"}),
                                 Observation(s["late_spans_dropped"], {"outcome": "dropped"})])],
        unit="1",
        description="Spans that ended after their trace was decided, by outcome.",
    )
    meter.create_observable_counter(
        "otelkit.tail.late_span_age",
        [_reader(ref, lambda s: [Observation(n, {"age": bucket}) for bucket, n in s["late_span_age"].items()])],
        unit="1",
        description="Late spans by time since their trace's decision (bucket upper bounds).",
    )
    for key, what in (("evicted_traces", "evicted by a buffer overflow"),
                      ("decided_early", "decided early by a buffer overflow")):
        meter.create_observable_counter(
            f"otelkit.tail.{key}",
            [_reader(ref, _single(key))],
            unit="1",
            description=f"Traces {what}.",
        )
    for key, unit in (("traces", "1"), ("spans", "1"), ("bytes", "By")):
        meter.create_observable_gauge(
            f"otelkit.tail.buffered.{key}",
            [_reader(ref, _single(f"buffered_{key}"))],
            unit=unit,
            description=f"Buffered (undecided) {key} in the tail sampler.",
        )
    histogram = meter.create_histogram(
        "otelkit.tail.decision.duration",
        unit="us",
        description="Policy evaluation time per trace decision.",
    )
    processor.set_decision_hook(lambda seconds: histogram.record(seconds * 1e6))
    return histogram
