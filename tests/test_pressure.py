"""ExportPressure: the batcher reports saturation, the head sampler raises its thresholds."""

from __future__ import annotations

import threading

import pytest

from otelkit._pressure import EXPORT_PRESSURE, ExportPressure
from otelkit.sampling.adaptive import AdaptiveSampler
from otelkit.sampling.simulate import FakeClock, Phase, simulate
from tests.batch._helpers import Recording, end_spans, pipeline, wait_until


def test_factor_halves_per_step_while_saturated_and_recovers_after_calm() -> None:
    clock = FakeClock(0.0)
    pressure = ExportPressure(0.8, step=1.0, calm=5.0, clock=clock)
    pressure.report_fill(79, 100)  # below the high-water mark
    clock.now = 1.0
    assert pressure.factor() == 1.0
    factors = []
    for t in range(2, 6):
        pressure.report_fill(90, 100)
        clock.now = float(t)
        factors.append(pressure.factor())
    assert factors == [0.5, 0.25, 0.125, 0.0625]
    clock.now = 8.0
    assert pressure.factor() == 0.0625  # not calm for 5 s yet
    clock.now = 10.0
    assert pressure.factor() == pytest.approx(0.0625 * 1.25)
    for t in range(11, 40):
        clock.now = float(t)
        pressure.factor()
    assert pressure.factor() == 1.0


def test_drops_count_as_saturation_and_the_floor_holds() -> None:
    clock = FakeClock(0.0)
    pressure = ExportPressure(clock=clock, lowest=0.25)
    for t in range(1, 6):
        pressure.report_drop(3)
        clock.now = float(t)
        pressure.factor()
    assert pressure.factor() == 0.25
    assert pressure.stats() == {"factor": 0.25, "drops": 15.0}


@pytest.mark.parametrize("kwargs", [{"high_water": 0.0}, {"high_water": 1.5}, {"step": 0.0}, {"lowest": 0.0}])
def test_bad_arguments_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="expected"):
        ExportPressure(**kwargs)  # type: ignore[arg-type]


def test_sampler_keeps_fewer_under_pressure_with_exact_counts() -> None:
    clock = FakeClock()
    pressure = ExportPressure(clock=clock, lowest=0.25)
    sampler = AdaptiveSampler(100.0, clock=clock, self_metrics=False, environ={}, pressure=pressure)
    calm = simulate(sampler, clock, [Phase(20, {"GET /a": 1000.0, "GET /b": 500.0})], seed=1, stratified=True)
    assert calm.kept_rate(5, 20) == pytest.approx(100.0, rel=0.05)
    pressure.report_drop()  # the batcher starts dropping: from now on saturated
    phases = [Phase(1, {"GET /a": 1000.0, "GET /b": 500.0})] * 20
    kept = []
    total = est = 0.0
    for phase in phases:
        pressure.report_fill(95, 100)
        r = simulate(sampler, clock, [phase], seed=len(kept) + 2, stratified=True)
        kept.append(r.kept_rate(0, 1))
        total += r.total
        est += r.estimated_total
    assert kept[-1] == pytest.approx(25.0, rel=0.15)  # down to the floor: target x 0.25
    assert est == pytest.approx(total, rel=0.05)  # thresholds match what was kept
    assert sampler.stats()["pressure"] == 0.25


def test_saturated_batch_queue_reports_into_the_shared_pressure() -> None:
    gate = threading.Event()
    provider, processor = pipeline(Recording(gate=gate), max_queue_size=100, max_export_batch_size=10)
    before = EXPORT_PRESSURE.stats()["drops"]
    try:
        end_spans(provider, [f"s{i}" for i in range(300)])  # the exporter hangs: the queue fills
        assert wait_until(lambda: EXPORT_PRESSURE.stats()["drops"] > before)
    finally:
        gate.set()
        processor.shutdown()
        EXPORT_PRESSURE.reset()  # other tests' samplers read the shared instance
