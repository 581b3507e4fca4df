"""Carriers (``textmap.Getter``/``Setter``) for ASGI, aiohttp, WebSocket and Kafka.

One module per carrier; each imports its framework lazily or not at all, so importing a
carrier never pulls in a framework the application does not use.
"""
