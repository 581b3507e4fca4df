"""Carriers (``textmap.Getter``/``Setter``) for ASGI, aiohttp, WebSocket and Kafka.

One module per carrier; each imports its framework lazily or not at all, so importing a
carrier never pulls in a framework the application does not use. The public names are
re-exported here lazily too: ``from otelkit.propagation import kafka_getter`` imports only
:mod:`otelkit.propagation.kafka`.
"""

from __future__ import annotations

from otelkit._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # ASGI scope headers (otelkit.propagation.asgi)
    "ASGIGetter": "otelkit.propagation.asgi",
    "ASGISetter": "otelkit.propagation.asgi",
    "HeaderIndexGetter": "otelkit.propagation.asgi",
    "asgi_getter": "otelkit.propagation.asgi",
    "asgi_setter": "otelkit.propagation.asgi",
    "header_index": "otelkit.propagation.asgi",
    "index_headers": "otelkit.propagation.asgi",
    "index_getter": "otelkit.propagation.asgi",
    # aiohttp server request / client request headers (otelkit.propagation.aiohttp)
    "AiohttpRequestGetter": "otelkit.propagation.aiohttp",
    "AiohttpHeadersSetter": "otelkit.propagation.aiohttp",
    "aiohttp_request_getter": "otelkit.propagation.aiohttp",
    "aiohttp_headers_setter": "otelkit.propagation.aiohttp",
    # WebSocket handshake headers and message envelope (otelkit.propagation.websocket)
    "ENVELOPE_FIELD": "otelkit.propagation.websocket",
    "BINARY_MAGIC": "otelkit.propagation.websocket",
    "BINARY_VERSION": "otelkit.propagation.websocket",
    "MAX_ENVELOPE_BYTES": "otelkit.propagation.websocket",
    "WebSocketHeadersGetter": "otelkit.propagation.websocket",
    "websocket_headers_getter": "otelkit.propagation.websocket",
    "wrap": "otelkit.propagation.websocket",
    "unwrap": "otelkit.propagation.websocket",
    "inject_json": "otelkit.propagation.websocket",
    "extract_json": "otelkit.propagation.websocket",
    # Kafka record headers (otelkit.propagation.kafka)
    "KafkaHeadersGetter": "otelkit.propagation.kafka",
    "KafkaHeadersSetter": "otelkit.propagation.kafka",
    "kafka_getter": "otelkit.propagation.kafka",
    "kafka_setter": "otelkit.propagation.kafka",
}

__all__ = [*_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
