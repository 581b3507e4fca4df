"""Attribute lookup shared by the attribute policies: span attributes, then resource ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from otelkit.tail.policy import TraceView

__all__ = ["attribute_values", "check_key"]


def attribute_values(trace: TraceView, key: str) -> Iterator[Any]:
    """Every value of ``key`` on the trace's spans and their resources (resource once)."""
    seen_resources: set[int] = set()
    for span in trace.spans:
        attrs = span.attributes
        if attrs is not None and key in attrs:
            yield attrs[key]
        resource = span.resource
        if id(resource) not in seen_resources:
            seen_resources.add(id(resource))
            if key in resource.attributes:
                yield resource.attributes[key]


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"key {key!r} is invalid: expected a non-empty attribute name")
    return key
