"""The ``otelkit.debug`` override: trusted attribute, token-gated baggage, rate limit, counts."""

from __future__ import annotations

import pytest
from opentelemetry import baggage
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelkit.sampling._debug import DebugOverride
from otelkit.sampling._metrics import register_sampler_metrics
from otelkit.sampling.rules import RulesSampler

KEEP_ALL = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def asked(value: str) -> object:
    return baggage.set_baggage("otelkit.debug", value)


def test_inbound_baggage_is_ignored_by_default() -> None:
    override = DebugOverride.from_env(None, {})
    assert not override.requested(asked("true"), None)  # type: ignore[arg-type]
    assert override.requested(None, {"otelkit.debug": True})  # the application's own attribute
    assert override.stats() == {"forced": 1, "forced_refused": 0}


@pytest.mark.parametrize(("value", "honoured"), [
    ("s3cret", True), ("true", False), ("1", False), ("s3cre", False), ("s3cret ", False), ("", False),
])
def test_baggage_must_equal_the_configured_token(value: str, honoured: bool) -> None:
    override = DebugOverride.from_env(None, {"OTELKIT_SAMPLER_DEBUG_TOKEN": "s3cret"})
    assert override.requested(asked(value), None) is honoured  # type: ignore[arg-type]


def test_disabled_override_honours_nothing() -> None:
    override = DebugOverride.from_env(None, {"OTELKIT_SAMPLER_DEBUG": "false", "OTELKIT_SAMPLER_DEBUG_TOKEN": "t"})
    assert not override and not override.requested(asked("t"), {"otelkit.debug": "true"})  # type: ignore[arg-type]


def test_forced_keeps_are_rate_limited_and_refusals_counted() -> None:
    clock = Clock()
    override = DebugOverride(True, "t", rate=2.0, clock=clock)
    ctx = asked("t")
    burst = [override.requested(ctx, None) for _ in range(5)]  # type: ignore[arg-type]
    assert burst == [True, True, False, False, False]
    clock.now += 0.5  # one more unit
    assert override.requested(ctx, None) and not override.requested(ctx, None)  # type: ignore[arg-type]
    clock.now += 100  # the bucket refills to its burst, no further
    assert sum(override.requested(ctx, None) for _ in range(10)) == 2  # type: ignore[arg-type]
    assert override.stats() == {"forced": 5, "forced_refused": 12}


def test_rate_zero_forces_nothing_and_bad_rates_raise() -> None:
    assert not DebugOverride(True, None, rate=0.0).requested(None, {"otelkit.debug": "1"})
    for bad in (-1.0, float("nan"), True):
        with pytest.raises(ValueError, match="rate"):
            DebugOverride(rate=bad)  # type: ignore[arg-type]


def test_rate_comes_from_the_environment() -> None:
    override = DebugOverride.from_env(None, {"OTELKIT_SAMPLER_DEBUG_RATE": "1"})
    assert [override.requested(None, {"otelkit.debug": "yes"}) for _ in range(3)] == [True, False, False]


def test_forced_samples_are_counted_in_stats_and_the_self_metric() -> None:
    sampler = RulesSampler("drop", environ={"OTELKIT_SAMPLER_DEBUG_TOKEN": "t", "OTELKIT_SAMPLER_DEBUG_RATE": "1"})
    reader = InMemoryMetricReader()
    register_sampler_metrics(sampler, "rules", MeterProvider(metric_readers=[reader]))
    ctx = asked("t")
    decisions = [sampler.should_sample(ctx, KEEP_ALL, "x").decision.is_sampled() for _ in range(3)]  # type: ignore[arg-type]
    assert decisions == [True, False, False]
    assert sampler.stats() == {"kept": 1, "dropped": 2, "rules": 1, "forced": 1, "forced_refused": 2}
    data = reader.get_metrics_data()
    points = {
        p.attributes["otelkit.decision"]: p.value
        for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        if m.name == "otelkit.sampler.forced" for p in m.data.data_points
    }
    assert points == {"forced": 1, "refused": 2}
