"""The example HTTP API on aiohttp: ``python -m examples.api_server.aiohttp_app --port 8081``.

Same routes, store and fault injection as the Starlette app. Traced by
``otelkit.aiohttp_tracing_middleware`` when available; otherwise by contrib's aiohttp
server middleware (stock mode always uses contrib's).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from examples import settings
from examples.api_server.store import IMPORTANT_PATHS, Faults, Store, make_pool, render_json_list
from examples.tracing import EXCLUDED_PATHS, Tracing, setup_tracing

__all__ = ["create_app", "main"]

SERVICE_NAME = "example-api-aiohttp"


def _middlewares(tracing: Tracing) -> list[Any]:
    if tracing.provider is None:
        return []
    if tracing.mode == "otelkit":
        try:
            from otelkit import aiohttp_tracing_middleware
        except (ImportError, AttributeError):
            pass
        else:
            tracing.middleware = "otelkit"
            try:
                return [aiohttp_tracing_middleware(tracer_provider=tracing.provider, excluded_paths=list(EXCLUDED_PATHS))]
            except TypeError:  # a factory without these options: its defaults, global provider
                return [aiohttp_tracing_middleware()]
    import os

    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

    # contrib's middleware only works after instrument(), which reads its exclusions from
    # the environment and patches web.Application to add the middleware itself.
    os.environ.setdefault("OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS", ",".join(EXCLUDED_PATHS))
    AioHttpServerInstrumentor().instrument(tracer_provider=tracing.provider)
    tracing.middleware = "contrib"
    return []


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def create_app(environ: Mapping[str, str] | None = None) -> web.Application:
    """The traced aiohttp application."""
    tracing = setup_tracing(SERVICE_NAME, environ)
    store, faults = Store(), Faults(environ)
    pool = make_pool(settings.OTELKIT_EXAMPLE_POOL_SIZE.get(environ))
    tracer = tracing.tracer("examples.api_server.aiohttp")
    routes = web.RouteTableDef()

    @routes.get("/health")
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @routes.post("/users")
    @routes.post("/products")
    async def create(request: web.Request) -> web.Response:
        add = store.add_user if request.path == "/users" else store.add_product
        try:
            return web.json_response(add(await _body(request)), status=201)
        except ValueError as exc:
            return _error(400, str(exc))

    @routes.get("/users")
    @routes.get("/products")
    async def list_items(request: web.Request) -> web.Response:
        items = store.users if request.path == "/users" else store.products
        try:
            limit = max(1, min(100, int(request.query.get("limit", "20"))))
        except ValueError:
            limit = 20
        return web.Response(body=render_json_list(pool, Store.page(items, limit)), content_type="application/json")

    @routes.get(r"/users/{item_id:\d+}")
    async def get_user(request: web.Request) -> web.Response:
        user = store.users.get(int(request.match_info["item_id"]))
        return web.json_response(user) if user else _error(404, "no such user")

    @routes.get(r"/products/{item_id:\d+}")
    async def get_product(request: web.Request) -> web.Response:
        if await faults.inject():
            return _error(500, "injected failure")
        product = store.products.get(int(request.match_info["item_id"]))
        return web.json_response(product) if product else _error(404, "no such product")

    @routes.post(IMPORTANT_PATHS[0])
    async def payment(request: web.Request) -> web.Response:
        body = await _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("amount"), (int, float)):
            return _error(400, "field 'amount' is missing or not a number")
        if await faults.inject():
            return _error(500, "injected failure")
        with tracer.start_as_current_span("payment.authorize") as span:
            span.set_attribute("payment.amount", float(body["amount"]))
        return web.json_response({"status": "authorized", "amount": body["amount"]})

    @routes.get("/_otelkit/stats")
    async def stats(request: web.Request) -> web.Response:
        data = {**tracing.stats(), "faults": dict(faults.injected)}
        return web.Response(text=json.dumps(data, default=str), content_type="application/json")

    @routes.post("/_otelkit/flush")
    async def flush(request: web.Request) -> web.Response:
        return web.json_response({"flushed": tracing.flush()})

    middlewares = _middlewares(tracing)  # before web.Application is looked up (contrib patches it)
    app = web.Application(middlewares=middlewares)
    app.add_routes(routes)

    async def _shutdown(app: web.Application) -> None:
        tracing.shutdown()

    app.on_cleanup.append(_shutdown)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    web.run_app(create_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
