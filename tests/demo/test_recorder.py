"""The report's time series: kept rate from sampled roots, per-key probability aligned on time."""

from __future__ import annotations

import pytest

from otelkit.demo.display import Snapshot
from otelkit.demo.loadgen import LoadStats
from otelkit.demo.metrics import Counts, Totals
from otelkit.demo.recorder import FIXED_RATIO_KEY, Recorder


def _snap(elapsed: float, roots: float | None, **counts: object) -> Snapshot:
    c = Counts(roots_sampled=roots, **counts)  # type: ignore[arg-type]
    return Snapshot("otelkit", elapsed, 10.0, LoadStats(), None, c, Totals(None, None, {}, None, None), 0.1 * elapsed)


def test_kept_rate_is_the_roots_added_over_the_time_between_points() -> None:
    rec = Recorder("otelkit", 1, 50.0, min_interval=1.0)
    rec.add(_snap(0.5, 30))  # first point: from the start of the load
    rec.add(_snap(1.0, 50))  # 0.5 s after the last point: not recorded
    rec.add(_snap(2.5, 130))
    s = rec.series()
    assert s.t == [0.5, 2.5]
    assert s.kept_per_s == [60.0, 50.0]
    assert s.cpu_seconds == [0.05, 0.25]
    assert (s.mode, s.round, s.target) == ("otelkit", 1, 50.0)


def test_unreported_values_stay_none() -> None:
    rec = Recorder("stock", 1, 50.0, min_interval=0)
    rec.add(_snap(1.0, None))
    rec.add(_snap(2.0, 10, p50_ms=2.0))
    s = rec.series()
    assert s.kept_per_s == [None, 10.0 / 1.0]
    assert s.p50_ms == [None, 2.0] and s.p99_ms == [None, None]


def test_probability_per_key_is_aligned_with_time() -> None:
    rec = Recorder("otelkit", 1, 50.0, min_interval=0)
    rec.add(_snap(1.0, 1, probability_by_key={"GET /a": 0.5}))
    rec.add(_snap(2.0, 2, probability_by_key={"GET /b": 0.25}))
    rec.add(_snap(3.0, 3, probability_by_key={"GET /a": 0.4, "GET /b": 0.2}))
    assert rec.series().probability_by_key == {"GET /a": [0.5, None, 0.4], "GET /b": [None, 0.25, 0.2]}


def test_a_fixed_ratio_sampler_is_one_key() -> None:
    rec = Recorder("stock", 2, 50.0, min_interval=0)
    rec.add(_snap(1.0, 1, probability=0.25))
    assert rec.series().probability_by_key == {FIXED_RATIO_KEY: [0.25]}


def test_series_is_a_copy() -> None:
    rec = Recorder("otelkit", 1, 50.0, min_interval=0)
    rec.add(_snap(1.0, 1))
    rec.series().t.append(99.0)
    assert rec.series().t == [1.0]


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="allowed: a number >= 0"):
        Recorder("otelkit", 1, 50.0, min_interval=-1)
