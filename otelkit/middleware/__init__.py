"""Tracing middleware and helpers for ASGI, aiohttp, WebSocket and Kafka.

The public names are re-exported here lazily: ``from otelkit.middleware import
ASGITracingMiddleware`` imports :mod:`otelkit.middleware.asgi` only, and importing this
package imports no web framework or Kafka client.
"""

from __future__ import annotations

from otelkit._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # ASGI (HTTP and WebSocket) middleware (otelkit.middleware.asgi)
    "ASGITracingMiddleware": "otelkit.middleware.asgi",
    "route_of": "otelkit.middleware.asgi",
    "CLOSE_CODE": "otelkit.middleware.asgi",
    "MESSAGE_CONTEXT_KEY": "otelkit.middleware.asgi",
    "MESSAGE_TYPE": "otelkit.middleware.asgi",
    "MESSAGES_RECEIVED": "otelkit.middleware.asgi",
    "MESSAGES_SENT": "otelkit.middleware.asgi",
    # aiohttp server middleware and client trace config (otelkit.middleware.aiohttp)
    "aiohttp_tracing_middleware": "otelkit.middleware.aiohttp",
    "aiohttp_client_trace_config": "otelkit.middleware.aiohttp",
    # websockets library servers and the message envelope (otelkit.middleware.websocket)
    "traced_handler": "otelkit.middleware.websocket",
    "send_traced": "otelkit.middleware.websocket",
    "recv_traced": "otelkit.middleware.websocket",
    # Kafka producers (otelkit.middleware.kafka_producer)
    "aiokafka_send": "otelkit.middleware.kafka_producer",
    "kafka_python_send": "otelkit.middleware.kafka_producer",
    "confluent_produce": "otelkit.middleware.kafka_producer",
    "producer_span": "otelkit.middleware.kafka_producer",
    # Kafka consumers (otelkit.middleware.kafka_consumer)
    "LINKS_DROPPED": "otelkit.middleware.kafka_consumer",
    "process_span": "otelkit.middleware.kafka_consumer",
    "process_batch": "otelkit.middleware.kafka_consumer",
    "aiokafka_getmany": "otelkit.middleware.kafka_consumer",
    "kafka_python_poll": "otelkit.middleware.kafka_consumer",
    "confluent_consume": "otelkit.middleware.kafka_consumer",
    "producer_context": "otelkit.middleware.kafka_consumer",
}

__all__ = [*_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
