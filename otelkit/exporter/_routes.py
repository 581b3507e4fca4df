"""Small-int routes for held spans: what a span's resource and scope are, without a reference.

A span held as bytes still needs its ``(resource, scope)`` to be grouped into a request. A
reference to those objects (or a tuple of them) makes every held span a GC-tracked
container that each collection walks; a small ``int`` is not a container. :class:`Routes`
hands out one int per *content* of ``(resource, scope)``: two pairs share a route only when
they are equal as the SDK's ``encode_spans`` compares them (its dict keys) **and** encode to
the same bytes, so whichever of them a request uses for the header, the bytes are the same.
Spans of equal pairs with different bytes (a scope equal by name/version but with other
attributes) get different routes and are merged per request, first seen first, exactly as
the SDK merges them (:func:`otelkit.exporter._request.group_spans`).

The number of routes is bounded by the distinct contents an application uses, not by how
many resource or scope objects it creates (a ``get_tracer`` call per request makes a new,
equal scope each time: same route). Past :data:`MAX_ROUTES` distinct contents, a span's
route is the ``(resource, scope)`` tuple itself: correct, only GC-visible again.

Example::

    routes = Routes(encoder)
    r = routes.route(span.resource, span.instrumentation_scope)   # an int
    resource, scope = routes.pair(r)
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["Routes", "MAX_ROUTES", "Route"]

MAX_ROUTES = 4096
"""Distinct ``(resource, scope)`` contents given an int route; later ones route by tuple."""

_IDENTITY_CACHE = 1024  # scope objects remembered by identity (cleared when full)

Route = Any
"""An ``int`` (usually), or a ``(resource, scope)`` tuple past :data:`MAX_ROUTES`."""


class Routes:
    """Thread-safe registry ``(resource, scope) <-> route``.

    Args:
        encoder: gives the cached encodings compared with ``resource_bytes`` /
            ``scope_bytes`` (a :class:`~otelkit.exporter.encoder.SpanEncoder`).
    """

    def __init__(self, encoder: Any) -> None:
        self._encoder = encoder
        self._lock = threading.Lock()
        self.pairs: list[tuple[Any, Any]] = []  # route -> its first (resource, scope)
        self._by_content: dict[tuple[Any, ...], int] = {}
        # id(scope) -> (scope, resource, route): strong refs keep the ids from being reused
        self.by_scope: dict[int, tuple[Any, Any, Route]] = {}

    def route(self, resource: Any, scope: Any) -> Route:
        """The route of ``(resource, scope)`` (``scope`` ``None`` when the span has none)."""
        hit = self.by_scope.get(id(scope))
        if hit is not None and hit[0] is scope and hit[1] is resource:
            return hit[2]
        enc = self._encoder
        key = (resource, enc.resource_bytes(resource), resource.schema_url,
               scope, enc.scope_bytes(scope), scope.schema_url if scope is not None else None)
        with self._lock:
            route: Route = self._by_content.get(key)
            if route is None:
                if len(self.pairs) < MAX_ROUTES:
                    route = len(self.pairs)
                    self.pairs.append((resource, scope))
                    self._by_content[key] = route
                else:
                    route = (resource, scope)
            if len(self.by_scope) >= _IDENTITY_CACHE:
                self.by_scope.clear()
            self.by_scope[id(scope)] = (scope, resource, route)
        return route

    def pair(self, route: Route) -> tuple[Any, Any]:
        """``(resource, scope)`` of ``route``."""
        return self.pairs[route] if type(route) is int else route
