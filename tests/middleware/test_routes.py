from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router, WebSocketRoute

from otelkit.middleware._routes import RouteResolver, routes_of


async def endpoint(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def scope(path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", **extra}


class CountingRoute(Route):
    calls = 0

    def matches(self, scope: Any) -> Any:
        CountingRoute.calls += 1
        return super().matches(scope)


APP = Starlette(routes=[
    Route("/users/{user_id:int}", endpoint),
    Route("/users", endpoint, methods=["POST"]),
    Route("/users", endpoint, methods=["GET"]),
    WebSocketRoute("/ws", endpoint),
    Mount("/api", routes=[Route("/items/{item_id}", endpoint),
                          Mount("/v2", routes=[Route("/orders/{order}", endpoint)])]),
    Mount("/org/{org:int}", routes=[Route("/team", endpoint)]),
    Mount("/static", app=endpoint),
])


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/users/42", "/users/{user_id}"),
        ("GET", "/users/abc", None),  # the int convertor does not match
        ("POST", "/users", "/users"),
        ("DELETE", "/users", "/users"),  # PARTIAL: Starlette answers 405 from this route
        ("GET", "/ws", None),  # a WebSocket route never matches an HTTP scope
        ("GET", "/api/items/x", "/api/items/{item_id}"),
        ("GET", "/api/v2/orders/9", "/api/v2/orders/{order}"),
        ("GET", "/org/7/team", "/org/{org}/team"),
        ("GET", "/static/logo.png", None),  # a mounted app without routes: left to post-routing
        ("GET", "/nowhere", None),
    ],
)
def test_resolves_like_starlettes_router(method: str, path: str, template: str | None) -> None:
    assert RouteResolver(APP)(scope(path, method)) == template


@pytest.mark.parametrize("app", [APP, APP.router, Router(routes=APP.routes)])
def test_routes_found_on_app_router_or_routes(app: Any) -> None:
    assert routes_of(app) == APP.routes


def test_routes_found_through_wrapping_middleware() -> None:
    class Wrapper:
        def __init__(self, app: Any) -> None:
            self.app = app

    assert routes_of(Wrapper(Wrapper(APP))) is APP.router.routes


@pytest.mark.parametrize("app", [None, object(), lambda s, r, w: None, type("R", (), {"routes": [object()]})()])
def test_non_starlette_apps_resolve_to_none(app: Any) -> None:
    assert RouteResolver(app)(scope("/users/1")) is None


def test_falls_back_to_scope_app_when_wrapped_app_has_no_routes() -> None:
    resolver = RouteResolver(object())
    assert resolver(scope("/users/3", app=APP)) == "/users/{user_id}"


def test_repeated_requests_are_answered_from_the_cache() -> None:
    CountingRoute.calls = 0
    resolver = RouteResolver(Starlette(routes=[CountingRoute("/a", endpoint), CountingRoute("/b/{x}", endpoint)]))
    for _ in range(50):
        assert resolver(scope("/b/1")) == "/b/{x}"
    assert CountingRoute.calls == 2  # one scan on the first request only


def test_cache_is_bounded_and_evicts_oldest_first() -> None:
    CountingRoute.calls = 0
    resolver = RouteResolver(Starlette(routes=[CountingRoute("/b/{x}", endpoint)]), cache_size=3)
    for i in range(10):
        resolver(scope(f"/b/{i}"))
    assert len(resolver._cache) == 3
    assert list(resolver._cache) == [("GET", "/b/7"), ("GET", "/b/8"), ("GET", "/b/9")]
    resolver(scope("/b/9"))
    assert CountingRoute.calls == 10


def test_method_is_part_of_the_cache_key() -> None:
    resolver = RouteResolver(Starlette(routes=[Route("/x", endpoint, methods=["GET"]),
                                               Route("/x/{id}", endpoint)]))
    assert resolver(scope("/x", "GET")) == "/x"
    assert resolver(scope("/x/1", "POST")) == "/x/{id}"


def test_a_raising_route_resolves_to_none_and_is_not_cached() -> None:
    class Broken(Route):
        def matches(self, scope: Any) -> Any:
            raise RuntimeError("broken router")

    resolver = RouteResolver(Starlette(routes=[Broken("/a", endpoint)]))
    assert resolver(scope("/a")) is None
    assert resolver._cache == {}


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "10"])
def test_bad_cache_size_raises_value_error(size: Any) -> None:
    with pytest.raises(ValueError, match="cache_size"):
        RouteResolver(APP, cache_size=size)
