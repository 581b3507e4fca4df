"""aiohttp carriers: a getter over a server ``web.Request`` and a setter for client headers.

Contrib's ``AiohttpGetter.keys()`` returns ``list(request.keys())`` -- the request's
app-storage keys, not its headers -- so propagators that iterate keys (``ot-trace``
baggage, custom ones) see nothing. :class:`AiohttpRequestGetter.keys` returns header names.
aiohttp itself is not imported: the getter works on anything with a ``headers`` mapping
(``CIMultiDictProxy``), and the setter on any mutable mapping (``CIMultiDict``, ``dict``).

Example::

    from opentelemetry import propagate
    from otelkit.propagation.aiohttp import aiohttp_request_getter

    ctx = propagate.extract(request, getter=aiohttp_request_getter)
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from opentelemetry.propagators import textmap

from otelkit._warn import warn_limited
from otelkit.propagation._common import header_text

__all__ = [
    "AiohttpRequestGetter",
    "AiohttpHeadersSetter",
    "aiohttp_request_getter",
    "aiohttp_headers_setter",
]

_logger = logging.getLogger("otelkit.propagation")


def _headers(carrier: object) -> Any:
    """The carrier's header mapping: ``request.headers``, or the carrier itself if it is one."""
    headers = getattr(carrier, "headers", None)
    return carrier if headers is None else headers


class AiohttpRequestGetter(textmap.Getter[Any]):
    """Getter over an aiohttp server request (or a bare ``CIMultiDict``/``dict`` of headers)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        """The value of header ``key`` (case-insensitive), repeats joined with ``","``, or ``None``."""
        try:
            headers = _headers(carrier)
            getall = getattr(headers, "getall", None)
            if getall is not None:
                values = getall(key, None)
            else:
                value = headers.get(key)
                if value is None:
                    value = headers.get(key.lower())
                values = None if value is None else [value]
            if not values:
                return None
            texts = [t for t in (header_text(v, key) for v in values) if t is not None]
        except Exception as exc:
            warn_limited(_logger, "aiohttp-get", "cannot read header %r from %s (%s); ignoring it",
                         key, type(carrier).__name__, exc)
            return None
        if not texts:
            return None
        return [texts[0] if len(texts) == 1 else ",".join(texts)]

    def keys(self, carrier: Any) -> list[str]:
        """Header names, each once, in arrival order (not the request's storage keys)."""
        try:
            return list(dict.fromkeys(str(k) for k in _headers(carrier).keys()))
        except Exception:
            return []


class AiohttpHeadersSetter(textmap.Setter[MutableMapping[str, str]]):
    """Setter for outgoing client headers (``CIMultiDict`` or ``dict``); replaces existing values."""

    def set(self, carrier: MutableMapping[str, str], key: str, value: str) -> None:
        """Set ``key`` to ``value``; an immutable carrier is warned about, never raised on."""
        try:
            carrier[key] = value
        except Exception as exc:
            warn_limited(_logger, "aiohttp-set", "cannot set header %r on %s (%s); skipping it",
                         key, type(carrier).__name__, exc)


aiohttp_request_getter = AiohttpRequestGetter()
aiohttp_headers_setter = AiohttpHeadersSetter()
