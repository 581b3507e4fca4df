"""A bounded load generator for the example servers: aiohttp HTTP clients and websockets clients.

The load is paced (``rate`` requests per second over at most ``concurrency`` requests in
flight) and stops by itself after ``duration`` seconds. It only talks to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoadStats", "http_load", "liveroom_load", "RequestPlan", "plan_request"]

RequestPlan = tuple[str, str, Any]
"""``(method, path, json_body_or_None)``."""


@dataclass
class LoadStats:
    """What the load generator sent and got back."""

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    client_errors: int = 0
    ws_sent: int = 0
    ws_received: int = 0
    ws_connections: int = 0
    room_requests: int = 0
    """The part of ``requests`` that went to the live-room service (its REST API)."""

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.by_status.items() if status >= 500)

    def count(self, status: int) -> None:
        self.requests += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1


def plan_request(rnd: random.Random, user_ids: list[int]) -> RequestPlan:
    """One request of the API mix (reads dominate; payment/checkout are the important paths)."""
    roll = rnd.random()
    if roll < 0.25:
        return ("GET", "/products?limit=10", None)
    if roll < 0.55:
        return ("GET", f"/products/{rnd.randint(1, 4)}", None)
    if roll < 0.62:
        return ("GET", "/users?limit=10", None)
    if roll < 0.72:
        n = rnd.randrange(1_000_000)
        return ("POST", "/users", {"name": f"user{n}", "email": f"user{n}@example.test"})
    if roll < 0.82 and user_ids:
        return ("GET", f"/users/{rnd.choice(user_ids)}", None)
    if roll < 0.92:
        return ("POST", "/checkout", {"product_ids": rnd.sample([1, 2, 3, 4], rnd.randint(1, 3))})
    return ("POST", "/payment", {"amount": round(rnd.uniform(1, 500), 2)})


async def _paced(
    rate: float, concurrency: int, duration: float, job: Callable[[], Awaitable[None]]
) -> None:
    """Run ``job`` about ``rate`` times per second with at most ``concurrency`` in flight."""
    start = time.monotonic()
    end = start + duration
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    i = 0
    while True:
        due = start + i / rate
        if due >= end:
            break
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        if time.monotonic() >= end:
            slots.release()
            break

        async def _one() -> None:
            try:
                await job()
            finally:
                slots.release()

        task = asyncio.create_task(_one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    if tasks:
        await asyncio.wait(tasks, timeout=max(5.0, duration))


async def http_load(
    base_url: str,
    stats: LoadStats,
    *,
    rate: float = 200.0,
    concurrency: int = 32,
    duration: float = 20.0,
    seed: int | None = None,
) -> LoadStats:
    """Drive the example API at ``base_url`` for ``duration`` seconds; returns ``stats``."""
    import aiohttp

    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError(f"base_url {base_url!r} is invalid; allowed: http://127.0.0.1:PORT")
    rnd = random.Random(seed)
    user_ids: list[int] = []
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, timeout=timeout, connector=connector) as session:

        async def job() -> None:
            method, path, body = plan_request(rnd, user_ids)
            try:
                async with session.request(method, path, json=body) as resp:
                    data = await resp.read()
                    stats.count(resp.status)
                    if method == "POST" and path == "/users" and resp.status == 201 and len(user_ids) < 1000:
                        user_ids.append(int(json.loads(data)["id"]))
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
                stats.client_errors += 1

        await _paced(rate, concurrency, duration, job)
    return stats


async def liveroom_load(
    base_url: str,
    stats: LoadStats,
    *,
    rooms: int = 4,
    clients: int = 12,
    rate: float = 40.0,
    duration: float = 20.0,
    seed: int | None = None,
) -> LoadStats:
    """Open ``clients`` WebSocket viewers over ``rooms`` live rooms and send about ``rate``
    danmu/gift messages per second in total, each carrying a fresh W3C ``traceparent`` in
    its envelope; broadcasts received are counted."""
    import aiohttp
    import websockets

    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError(f"base_url {base_url!r} is invalid; allowed: http://127.0.0.1:PORT")
    rnd = random.Random(seed)
    ws_url = "ws://" + base_url.removeprefix("http://") + "/ws"
    async with aiohttp.ClientSession(base_url, timeout=aiohttp.ClientTimeout(total=10)) as session:
        room_ids: list[int] = []
        for r in range(rooms):
            async with session.post("/rooms", json={"name": f"room{r}", "host": f"host{r}"}) as resp:
                room_ids.append(int((await resp.json())["id"]))
                stats.count(resp.status)
            async with session.post(f"/rooms/{room_ids[-1]}/start") as resp:
                await resp.read()
                stats.count(resp.status)
            stats.room_requests += 2
        conns: list[Any] = []
        readers: list[asyncio.Task[None]] = []

        async def _reader(ws: Any) -> None:
            try:
                async for _ in ws:
                    stats.ws_received += 1
            except websockets.ConnectionClosed:
                return

        try:
            for c in range(clients):
                room = room_ids[c % len(room_ids)]
                ws = await websockets.connect(f"{ws_url}?room={room}&user=viewer{c}", open_timeout=10)
                conns.append(ws)
                stats.ws_connections += 1
                readers.append(asyncio.create_task(_reader(ws)))

            async def job() -> None:
                ws = rnd.choice(conns)
                kind = "gift" if rnd.random() < 0.2 else "danmu"
                message = {"_otel": {"traceparent": _traceparent(rnd)}, "type": kind, "text": f"{kind} {rnd.randrange(10_000)}"}
                try:
                    await ws.send(json.dumps(message))
                    stats.ws_sent += 1
                except websockets.ConnectionClosed:
                    stats.client_errors += 1

            async def hot_rooms() -> None:
                end = time.monotonic() + duration
                while time.monotonic() < end:
                    async with session.get("/rooms/hot?limit=3") as resp:
                        await resp.read()
                        stats.count(resp.status)
                        stats.room_requests += 1
                    await asyncio.sleep(0.5)

            await asyncio.gather(_paced(rate, 8, duration, job), hot_rooms())
        finally:
            for ws in conns:
                await ws.close()
            for task in readers:
                task.cancel()
    return stats


def _traceparent(rnd: random.Random) -> str:
    return f"00-{rnd.getrandbits(128) or 1:032x}-{rnd.getrandbits(64) or 1:016x}-01"
