"""The adaptive sampler's key of a root span, and how a key is shown in ``stats()``."""

from __future__ import annotations

from opentelemetry.semconv.attributes.http_attributes import HTTP_REQUEST_METHOD, HTTP_ROUTE
from opentelemetry.util.types import Attributes

__all__ = ["span_key", "show_key"]


def span_key(name: str, attributes: Attributes, key_attrs: tuple[str, ...] | None) -> object:
    """``key_attrs``' values (None: method + ``http.route``), else the span name."""
    if not attributes:
        return name
    if key_attrs is None:
        route = attributes.get(HTTP_ROUTE)
        if route is None:
            return name
        method = attributes.get(HTTP_REQUEST_METHOD)
        route = route if type(route) is str else str(route)
        return route if method is None else (str(method), route)
    values = tuple(attributes.get(k) for k in key_attrs)
    if all(v is None for v in values):
        return name
    return tuple(None if v is None else str(v) for v in values)


def show_key(key: object) -> str:
    """A key as text: tuple parts joined by spaces."""
    if isinstance(key, tuple):
        return " ".join(str(part) for part in key if part is not None)
    return str(key)
