"""Route templates resolved before the server span starts (Starlette-style routers).

The head sampler keys traces by ``http.route`` + ``http.request.method``; an attribute set
after routing comes too late for it. :class:`RouteResolver` matches the request scope
against the application's routes the way Starlette's ``Router`` does (first ``FULL`` match,
else the first ``PARTIAL`` one, which Starlette answers with 405), recursing into ``Mount``
routes, and caches the template per ``(method, path)`` in a bounded FIFO dict, so a repeated
request costs one dict lookup. Starlette is imported lazily and only when the application
has a Starlette-like router; anything else resolves to ``None`` and the middleware keeps
reading the route after routing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DEFAULT_CACHE_SIZE", "RouteResolver", "routes_of"]

DEFAULT_CACHE_SIZE = 2048
"""Most ``(method, path)`` entries cached; the oldest is evicted first."""

_MAX_WRAPPER_DEPTH = 8
_MAX_MOUNT_DEPTH = 4
_PATH_SUFFIX = "/{path}"  # what compile_path appends to a Mount's own path_format


def routes_of(app: Any) -> Sequence[Any] | None:
    """The route list of a Starlette-like ``app`` (``.router.routes`` or ``.routes``), or ``None``.

    Follows ``.app`` through up to 8 wrapping middleware; only lists whose items all have a
    callable ``matches`` count.
    """
    for _ in range(_MAX_WRAPPER_DEPTH):
        if app is None:
            return None
        router = getattr(app, "router", None)
        routes = getattr(router, "routes", None) if router is not None else None
        if routes is None:
            routes = getattr(app, "routes", None)
        if isinstance(routes, list):
            return routes if all(callable(getattr(r, "matches", None)) for r in routes) else None
        app = getattr(app, "app", None)
    return None


class RouteResolver:
    """Resolve a request scope to its route template before the application runs.

    Args:
        app: the wrapped ASGI application; its routes are found once, lazily.
        cache_size: most ``(method, path)`` results kept (default 2048, must be >= 1).

    Raises:
        ValueError: ``cache_size`` is not a positive int.
    """

    def __init__(self, app: Any, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size {cache_size!r} is invalid: expected an int >= 1")
        self._app = app
        self._cache_size = cache_size
        self._cache: dict[tuple[str, str], str | None] = {}
        self._routes: Sequence[Any] | None = None
        self._looked = False
        self._match: Any = None  # starlette.routing.Match, imported on first use

    def __call__(self, scope: Mapping[str, Any]) -> str | None:
        """The route template for ``scope`` (HTTP), or ``None`` when unknown; never raises."""
        key = (scope.get("method") or "", scope.get("path") or "")
        cache = self._cache
        try:
            return cache[key]
        except KeyError:
            pass
        try:
            routes = self._routes_for(scope)
            template = self._resolve(routes, scope, 0) if routes else None
        except Exception:  # a router we do not understand: fall back to post-routing
            return None
        if len(cache) >= self._cache_size:
            try:
                del cache[next(iter(cache))]
            except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                pass
        cache[key] = template
        return template

    def _routes_for(self, scope: Mapping[str, Any]) -> Sequence[Any] | None:
        if not self._looked:
            self._looked = True
            self._routes = routes_of(self._app)
        if self._routes is not None:
            return self._routes
        return routes_of(scope.get("app"))  # we sit inside Starlette's middleware stack

    def _resolve(self, routes: Sequence[Any], scope: Mapping[str, Any], depth: int) -> str | None:
        if self._match is None:
            from starlette.routing import Match

            self._match = Match
        full, partial = self._match.FULL, self._match.PARTIAL
        partial_route: tuple[Any, Mapping[str, Any]] | None = None
        for route in routes:
            match, child = route.matches(scope)
            if match is full:
                return self._template(route, scope, child, depth)
            if match is partial and partial_route is None:
                partial_route = (route, child)
        if partial_route is not None:
            return self._template(partial_route[0], scope, partial_route[1], depth)
        return None

    def _template(self, route: Any, scope: Mapping[str, Any], child: Mapping[str, Any], depth: int) -> str | None:
        fmt = getattr(route, "path_format", None)
        if not isinstance(fmt, str):
            return None
        inner = getattr(route, "routes", None)
        if not fmt.endswith(_PATH_SUFFIX) or inner is None:  # a plain Route (or WebSocketRoute)
            return fmt or None
        # a Mount: its prefix, then the template matched by its own router
        if depth >= _MAX_MOUNT_DEPTH or not isinstance(inner, list) or not inner:
            return None
        rest = self._resolve(inner, {**scope, **child}, depth + 1)
        return fmt[: -len(_PATH_SUFFIX)] + rest if rest else None
