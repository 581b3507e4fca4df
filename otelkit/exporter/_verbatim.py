"""A resource and a scope read off the wire that encode to the bytes they were read from.

The tail worker forwards kept spans as the ``Span`` bytes they arrived in; their resource and
scope must go out as they arrived too. Rebuilt from decoded values they would not: otelkit's
attribute model has no kvlist and renders bytes as hex, and a producer may set fields
otelkit does not model (``dropped_attributes_count``, entity refs). :class:`VerbatimResource`
and :class:`VerbatimScope` are the SDK's ``Resource`` and ``InstrumentationScope`` (their
decoded attributes serve the tail policies and exporters without ``export_encoded``) that
carry their original message bytes. :class:`~otelkit.exporter.encoder.SpanEncoder` writes
those bytes for them, so every request path (``request_parts``, ``split_requests``,
routes) is byte-exact without a second one.

Equality is by the bytes (and schema URL): two resources that decode alike but arrived as
different bytes (a bytes value and its hex as a string) stay apart in routes and requests.

Example::

    res = VerbatimResource(pb_resource_bytes, {"service.name": "a"}, "")
    SpanEncoder().resource_bytes(res)  # b"\\x0a" + length + pb_resource_bytes
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.util.types import Attributes

from otelkit.exporter._wire import length_prefixed

__all__ = ["VerbatimResource", "VerbatimScope"]


def _field(message: bytes | None) -> bytes:
    """Field 1 (``resource`` of ``ResourceSpans``, ``scope`` of ``ScopeSpans``) holding
    ``message``; ``b""`` when the field was absent (``None``)."""
    return b"" if message is None else b"\x0a" + length_prefixed(message)


class VerbatimResource(Resource):
    """A ``Resource`` whose encoding is ``field``, the ``ResourceSpans.resource`` field it
    was read from (``b""`` when the request had none).

    Args:
        message: the ``Resource`` message bytes, or ``None`` when the field was absent.
        attributes, schema_url: the decoded values (read by policies and other exporters).
    """

    def __init__(self, message: bytes | None, attributes: Mapping[str, Any], schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self.field = _field(message)

    def __eq__(self, other: object) -> bool:
        return (type(other) is VerbatimResource and self.field == other.field
                and self.schema_url == other.schema_url)

    def __hash__(self) -> int:
        return hash((self.field, self.schema_url))


class VerbatimScope(InstrumentationScope):
    """An ``InstrumentationScope`` whose encoding is ``field``, the ``ScopeSpans.scope``
    field it was read from (``b""`` when the request had none).

    Args:
        message: the ``InstrumentationScope`` message bytes, or ``None`` when absent.
        name, version, schema_url, attributes: the decoded values.
    """

    __slots__ = ("field",)

    def __init__(self, message: bytes | None, name: str, version: str | None = None, schema_url: str | None = None,
                 attributes: Attributes = None) -> None:
        super().__init__(name, version, schema_url, attributes)
        self.field = _field(message)

    def __eq__(self, other: object) -> bool:
        return (type(other) is VerbatimScope and self.field == other.field
                and self.schema_url == other.schema_url)

    def __hash__(self) -> int:
        return hash((self.field, self.schema_url))
