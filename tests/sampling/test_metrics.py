from __future__ import annotations

import gc
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelkit.sampling._metrics import register_sampler_metrics
from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.sampling.simulate import FakeClock, Phase, simulate


def _points(reader: InMemoryMetricReader) -> dict[str, Any]:
    data = reader.get_metrics_data()
    if data is None:
        return {}
    return {m.name: list(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics}


def test_self_metrics_are_observed_at_collection() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    clock = FakeClock()
    sampler = AdaptiveSampler(10.0, clock=clock, self_metrics=False, environ={})
    register_sampler_metrics(sampler, "adaptive", provider)
    simulate(sampler, clock, [Phase(5, {"a": 100.0})], seed=1)
    points = _points(reader)
    by_decision = {p.attributes["otelkit.decision"]: p.value for p in points["otelkit.sampler.spans"]}
    assert by_decision == {"kept": sampler.stats()["kept"], "dropped": sampler.stats()["dropped"]}
    probability = {p.attributes.get("otelkit.sampling.key"): p.value for p in points["otelkit.sampler.probability"]}
    assert probability == {None: sampler.stats()["probability"], "a": sampler.stats()["probability_by_key"]["a"]}
    assert [p.value for p in points["otelkit.sampler.keys"]] == [1]
    provider.shutdown()


def test_a_dropped_sampler_stops_reporting_and_is_not_kept_alive() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    sampler = AdaptiveSampler(10.0, self_metrics=False, environ={})
    register_sampler_metrics(sampler, "adaptive", provider)
    assert _points(reader)["otelkit.sampler.keys"]  # reporting while alive
    del sampler
    gc.collect()
    assert not any(_points(reader).values())  # held weakly: gone, and silent
    provider.shutdown()
