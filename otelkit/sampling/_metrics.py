"""Self-metrics of the head samplers through the OpenTelemetry metrics API.

Only observable instruments: the callbacks read ``stats()`` at collection time, so a
sampling decision never touches the metrics API. The sampler is held weakly, so a sampler
that is dropped stops reporting instead of being kept alive by the meter.

Instruments (meter ``otelkit.sampling``):

* ``otelkit.sampler.spans`` (observable counter, ``{span}``), attribute
  ``otelkit.decision`` = ``kept`` | ``dropped``;
* ``otelkit.sampler.probability`` (observable gauge, 1): the current global keep
  probability, and one point per key (attribute ``otelkit.sampling.key``) for the busiest
  keys (bounded by ``stats()``);
* ``otelkit.sampler.keys`` (observable gauge, ``{key}``): keys currently tracked;
* ``otelkit.sampler.forced`` (observable counter, ``{span}``): spans the ``otelkit.debug``
  override forced (``otelkit.decision`` = ``forced``) or refused over its rate (``refused``);
  forced spans are also among ``kept``.
* ``otelkit.sampler.backpressure`` (observable gauge, 1): the factor the export path's
  back-pressure applies to the target (1.0: none; halves per second while the batch queue
  is above its high-water mark or drops spans). Only for samplers whose ``stats()`` has
  ``pressure``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

__all__ = ["register_sampler_metrics"]

_METER = "otelkit.sampling"


def register_sampler_metrics(sampler: Any, name: str, meter_provider: MeterProvider | None = None) -> None:
    """Register observable instruments reading ``sampler.stats()`` (held weakly).

    Args:
        sampler: an object with ``stats() -> dict`` (keys ``kept``, ``dropped``,
            ``probability``, ``keys``, ``probability_by_key``).
        name: value of the ``otelkit.sampler`` attribute on every point.
        meter_provider: provider to use; default the global one.
    """
    ref = weakref.ref(sampler)
    base = {"otelkit.sampler": name}

    def snapshot() -> dict[str, Any] | None:
        target = ref()
        return target.stats() if target is not None else None

    def spans(options: CallbackOptions) -> Iterable[Observation]:
        snap = snapshot()
        if snap is None:
            return []
        return [
            Observation(snap["kept"], {**base, "otelkit.decision": "kept"}),
            Observation(snap["dropped"], {**base, "otelkit.decision": "dropped"}),
        ]

    def probability(options: CallbackOptions) -> Iterable[Observation]:
        snap = snapshot()
        if snap is None:
            return []
        points = [Observation(snap["probability"], base)]
        for key, p in snap.get("probability_by_key", {}).items():
            points.append(Observation(p, {**base, "otelkit.sampling.key": key}))
        return points

    def keys(options: CallbackOptions) -> Iterable[Observation]:
        snap = snapshot()
        return [] if snap is None else [Observation(snap["keys"], base)]

    def forced(options: CallbackOptions) -> Iterable[Observation]:
        snap = snapshot()
        if snap is None or "forced" not in snap:
            return []
        return [
            Observation(snap["forced"], {**base, "otelkit.decision": "forced"}),
            Observation(snap.get("forced_refused", 0), {**base, "otelkit.decision": "refused"}),
        ]
    def pressure(options: CallbackOptions) -> Iterable[Observation]:
        snap = snapshot()
        return [] if snap is None or "pressure" not in snap else [Observation(snap["pressure"], base)]

    meter = metrics.get_meter(_METER, meter_provider=meter_provider)
    callbacks: list[tuple[str, Callable[[CallbackOptions], Iterable[Observation]], str, str, bool]] = [
        ("otelkit.sampler.spans", spans, "{span}", "Head-sampling decisions by outcome", True),
        ("otelkit.sampler.probability", probability, "1", "Current keep probability (global and per key)", False),
        ("otelkit.sampler.keys", keys, "{key}", "Fairness keys currently tracked", False),
        ("otelkit.sampler.forced", forced, "{span}", "Spans forced (or refused) by the otelkit.debug override", True),
        ("otelkit.sampler.backpressure", pressure, "1", "Factor the export back-pressure applies to the target",
         False),
    ]
    for inst, callback, unit, doc, counter in callbacks:
        if counter:
            meter.create_observable_counter(inst, [callback], unit=unit, description=doc)
        else:
            meter.create_observable_gauge(inst, [callback], unit=unit, description=doc)
