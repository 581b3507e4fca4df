"""The load generator: the request mix, pacing bounds, and 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from otelkit.demo.loadgen import LoadStats, _paced, http_load, plan_request


def test_request_mix_covers_every_endpoint_reads_first() -> None:
    rnd = random.Random(1)
    mix = Counter((m, p.split("/")[1].split("?")[0]) for m, p, _ in (plan_request(rnd, [7]) for _ in range(5000)))
    assert mix[("GET", "products")] > mix[("POST", "checkout")] > mix[("POST", "payment")] > 0
    assert set(mix) == {
        ("GET", "products"), ("GET", "users"), ("POST", "users"), ("POST", "checkout"), ("POST", "payment")
    }


def test_without_known_users_no_user_lookup_is_planned() -> None:
    rnd = random.Random(2)
    plans = [plan_request(rnd, []) for _ in range(2000)]
    assert not [p for m, p, _ in plans if m == "GET" and p.startswith("/users/")]


def test_paced_runs_about_rate_times_duration_and_stops() -> None:
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1

    asyncio.run(_paced(100.0, 4, 0.2, job))
    assert calls == 20


def test_paced_never_exceeds_concurrency() -> None:
    running = peak = 0

    async def job() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1

    asyncio.run(_paced(1000.0, 3, 0.1, job))
    assert peak == 3


@pytest.mark.parametrize("url", ["http://example.com:80", "http://0.0.0.0:8000", "https://127.0.0.1:1"])
def test_only_127_0_0_1_is_loaded(url: str) -> None:
    with pytest.raises(ValueError, match="allowed: http://127.0.0.1:PORT"):
        asyncio.run(http_load(url, LoadStats(), duration=0.1))


def test_load_stats_count_5xx() -> None:
    s = LoadStats()
    for status in (200, 201, 500, 503, 404):
        s.count(status)
    assert (s.requests, s.server_errors) == (5, 2)
