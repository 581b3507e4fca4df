"""Self-metrics of the tail processor: the SDK's standard span-processor metrics first,
otelkit's ``otelkit.tail.*`` additions next to them.

All instruments except one are observable: their callbacks read ``stats()`` at collection
time, so the hot path makes no metric calls. The exception is the decision-duration
histogram, recorded by the worker once per decided trace (off the hot path).

Standard (semantic-convention names, units and descriptions, as the SDK's
``BatchSpanProcessor`` reports them):

* ``otel.sdk.processor.span.processed`` (counter, ``{span}``): without ``error.type`` when a
  span's trace decision is applied (handed to the next processor if kept, released if a
  policy dropped it; a late span when it follows its trace's decision); ``queue_full`` for
  spans lost to a full buffer (evicted traces, spans refused for a trace in decision),
  ``already_shutdown`` for spans refused at or after shutdown, ``_OTHER`` for spans the
  processor failed on;
* ``otel.sdk.processor.span.queue.size`` (up-down counter, ``{span}``): buffered
  (undecided) spans; ``otel.sdk.processor.span.queue.capacity``: ``max_spans``.

Every point carries ``otel.component.type=otelkit_tail_sampling_span_processor`` (semconv has
no tail-sampling type) and ``otel.component.name=otelkit_tail_sampling_span_processor/N``.

otelkit's additions (same two attributes):

==========================================  =======  ========================================
instrument                                  unit     attributes / meaning
==========================================  =======  ========================================
``otelkit.tail.traces`` (counter)           {trace}  ``otelkit.tail.decision``, ``.policy``
``otelkit.tail.spans`` (counter)            {span}   ``otelkit.tail.decision``, ``.policy``
``otelkit.tail.late_spans`` (counter)       {span}   ``otelkit.tail.outcome`` kept/dropped
``otelkit.tail.late_span_age`` (counter)    {span}   ``otelkit.tail.age``: ``<=0.1s`` ... ``>600s``
``otelkit.tail.evicted_traces`` (counter)   {trace}  traces dropped by a buffer overflow
``otelkit.tail.decided_early`` (counter)    {trace}  traces decided early by a buffer overflow
``otelkit.tail.buffered.traces`` (gauge)    {trace}  undecided traces
``otelkit.tail.buffered.spans`` (gauge)     {span}   buffered spans
``otelkit.tail.buffered.bytes`` (gauge)     By       buffered bytes (encoded spans + record overhead)
``otelkit.tail.decision.lag`` (gauge)       s        now minus the oldest due, undecided trace's due time
``otelkit.tail.decision.duration`` (hist.)  s        policy evaluation time per trace
==========================================  =======  ========================================
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv._incubating.metrics.otel_metrics import (
    OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
    OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY,
    OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit.tail._stats import ERROR

if TYPE_CHECKING:
    from otelkit.tail.processor import TailSamplingProcessor

__all__ = ["COMPONENT_TYPE", "LOSSES", "register"]

COMPONENT_TYPE = "otelkit_tail_sampling_span_processor"
"""``otel.component.type`` of the tail processor (semconv has no tail-sampling type)."""

LOSSES: dict[str, str] = {"evicted": "queue_full", "overflow": "queue_full", "shutdown": "already_shutdown",
                          ERROR: "_OTHER"}
"""Drop reason in ``stats()`` -> ``error.type`` of ``otel.sdk.processor.span.processed``. Every
other reason (a policy's veto, ``no_match``, ``late``) is sampling: processed, no error."""

_names = itertools.count()

Build = Callable[[dict[str, Any]], list[Observation]]


def processed(stats: dict[str, Any], attrs: dict[str, Any]) -> list[Observation]:
    """``otel.sdk.processor.span.processed`` points of one ``stats()`` snapshot; an error
    series appears with its first span (as the SDK's synchronous counter), never as a 0."""
    dropped: dict[str, int] = stats["spans_dropped_by_policy"]
    ok = stats["spans_kept"] + sum(n for reason, n in dropped.items() if reason not in LOSSES)
    errors: dict[str, int] = {}
    for reason, error in LOSSES.items():
        errors[error] = errors.get(error, 0) + dropped.get(reason, 0)
    return [Observation(ok, attrs)] + [Observation(n, {**attrs, ERROR_TYPE: e}) for e, n in errors.items() if n]


def _by_policy(attrs: dict[str, Any], kept_key: str, dropped_key: str) -> Build:
    def build(stats: dict[str, Any]) -> list[Observation]:
        return [Observation(n, {**attrs, "otelkit.tail.decision": decision, "otelkit.tail.policy": p})
                for decision, key in (("kept", kept_key), ("dropped", dropped_key)) for p, n in stats[key].items()]

    return build


def register(processor: TailSamplingProcessor, meter_provider: MeterProvider | None = None) -> Any:
    """Create the instruments for ``processor`` (held weakly) on ``meter_provider`` (default:
    the global one); returns the decision-duration histogram."""
    meter = metrics.get_meter("otelkit.tail", meter_provider=meter_provider)
    ref = weakref.ref(processor)
    attrs: dict[str, Any] = {OTEL_COMPONENT_TYPE: COMPONENT_TYPE,
                             OTEL_COMPONENT_NAME: f"{COMPONENT_TYPE}/{next(_names)}"}

    def reader(build: Build) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            proc = ref()
            return [] if proc is None else build(proc.stats())

        return callback

    def single(key: str) -> Build:
        return lambda stats: [Observation(stats[key], attrs)]

    meter.create_observable_counter(
        OTEL_SDK_PROCESSOR_SPAN_PROCESSED, [reader(lambda s: processed(s, attrs))], unit="{span}",
        description="The number of spans for which the processing has finished, either successful or failed.",
    )
    meter.create_observable_up_down_counter(
        OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE, [reader(single("buffered_spans"))], unit="{span}",
        description="The number of spans in the queue of a given instance of an SDK span processor.",
    )
    capacity = processor.limits.max_spans
    meter.create_observable_up_down_counter(
        OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY, [lambda _o: [Observation(capacity, attrs)]], unit="{span}",
        description="The maximum number of spans the queue of a given instance of an SDK span processor can hold.",
    )
    counters: list[tuple[str, Build, str, str]] = [
        ("traces", _by_policy(attrs, "kept_by_policy", "dropped_by_policy"), "{trace}",
         "Traces decided by the tail sampler, by decision and policy."),
        ("spans", _by_policy(attrs, "spans_kept_by_policy", "spans_dropped_by_policy"), "{span}",
         "Spans kept or dropped by the tail sampler, by decision and policy."),
        ("late_spans", lambda s: [Observation(s["late_spans_kept"], {**attrs, "otelkit.tail.outcome": "kept"}),
                                  Observation(s["late_spans_dropped"], {**attrs, "otelkit.tail.outcome": "dropped"})],
         "{span}", "Spans that ended after their trace was decided, by outcome."),
        ("late_span_age", lambda s: [Observation(n, {**attrs, "otelkit.tail.age": b})
                                     for b, n in s["late_span_age"].items()],
         "{span}", "Late spans by time since their trace's decision (bucket upper bounds)."),
        ("evicted_traces", single("evicted_traces"), "{trace}", "Traces evicted by a buffer overflow."),
        ("decided_early", single("decided_early"), "{trace}", "Traces decided early by a buffer overflow."),
    ]
    for name, build, unit, doc in counters:
        meter.create_observable_counter(f"otelkit.tail.{name}", [reader(build)], unit=unit, description=doc)
    for key, unit in (("traces", "{trace}"), ("spans", "{span}"), ("bytes", "By")):
        meter.create_observable_gauge(
            f"otelkit.tail.buffered.{key}", [reader(single(f"buffered_{key}"))], unit=unit,
            description=f"Buffered (undecided) {key} in the tail sampler.",
        )
    meter.create_observable_gauge(
        "otelkit.tail.decision.lag", [reader(single("decision_lag_s"))], unit="s",
        description="How far the tail sampler's decisions are behind: now minus the due time of the oldest "
                    "due, undecided trace (0 when none is due).",
    )
    histogram = meter.create_histogram(
        "otelkit.tail.decision.duration", unit="s", description="Policy evaluation time per trace decision.",
        explicit_bucket_boundaries_advisory=[1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 0.1],
    )
    processor.set_decision_hook(lambda seconds: histogram.record(seconds, attrs))
    return histogram
