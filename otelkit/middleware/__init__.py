"""Tracing middleware and helpers for ASGI, aiohttp, WebSocket and Kafka."""
