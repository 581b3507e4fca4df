from __future__ import annotations

import pytest

from otelkit.batch._adaptive import Adaptation, batch_cap, clamp, ewma, target_batch, target_wait


def _adaptation(**kw: float) -> Adaptation:
    base: dict[str, float] = dict(min_batch=16, max_batch=8192, max_bytes=4 << 20, freshness_s=0.2,
                                  max_wait_s=5.0, startup_s=0.05, concurrency=2)
    base.update(kw)
    return Adaptation(**base)  # type: ignore[arg-type]


def _feed_rate(a: Adaptation, rate: float, start: float = 0.0, steps: int = 20, dt: float = 0.1) -> float:
    """Feed arrivals at ``rate`` spans/s on a fake clock; return the clock after the last step."""
    arrived = a._last_arrived
    now = start
    if a._last_t is None:
        a.observe_arrivals(arrived, now)
    for _ in range(steps):
        now += dt
        arrived += int(rate * dt)
        a.observe_arrivals(arrived, now)
    return now


@pytest.mark.parametrize(("prev", "sample", "alpha", "expected"), [
    (None, 5.0, 0.3, 5.0),
    (10.0, 20.0, 0.5, 15.0),
    (10.0, 10.0, 0.3, 10.0),
    (0.0, 100.0, 0.1, 10.0),
])
def test_ewma(prev: float | None, sample: float, alpha: float, expected: float) -> None:
    assert ewma(prev, sample, alpha) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "lo", "hi", "expected"), [(5, 1, 10, 5), (0, 1, 10, 1), (11, 1, 10, 10), (5, 8, 4, 8)])
def test_clamp(value: float, lo: float, hi: float, expected: float) -> None:
    assert clamp(value, lo, hi) == expected


@pytest.mark.parametrize(("max_batch", "max_bytes", "bps", "expected"), [
    (8192, 4 << 20, None, 8192),        # bytes/span unknown: span bound only
    (8192, 4 << 20, 0.0, 8192),
    (8192, 4 << 20, 1024.0, 4096),      # 4 MiB / 1 KiB
    (512, 4 << 20, 1024.0, 512),        # span bound tighter
    (8192, 1000, 5000.0, 1),            # a single huge span still goes out
])
def test_batch_cap(max_batch: int, max_bytes: int, bps: float | None, expected: int) -> None:
    assert batch_cap(max_batch, max_bytes, bps) == expected


@pytest.mark.parametrize(("rate", "wait", "expected"), [
    (None, 0.2, 16), (1.0, 0.2, 16), (1000.0, 0.2, 200), (1e6, 0.2, 4096), (1000.0, 1.0, 1000),
])
def test_target_batch_is_what_arrives_in_one_wait(rate: float | None, wait: float, expected: int) -> None:
    assert target_batch(rate, wait, 16, 4096) == expected


@pytest.mark.parametrize(("latency", "k", "expected"), [
    (None, 2, 0.2),      # nothing measured: freshness
    (0.01, 2, 0.2),      # fast exports: freshness
    (1.0, 2, 1.0),       # 2 * 1 s / 2 slots
    (1.0, 1, 2.0),       # one slot needs twice the wait
    (60.0, 2, 5.0),      # capped by max wait
])
def test_target_wait(latency: float | None, k: int, expected: float) -> None:
    assert target_wait(latency, k, 0.2, 5.0) == pytest.approx(expected)


def test_max_wait_below_freshness_wins() -> None:
    assert target_wait(None, 2, 0.2, 0.05) == pytest.approx(0.05)
    assert _adaptation(max_wait_s=0.05).wait_s == pytest.approx(0.05)


def test_first_export_uses_the_startup_wait_then_freshness() -> None:
    a = _adaptation()
    assert a.current_wait() == pytest.approx(0.05)
    a.observe_export(0.001)
    assert a.current_wait() == pytest.approx(0.2)


def test_target_batch_follows_the_arrival_rate_up_and_down() -> None:
    a = _adaptation()
    assert a.target == 16
    now = _feed_rate(a, 50_000.0)
    high = a.target
    assert high > 5000
    _feed_rate(a, 100.0, start=now, steps=40)
    assert a.target < high
    assert a.rate == pytest.approx(100.0, rel=1e-2)
    assert 20 <= a.target <= 21  # 100 spans/s * 0.2 s


def test_rate_samples_shorter_than_the_minimum_interval_are_ignored() -> None:
    a = _adaptation()
    a.observe_arrivals(0, 0.0)
    a.observe_arrivals(1000, 0.001)
    assert a.rate is None
    a.observe_arrivals(1000, 0.1)
    assert a.rate == pytest.approx(10_000.0)


def test_wait_grows_while_exports_are_slow_and_shrinks_when_fast() -> None:
    a = _adaptation()
    now = _feed_rate(a, 1000.0)
    fast_target = a.target
    waits = []
    for _ in range(10):
        a.observe_export(1.5)  # slower than concurrency * wait
        waits.append(a.wait_s)
    assert waits == sorted(waits) and waits[-1] > 1.0
    assert a.wait_s <= 5.0
    _feed_rate(a, 1000.0, start=now)
    assert a.target > fast_target  # longer wait -> bigger batches at the same rate
    for _ in range(30):
        a.observe_export(0.005)
    assert a.wait_s == pytest.approx(0.2, rel=0.05)


def test_bytes_per_span_caps_the_batch() -> None:
    a = _adaptation(max_bytes=1 << 20)
    _feed_rate(a, 1e6)
    assert a.target == 8192
    a.observe_bytes(raw_bytes=1024 * 1000, spans=1000)
    assert a.bytes_per_span == pytest.approx(1024.0)
    assert a.cap == 1024
    assert a.target == 1024
    a.observe_bytes(raw_bytes=0, spans=0)  # nothing new: unchanged
    assert a.bytes_per_span == pytest.approx(1024.0)


def test_target_stays_below_half_the_queue() -> None:
    a = _adaptation(queue_capacity=2048)
    _feed_rate(a, 1e6)
    assert a.target == 1024  # the worker wakes while the queue still has room
    assert a.cap == 8192  # a backlog still drains in large batches
