"""Example API server throughput: no tracing vs stock SDK + contrib ASGI vs the otelkit pipeline.

Each side is a real uvicorn subprocess of ``examples.api_server`` loaded with a bounded
2000 requests (httpx, 16 in flight, the demo's request mix with fault injection off).
Both traced sides sample every trace (the stock ratio sampler at 1.0, the adaptive
sampler with an unreachable target) and export every span to an embedded receiver, so
they do the same work: stock = BatchSpanProcessor + OTLP/HTTP gzip + contrib's
``OpenTelemetryMiddleware`` at its defaults; otelkit = ``pipeline_env("otelkit")`` without
tail sampling (off by default). ``extra_info`` records the server's CPU per request and each
side's overhead against the untraced ``off`` run of the same session (goal: otelkit's
overhead at most half of stock's).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import httpx
import pytest

from otelkit.demo.loadgen import plan_request
from otelkit.demo.servers import API_APP, ExampleServer, pipeline_env, start_example
from otelkit.receiver import OtlpReceiver

REQUESTS = 2000
CONCURRENCY = 16
ROUNDS = 3
WARMUP = 200
_medians: dict[str, float] = {}
_cpu: dict[str, float] = {}


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver(keep_spans=False) as rx:
        yield rx


def _env(side: str, endpoint: str) -> dict[str, str]:
    quiet = {"OTELKIT_EXAMPLE_ERROR_RATE": "0", "OTELKIT_EXAMPLE_SLOW_RATE": "0"}
    if side == "off":
        return {"OTELKIT_EXAMPLE_TRACING": "off", **quiet}
    env = pipeline_env(side, endpoint, target=100_000, rate=1.0, tail=False).env
    return {**env, **quiet}


async def _drive(base_url: str, seed: int, requests: int = REQUESTS) -> int:
    rnd = random.Random(seed)
    plans = [plan_request(rnd, []) for _ in range(requests)]
    ok = 0
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(method: str, path: str, body: object) -> None:
            nonlocal ok
            async with slots:
                resp = await client.request(method, path, json=body)
                ok += resp.status_code < 500

        await asyncio.gather(*(one(*p) for p in plans))
    return ok


@pytest.mark.benchmark(group=f"examples: API server, {REQUESTS} requests")
@pytest.mark.parametrize("tracing", ["off", "stock", "otelkit"])
def test_api_server_requests(benchmark: pytest.FixtureRequest, tracing: str, receiver: OtlpReceiver) -> None:
    server: ExampleServer = start_example(API_APP, _env(tracing, receiver.endpoint), name=f"bench-{tracing}")
    try:
        asyncio.run(_drive(server.base_url, 999, WARMUP))
        seeds = iter(range(1000))
        cpu0 = server.cpu_seconds()
        benchmark.pedantic(lambda: asyncio.run(_drive(server.base_url, next(seeds))), rounds=ROUNDS, iterations=1)
        cpu1 = server.cpu_seconds()
    finally:
        server.stop()
    median = benchmark.stats.stats.median  # type: ignore[attr-defined]
    _medians[tracing] = median
    info = benchmark.extra_info  # type: ignore[attr-defined]
    if tracing != "off":
        info["side"] = tracing
    if cpu0 is not None and cpu1 is not None:
        _cpu[tracing] = (cpu1 - cpu0) / (ROUNDS * REQUESTS)
        info["server_cpu_us_per_request"] = round(_cpu[tracing] * 1e6, 1)
    info["requests_per_s"] = round(REQUESTS / median, 1)
    if tracing != "off" and "off" in _medians:
        info["overhead_vs_off_pct"] = round((median / _medians["off"] - 1) * 100, 1)
        if tracing in _cpu and "off" in _cpu:
            info["cpu_overhead_vs_off_pct"] = round((_cpu[tracing] / _cpu["off"] - 1) * 100, 1)
