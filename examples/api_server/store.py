"""In-memory users/products store and fault injection shared by the Starlette and aiohttp apps.

Fault injection (``OTELKIT_EXAMPLE_ERROR_RATE``, ``OTELKIT_EXAMPLE_SLOW_RATE``,
``OTELKIT_EXAMPLE_SLOW_MS``) gives samplers something to find: a fraction of the requests
to ``GET /products/{id}``, ``POST /payment`` and ``POST /checkout`` fail with a 500 or
wait before answering.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace

from examples import settings

__all__ = ["Faults", "Store", "make_pool", "render_json_list", "IMPORTANT_PATHS"]

IMPORTANT_PATHS = ("/payment", "/checkout")
"""Paths a sampler should always keep (they carry money)."""


class _LocalPool:
    """Bounded free list with the ``otelkit.pool.ObjectPool`` API (used when it is absent)."""

    def __init__(self, factory: Callable[[], Any], reset: Callable[[Any], None], maxsize: int) -> None:
        self._factory, self._reset, self._maxsize = factory, reset, maxsize
        self._free: list[Any] = []

    def acquire(self) -> Any:
        return self._free.pop() if self._free else self._factory()

    def release(self, obj: Any) -> None:
        if len(self._free) < self._maxsize:
            self._reset(obj)
            self._free.append(obj)


def make_pool(maxsize: int) -> Any:
    """A pool of response ``bytearray`` buffers: otelkit's ``ObjectPool`` when available."""
    try:
        from otelkit.pool import ObjectPool
    except ImportError:
        return _LocalPool(bytearray, bytearray.clear, maxsize)
    # positional: (factory, reset, bound) - the bound's keyword name is the pool's business
    return ObjectPool(bytearray, bytearray.clear, maxsize)


def render_json_list(pool: Any, items: list[dict[str, Any]]) -> bytes:
    """``items`` as a JSON array, assembled in a pooled buffer (the hot path of list calls)."""
    buf = pool.acquire()
    try:
        buf += b"["
        for i, item in enumerate(items):
            if i:
                buf += b","
            buf += json.dumps(item, separators=(",", ":")).encode()
        buf += b"]"
        return bytes(buf)
    finally:
        pool.release(buf)


class Faults:
    """Injected failures and slowness, read from the environment once."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.error_rate = settings.OTELKIT_EXAMPLE_ERROR_RATE.get(env)
        self.slow_rate = settings.OTELKIT_EXAMPLE_SLOW_RATE.get(env)
        self.slow_s = settings.OTELKIT_EXAMPLE_SLOW_MS.get(env) / 1000.0
        self.injected = {"error": 0, "slow": 0}

    async def inject(self) -> bool:
        """Maybe wait; return True when this request must fail.

        The request's span gets ``example.fault`` = ``slow``, ``error`` or ``slow,error``.
        """
        span = trace.get_current_span()
        slow = bool(self.slow_rate) and random.random() < self.slow_rate
        if slow:
            span.set_attribute("example.fault", "slow")
            self.injected["slow"] += 1
            await asyncio.sleep(self.slow_s)
        if self.error_rate and random.random() < self.error_rate:
            span.set_attribute("example.fault", "slow,error" if slow else "error")
            self.injected["error"] += 1
            return True
        return False


MAX_ITEMS = 10_000
"""Users/products kept at most; the oldest go first (a long load stays bounded)."""


def _bounded_put(items: dict[int, dict[str, Any]], item: dict[str, Any]) -> None:
    items[item["id"]] = item
    if len(items) > MAX_ITEMS:
        del items[next(iter(items))]


class Store:
    """Users and products in dicts; ids are increasing integers."""

    def __init__(self) -> None:
        self.users: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        for name, price in (("keyboard", 49.0), ("mouse", 19.5), ("monitor", 199.0), ("cable", 4.25)):
            self.add_product({"name": name, "price": price})

    @staticmethod
    def _check(body: Any, fields: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        for key, kind in fields.items():
            if not isinstance(body.get(key), kind):
                raise ValueError(f"field {key!r} is missing or has the wrong type")
        return body

    def add_user(self, body: Any) -> dict[str, Any]:
        data = self._check(body, {"name": str, "email": str})
        user = {"id": next(self._ids), "name": data["name"], "email": data["email"]}
        _bounded_put(self.users, user)
        return user

    def add_product(self, body: Any) -> dict[str, Any]:
        data = self._check(body, {"name": str, "price": (int, float)})
        product = {"id": next(self._ids), "name": data["name"], "price": float(data["price"])}
        _bounded_put(self.products, product)
        return product

    @staticmethod
    def page(items: dict[int, dict[str, Any]], limit: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items.values():
            if len(out) >= limit:
                break
            out.append(item)
        return out
