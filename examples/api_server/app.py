"""The example HTTP API on Starlette: run with ``uvicorn --factory examples.api_server.app:create_app``.

Routes: ``GET /health``; ``POST/GET /users``, ``GET /users/{id}``; ``POST/GET /products``,
``GET /products/{id}`` (fault-injected); ``POST /payment`` and ``POST /checkout``
(important paths, fault-injected, with child spans); ``GET /_otelkit/stats`` (pipeline
statistics, span counts and process CPU seconds, for the demo) and ``POST /_otelkit/flush``.

Configured by environment variables only: ``OTELKIT_EXAMPLE_TRACING`` picks the pipeline
(see :mod:`examples.tracing`), the ``OTEL_*``/``OTELKIT_*`` variables configure it and
``OTELKIT_EXAMPLE_*`` set fault rates and the pool size.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from examples import settings
from examples.api_server.store import IMPORTANT_PATHS, Faults, Store, make_pool, render_json_list
from examples.tracing import Tracing, setup_tracing

__all__ = ["create_app", "build_routes"]

SERVICE_NAME = "example-api"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None


def build_routes(tracing: Tracing, environ: Mapping[str, str] | None = None) -> list[Route]:
    """The API's routes over a fresh store, traced by ``tracing``."""
    store = Store()
    faults = Faults(environ)
    pool = make_pool(settings.OTELKIT_EXAMPLE_POOL_SIZE.get(environ))
    tracer = tracing.tracer("examples.api_server")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def _limit(request: Request) -> int:
        try:
            return max(1, min(100, int(request.query_params.get("limit", "20"))))
        except ValueError:
            return 20

    async def create(request: Request) -> Response:
        kind = request.url.path.strip("/")
        try:
            item = (store.add_user if kind == "users" else store.add_product)(await _json_body(request))
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse(item, status_code=201)

    async def list_items(request: Request) -> Response:
        items = store.users if request.url.path.strip("/") == "users" else store.products
        return Response(render_json_list(pool, Store.page(items, _limit(request))), media_type="application/json")

    async def get_user(request: Request) -> Response:
        user = store.users.get(request.path_params["item_id"])
        return JSONResponse(user) if user else _error(404, "no such user")

    async def get_product(request: Request) -> Response:
        if await faults.inject():
            return _error(500, "injected failure")
        product = store.products.get(request.path_params["item_id"])
        return JSONResponse(product) if product else _error(404, "no such product")

    async def payment(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("amount"), (int, float)):
            return _error(400, "field 'amount' is missing or not a number")
        if await faults.inject():
            return _error(500, "injected failure")
        with tracer.start_as_current_span("payment.authorize") as span:
            span.set_attribute("payment.amount", float(body["amount"]))
        return JSONResponse({"status": "authorized", "amount": body["amount"]})

    async def checkout(request: Request) -> Response:
        body = await _json_body(request)
        ids = body.get("product_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return _error(400, "field 'product_ids' must be a non-empty list")
        with tracer.start_as_current_span("inventory.reserve") as span:
            span.set_attribute("inventory.items", len(ids))
            missing = [i for i in ids if i not in store.products]
        if missing:
            return _error(404, f"no such product(s): {missing[:5]}")
        if await faults.inject():
            return _error(500, "injected failure")
        total = sum(store.products[i]["price"] for i in ids)
        with tracer.start_as_current_span("payment.authorize") as span:
            span.set_attribute("payment.amount", total)
        return JSONResponse({"status": "paid", "total": total, "items": len(ids)})

    async def stats(request: Request) -> Response:
        data = {**tracing.stats(), "faults": dict(faults.injected)}
        return Response(json.dumps(data, default=str), media_type="application/json")

    async def flush(request: Request) -> Response:
        return JSONResponse({"flushed": tracing.flush()})

    return [
        Route("/health", health),
        Route("/users", create, methods=["POST"]),
        Route("/users", list_items, methods=["GET"]),
        Route("/users/{item_id:int}", get_user),
        Route("/products", create, methods=["POST"]),
        Route("/products", list_items, methods=["GET"]),
        Route("/products/{item_id:int}", get_product),
        Route(IMPORTANT_PATHS[0], payment, methods=["POST"]),
        Route(IMPORTANT_PATHS[1], checkout, methods=["POST"]),
        Route("/_otelkit/stats", stats),
        Route("/_otelkit/flush", flush, methods=["POST"]),
    ]


def create_app(environ: Mapping[str, str] | None = None) -> Any:
    """The traced ASGI application (a uvicorn ``--factory``)."""
    tracing = setup_tracing(SERVICE_NAME, environ)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        tracing.shutdown()

    app = Starlette(routes=build_routes(tracing, environ), lifespan=lifespan)
    return tracing.wrap_asgi(app)
